// The AsyncAPI 3 document of the live WebSocket (generated/asyncapi.json and .yaml, served at /asyncapi.json),
// written from the bundled contract, never by hand: each operation with `x-websocket` is a channel at its path;
// the `oneOf` branches of its client and server message schemas are its messages; and its `event` message is
// one message per event type of the catalogue (`EventType`, with its `x-channel`), whose `data` is the payload
// schema of the webhook of the same name, so the socket, the SSE stream and the webhooks show one event the same
// way. Every schema is copied from the contract's components.schemas (the `#/components/schemas/…` references
// stay valid), so nothing is written twice. The document describes the server: it receives what clients send
// and sends the rest.

type Json = unknown;
type JsonObject = Record<string, Json>;

const SCHEMA_REF = '#/components/schemas/';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch'];

const ref = (name: string) => ({ $ref: `${SCHEMA_REF}${name}` });
const refName = (node: Json): string | undefined => {
  const target = (node as { $ref?: unknown } | undefined)?.$ref;
  return typeof target === 'string' && target.startsWith(SCHEMA_REF) ? target.slice(SCHEMA_REF.length) : undefined;
};
const upperFirst = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** Every component schema `roots` use, directly or through others. */
function schemasUsedBy(roots: Json[], schemas: Record<string, JsonObject>): string[] {
  const seen = new Set<string>();
  const visit = (node: Json): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const name = refName(node);
    if (name !== undefined && !seen.has(name)) {
      if (!schemas[name]) throw new Error(`asyncapi: ${SCHEMA_REF}${name} is no schema of the contract`);
      seen.add(name);
      visit(schemas[name]);
    }
    Object.values(node).forEach(visit);
  };
  roots.forEach(visit);
  return [...seen].sort();
}

interface MessageBranch extends JsonObject {
  title: string;
  description: string;
  properties: { type: { const: string } } & JsonObject;
}

/** The branches of a message schema, each told apart by its `type` constant. */
function branchesOf(name: string, schemas: Record<string, JsonObject>): MessageBranch[] {
  const branches = schemas[name]?.oneOf as MessageBranch[] | undefined;
  if (!branches?.every((b) => typeof b.title === 'string' && typeof b.properties?.type?.const === 'string')) {
    throw new Error(`asyncapi: ${name} must be a oneOf of titled objects, each with a constant \`type\``);
  }
  return branches;
}

interface EventTypeEntry {
  const: string;
  description: string;
  'x-channel': string;
}

export function asyncApiOf(spec: JsonObject): JsonObject {
  const components = spec.components as { schemas: Record<string, JsonObject> };
  const schemas = components.schemas;
  const webhooks = (spec.webhooks ?? {}) as Record<string, { post?: { requestBody?: { content?: Record<string, { schema?: Json; examples?: Record<string, { value?: Json }> }> } } }>;
  const info = spec.info as JsonObject;
  const catalogue = (schemas.EventType?.oneOf ?? []) as EventTypeEntry[];

  const channels: JsonObject = {};
  const operations: JsonObject = {};
  const messages: JsonObject = {};
  const messageSchemas: Record<string, JsonObject> = {};

  for (const [path, item] of Object.entries(spec.paths as Record<string, Record<string, JsonObject>>)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      const declared = operation?.['x-websocket'] as { client: Json; server: Json } | undefined;
      if (!operation || !declared) continue;
      const channelId = String(operation.operationId);
      const channelMessages: JsonObject = {};
      const add = (id: string, message: JsonObject, action: 'send' | 'receive') => {
        messages[id] = message;
        channelMessages[id] = { $ref: `#/components/messages/${id}` };
        operations[`${action}${upperFirst(id.replace(/[._-](\w)/g, (_, c: string) => c.toUpperCase()))}`] = {
          action,
          channel: { $ref: `#/channels/${channelId}` },
          summary: message.summary,
          messages: [{ $ref: `#/channels/${channelId}/messages/${id}` }],
        };
      };
      for (const [side, action] of [['client', 'receive'], ['server', 'send']] as const) {
        const name = refName(declared[side]);
        if (!name) throw new Error(`asyncapi: ${channelId}'s x-websocket.${side} must be a $ref to a component schema`);
        const examples = (schemas[name]!.examples ?? []) as Array<{ type?: unknown }>;
        for (const branch of branchesOf(name, schemas)) {
          const type = branch.properties.type.const;
          messageSchemas[branch.title] = branch;
          if (type === 'event' && side === 'server') {
            // One message per event type: the `event` frame with its channel, type and the webhook's payload schema.
            for (const entry of catalogue) {
              const body = webhooks[entry.const]?.post?.requestBody?.content?.['application/json'];
              const data = body?.schema ?? ref('StreamEvent');
              const example = Object.values(body?.examples ?? {})[0]?.value;
              add(
                entry.const,
                {
                  name: entry.const,
                  title: `${entry.const} (${entry['x-channel']})`,
                  summary: entry.description,
                  contentType: 'application/json',
                  payload: {
                    allOf: [ref(branch.title), { type: 'object', properties: { channel: { const: entry['x-channel'] }, event: { const: entry.const }, data } }],
                  },
                  ...(example === undefined ? {} : { examples: [{ name: 'event', payload: { type: 'event', id: '1843', channel: entry['x-channel'], event: entry.const, data: example } }] }),
                },
                'send',
              );
            }
            continue;
          }
          const mine = examples.filter((e) => e.type === type);
          add(type, { name: type, title: branch.title, summary: branch.description, contentType: 'application/json', payload: ref(branch.title), ...(mine.length ? { examples: mine.map((payload) => ({ payload })) } : {}) }, action);
        }
      }
      channels[channelId] = {
        address: path,
        title: String(operation.summary),
        description: String(operation.description),
        messages: channelMessages,
        bindings: { ws: { method: method.toUpperCase(), bindingVersion: '0.1.0' } },
      };
    }
  }

  const used = schemasUsedBy([...Object.values(messageSchemas), ...Object.values(messages)], { ...schemas, ...messageSchemas }).filter((name) => !messageSchemas[name]);
  const servers = (spec.servers ?? []) as Array<{ url: string; description?: string }>;
  const development = servers[0];
  return {
    asyncapi: '3.0.0',
    info: {
      title: `${String(info.title)}: live events`,
      version: info.version,
      description:
        'The live WebSocket of Opsdeck, as the server sees it: the messages it receives from clients and those it sends. ' +
        'It is written from the OpenAPI contract (`/openapi.json`) by `npm run generate`: the WebSocket is its operation `openEventSocket`, ' +
        'and the events are the same as its `webhooks` and its Server-Sent Events stream (`streamEvents`).',
      contact: info.contact,
      license: { name: (info.license as { name: string }).name, url: 'https://www.apache.org/licenses/LICENSE-2.0' },
      externalDocs: { description: 'The REST API, its conventions and its error catalogue', url: `${development?.url ?? ''}/docs` },
    },
    ...(development
      ? { servers: { development: { host: new URL(development.url).host, protocol: 'ws', description: development.description ?? 'The development server.' } } }
      : {}),
    defaultContentType: 'application/json',
    channels,
    operations,
    components: {
      schemas: { ...Object.fromEntries(used.map((name) => [name, schemas[name]])), ...messageSchemas },
      messages,
    },
  };
}
