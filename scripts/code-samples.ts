// Request samples for the docs: every operation of the bundled contract gets Redoc's `x-codeSamples`, a `curl`
// command and the same request through the SDK (`@opsdeck/sdk`), both written here from the operation itself:
// its path, method and security, the examples of its required parameters and the first example of its
// request body. They are never written by hand in spec/: `npm run generate` adds them to generated/ only,
// `npm run generate:check` keeps them in step with the contract, and test/docs/code-samples.test.ts
// type-checks every TypeScript sample against the SDK's sources, so the docs cannot show code that does not
// compile.
//
// The values are the contract's own examples, so a sample pasted against `npm start` or `npm run mock` is a
// well-formed request (the ids are the examples', so against a real server expect a 404 until you put yours).

type Json = unknown;
type JsonObject = Record<string, Json>;

/** One entry of Redoc's `x-codeSamples`. */
export interface CodeSample {
  lang: 'Shell' | 'TypeScript';
  label: 'curl' | 'SDK (TypeScript)';
  source: string;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  style?: string;
  explode?: boolean;
  example?: Json;
  examples?: Record<string, { value?: Json; $ref?: string }>;
  schema?: JsonObject;
}

interface MediaType {
  example?: Json;
  examples?: Record<string, { value?: Json; $ref?: string }>;
}

interface Operation {
  operationId?: string;
  parameters?: Array<Parameter | { $ref: string }>;
  requestBody?: { content?: Record<string, MediaType>; $ref?: string };
  responses?: Record<string, { content?: Record<string, unknown>; $ref?: string }>;
  security?: Array<Record<string, string[]>>;
  [key: string]: Json;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;

/** The environment variables the samples read their credentials from. */
export const CREDENTIALS = {
  token: 'OPSDECK_TOKEN',
  agentKey: 'OPSDECK_AGENT_KEY',
} as const;

function deref<T>(spec: JsonObject, node: T | { $ref: string }): T {
  let current: unknown = node;
  for (let hops = 0; current && typeof current === 'object' && '$ref' in current; hops += 1) {
    const ref = (current as { $ref: string }).$ref;
    if (!ref.startsWith('#/') || hops > 20) throw new Error(`code samples: cannot follow $ref ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((at, key) => (at as JsonObject | undefined)?.[key], spec);
    if (current === undefined) throw new Error(`code samples: $ref ${ref} leads nowhere`);
  }
  return current as T;
}

function firstExample(spec: JsonObject, holder: MediaType | Parameter, where: string): Json {
  if (holder.example !== undefined) return holder.example;
  const first = Object.values(holder.examples ?? {})[0];
  if (first) {
    const example = deref<{ value?: Json }>(spec, first);
    if (example.value !== undefined) return example.value;
  }
  const schema = 'schema' in holder ? holder.schema : undefined;
  if (schema && schema.example !== undefined) return schema.example;
  throw new Error(`code samples: ${where} has no example to show`);
}

/** How the operation's caller authenticates in the samples: nothing, a person's access token, or an agent's key. */
type Credential = 'none' | 'token' | 'agentKey';

function credentialOf(spec: JsonObject, operation: Operation): Credential {
  const requirements = operation.security ?? (spec.security as Operation['security']) ?? [];
  // No requirement, or an empty one among them: the operation can be called without credentials.
  if (requirements.length === 0 || requirements.some((r) => Object.keys(r).length === 0)) return 'none';
  const scopes = requirements.flatMap((r) => Object.values(r).flat());
  // The agent protocol: the host's own agent key (`oak_…`), sent as X-API-Key.
  return scopes.includes('agent:self') ? 'agentKey' : 'token';
}

interface Call {
  operationId: string;
  method: (typeof METHODS)[number];
  path: string;
  credential: Credential;
  /** Required parameters with their example values, by location. */
  params: { path: Array<[string, Json]>; query: Array<[string, Json, Parameter]>; header: Array<[string, Json]> };
  /** `raw`: the body is bytes as they are (`format: binary`), not a value to serialise. */
  body?: { mediaType: string; value: Json; raw: boolean };
  /** The media type of the first success answer (undefined when it has no body). */
  answers?: string;
  /** A WebSocket upgrade (`x-websocket`): its messages follow the handshake. */
  websocket: boolean;
}

function callOf(spec: JsonObject, path: string, pathItem: JsonObject, method: (typeof METHODS)[number], operation: Operation): Call {
  const operationId = operation.operationId ?? `${method.toUpperCase()} ${path}`;
  // Path-level parameters, overridden by the operation's own of the same name and location.
  const byKey = new Map<string, Parameter>();
  for (const raw of [...((pathItem.parameters as Operation['parameters']) ?? []), ...(operation.parameters ?? [])]) {
    const parameter = deref<Parameter>(spec, raw);
    byKey.set(`${parameter.in} ${parameter.name}`, parameter);
  }
  const params: Call['params'] = { path: [], query: [], header: [] };
  for (const parameter of byKey.values()) {
    if (!(parameter.in === 'path' || parameter.required === true)) continue;
    const value = firstExample(spec, parameter, `${operationId} parameter ${parameter.name}`);
    if (parameter.in === 'path') params.path.push([parameter.name, value]);
    else if (parameter.in === 'query') params.query.push([parameter.name, value, parameter]);
    else if (parameter.in === 'header') params.header.push([parameter.name, value]);
    else throw new Error(`code samples: ${operationId} requires a ${parameter.in} parameter, which the samples cannot send`);
  }
  let body: Call['body'];
  if (operation.requestBody) {
    const requestBody = deref<{ content?: Record<string, MediaType> }>(spec, operation.requestBody);
    const [mediaType, content] = Object.entries(requestBody.content ?? {})[0] ?? [];
    const schema = (content as { schema?: { $ref: string } | { format?: string } } | undefined)?.schema;
    const raw = schema !== undefined && deref<{ format?: string }>(spec, schema).format === 'binary';
    if (mediaType && content) body = { mediaType, value: firstExample(spec, content, `${operationId} request body (${mediaType})`), raw };
  }
  const success = Object.entries(operation.responses ?? {}).find(([status]) => /^2\d\d$/.test(status));
  const answers = success ? Object.keys(deref<{ content?: Record<string, unknown> }>(spec, success[1]).content ?? {})[0] : undefined;
  return { operationId, method, path, credential: credentialOf(spec, operation), params, body, ...(answers ? { answers } : {}), websocket: operation['x-websocket'] !== undefined };
}

// ---- literals ----

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/** The docs' sample panel is narrow: lines are kept to this many characters where they can be. */
const WIDTH = 80;

const tsString = (text: string): string => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}'`;

/** How literals are written: TypeScript (single quotes, bare keys where they may be) or JSON. */
interface Syntax {
  string: (text: string) => string;
  key: (name: string) => string;
  /** A comma after the last member of a multi-line object or array. */
  trailingComma: boolean;
}
const TS: Syntax = { string: tsString, key: (k) => (IDENTIFIER.test(k) ? k : tsString(k)), trailingComma: true };
const JSON_SYNTAX: Syntax = { string: (t) => JSON.stringify(t), key: (k) => JSON.stringify(k), trailingComma: false };

/** A JSON value as a literal, on one line when it fits in WIDTH, else indented by two spaces a level. */
function literal(value: Json, indent: string, syntax: Syntax): string {
  const inline = inlineLiteral(value, syntax);
  if (inline.length + indent.length <= WIDTH) return inline;
  const inner = `${indent}  `;
  const members = Array.isArray(value)
    ? value.map((v) => `${inner}${literal(v, inner, syntax)}`)
    : value && typeof value === 'object'
      ? Object.entries(value).map(([k, v]) => `${inner}${syntax.key(k)}: ${literal(v, inner, syntax)}`)
      : undefined;
  if (!members) return inline;
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return `${open}\n${members.join(',\n')}${syntax.trailingComma ? ',' : ''}\n${indent}${close}`;
}

function inlineLiteral(value: Json, syntax: Syntax): string {
  if (typeof value === 'string') return syntax.string(value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => inlineLiteral(v, syntax)).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as JsonObject).map(([k, v]) => `${syntax.key(k)}: ${inlineLiteral(v, syntax)}`);
    return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
  }
  throw new Error(`code samples: ${String(value)} is not JSON`);
}

const tsLiteral = (value: Json, indent = ''): string => literal(value, indent, TS);
const tsInline = (value: Json): string => inlineLiteral(value, TS);

// ---- curl ----

/** A word for a POSIX shell, in single quotes. */
const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** A query or path value as the contract serialises it (form style; arrays comma-separated unless exploded). */
function queryPairs(name: string, value: Json, parameter?: Parameter): Array<[string, string]> {
  if (Array.isArray(value)) {
    return parameter?.explode === true ? value.map((v) => [name, String(v)]) : [[name, value.map(String).join(',')]];
  }
  return [[name, String(value)]];
}

const encode = (text: string): string => encodeURIComponent(text).replace(/%2C/gi, ',').replace(/%3A/gi, ':');

function urlOf(baseUrl: string, call: Call): string {
  let path = call.path;
  for (const [name, value] of call.params.path) path = path.replace(`{${name}}`, encode(String(value)));
  const query = call.params.query.flatMap(([name, value, parameter]) => queryPairs(name, value, parameter));
  const search = query.map(([name, value]) => `${encode(name)}=${encode(value)}`).join('&');
  return `${baseUrl}${path}${search ? `?${search}` : ''}`;
}

const isJson = (mediaType: string | undefined): boolean => mediaType !== undefined && /[/+]json\b/i.test(mediaType);
const isEventStream = (call: Call): boolean => call.answers === 'text/event-stream';
/** An answer that is a file (raw bytes), saved rather than shown. */
const isFile = (call: Call): boolean => call.answers === 'application/octet-stream';

function curlSample(baseUrl: string, call: Call): string {
  const words: string[] = ['curl'];
  if (isEventStream(call)) words.push('-N');
  // A WebSocket's handshake, shown with its 101 (`-i`); the messages after it need a WebSocket client (the SDK's connectLive).
  if (call.websocket) words.push('-i', '-N');
  // Saved under the name its Content-Disposition gives.
  if (isFile(call)) words.push('-OJ');
  if (call.method !== 'get') words.push('-X', call.method.toUpperCase());
  words.push(shellQuote(urlOf(baseUrl, call)));
  const lines = [words.join(' ')];
  if (call.websocket) lines.push(`-H ${shellQuote('Connection: Upgrade')}`);
  if (call.credential === 'token') lines.push(`-H "Authorization: Bearer $${CREDENTIALS.token}"`);
  if (call.credential === 'agentKey') lines.push(`-H "X-API-Key: $${CREDENTIALS.agentKey}"`);
  if (isEventStream(call)) lines.push(`-H ${shellQuote('Accept: text/event-stream')}`);
  for (const [name, value] of call.params.header) lines.push(`-H ${shellQuote(`${name}: ${String(value)}`)}`);
  if (call.body) {
    lines.push(`-H ${shellQuote(`Content-Type: ${call.body.mediaType}`)}`);
    // JSON as a reader would type it: on one line when short, else on lines that fit the panel.
    const data = isJson(call.body.mediaType) ? literal(call.body.value, '', JSON_SYNTAX) : String(call.body.value);
    // Bytes go as they are (`--data` would strip line breaks from a file and send a form's type).
    lines.push(`${call.body.raw ? '--data-binary' : '--data'} ${shellQuote(data)}`);
  }
  return `${lines.join(' \\\n  ')}\n`;
}

// ---- TypeScript (the SDK) ----

/** Stands for the serializer of raw bytes in the literal of a call's options, where a function cannot be written. */
const RAW_SERIALIZER = '<raw bytes serializer>';

function clientLine(baseUrl: string, call: Call): string {
  const options = [`baseUrl: ${tsString(baseUrl)}`];
  if (call.credential === 'token') options.push(`token: process.env.${CREDENTIALS.token}`);
  if (call.credential === 'agentKey') options.push(`apiKey: process.env.${CREDENTIALS.agentKey}`);
  const line = `const opsdeck = createOpsdeckClient({ ${options.join(', ')} });`;
  return line.length <= WIDTH ? line : `const opsdeck = createOpsdeckClient({\n${options.map((o) => `  ${o},`).join('\n')}\n});`;
}

function sdkSample(baseUrl: string, call: Call): string {
  if (call.websocket) {
    // The live WebSocket is connectLive's (the auth message, subscriptions, typed events, reconnects that resume).
    return [
      `import { connectLive } from '@opsdeck/sdk';`,
      '',
      `const live = connectLive({`,
      `  baseUrl: ${tsString(baseUrl)},`,
      `  token: process.env.${CREDENTIALS.token} ?? '',`,
      `  channels: ['alerts'],`,
      `  onEvent(event, { id }) {`,
      `    console.log(id, event.event, event.data);`,
      `  },`,
      `});`,
      `// later: live.close();`,
      '',
    ].join('\n');
  }
  if (isEventStream(call)) {
    // A live stream is read with subscribeEvents (reconnects, Last-Event-ID, typed events), not a plain GET.
    const query = Object.fromEntries(call.params.query.map(([name, value]) => [name, value]));
    const extra = Object.keys(query).length > 0 ? `  // query: ${JSON.stringify(query)}\n` : '';
    return [
      `import { createOpsdeckClient, subscribeEvents } from '@opsdeck/sdk';`,
      '',
      clientLine(baseUrl, call),
      `const subscription = subscribeEvents(opsdeck, {`,
      `${extra}  onEvent(event, { id }) {`,
      `    console.log(id, event.event, event.data);`,
      `  },`,
      `});`,
      `// later: subscription.close();`,
      '',
    ].join('\n');
  }
  if (call.operationId === 'login' && call.body && typeof call.body.value === 'object' && call.body.value !== null) {
    // Signing in is the client's login(): it keeps the token pair, sends the access token and refreshes it.
    const { email, password } = call.body.value as { email?: unknown; password?: unknown };
    if (typeof email === 'string' && typeof password === 'string') {
      return [
        `import { createOpsdeckClient } from '@opsdeck/sdk';`,
        '',
        clientLine(baseUrl, call),
        `const tokens = await opsdeck.login(${tsString(email)}, ${tsString(password)});`,
        `console.log(tokens.expires_in); // later calls send the access token, and refresh it when it expires`,
        '',
      ].join('\n');
    }
  }
  const params: JsonObject = {};
  if (call.params.path.length > 0) params.path = Object.fromEntries(call.params.path);
  if (call.params.query.length > 0) params.query = Object.fromEntries(call.params.query.map(([name, value]) => [name, value]));
  if (call.params.header.length > 0) params.header = Object.fromEntries(call.params.header);
  const init: JsonObject = {};
  if (Object.keys(params).length > 0) init.params = params;
  if (call.body) {
    init.body = call.body.value;
    // Bytes are sent as they are, not as JSON (the serializer is written in below).
    if (call.body.raw) init.bodySerializer = RAW_SERIALIZER;
    // The SDK sends JSON; a body of another type says which.
    if (!isJson(call.body.mediaType)) init.headers = { 'Content-Type': call.body.mediaType };
  }
  // An answer that is not JSON is read as text (the Prometheus text of /metrics), or as bytes when it is a file.
  if (call.answers !== undefined && !isJson(call.answers)) init.parseAs = isFile(call) ? 'arrayBuffer' : 'text';

  const method = `opsdeck.${call.method.toUpperCase()}`;
  const hasInit = Object.keys(init).length > 0;
  const lead = call.answers === undefined ? 'await unwrap(' : 'const result = await unwrap(';
  const oneLine = `${lead}${method}(${tsString(call.path)}${hasInit ? `, ${tsInline(init)}` : ''}));`;
  const statement =
    oneLine.length <= WIDTH
      ? oneLine
      : `${lead}\n  ${method}(${tsString(call.path)}${hasInit ? `, ${tsBlock(init, '  ')}` : ''}),\n);`;
  const lines = [`import { createOpsdeckClient, unwrap } from '@opsdeck/sdk';`, '', clientLine(baseUrl, call), statement.replace(tsString(RAW_SERIALIZER), '(bytes: string) => bytes')];
  // unwrap(): the envelope's `data` (or the whole body of an answer without one); it throws OpsdeckError on a failure.
  if (call.answers !== undefined) lines.push('console.log(result);');
  return `${lines.join('\n')}\n`;
}

/** An object literal on several lines (its members as short as they fit). */
function tsBlock(value: JsonObject, indent: string): string {
  const inner = `${indent}  `;
  const entries = Object.entries(value).map(([k, v]) => `${inner}${IDENTIFIER.test(k) ? k : tsString(k)}: ${tsLiteral(v, inner)},`);
  return `{\n${entries.join('\n')}\n${indent}}`;
}

/** The samples of one operation. */
export function codeSamplesOf(spec: JsonObject, path: string, method: (typeof METHODS)[number]): CodeSample[] {
  const pathItem = (spec.paths as Record<string, JsonObject>)[path];
  const operation = pathItem?.[method] as Operation | undefined;
  if (!pathItem || !operation) throw new Error(`code samples: no operation ${method.toUpperCase()} ${path}`);
  const baseUrl = String((spec.servers as Array<{ url: string }> | undefined)?.[0]?.url ?? 'http://localhost:8080').replace(/\/$/, '');
  const call = callOf(spec, path, pathItem, method, operation);
  return [
    { lang: 'Shell', label: 'curl', source: curlSample(baseUrl, call) },
    { lang: 'TypeScript', label: 'SDK (TypeScript)', source: sdkSample(baseUrl, call) },
  ];
}

/** Every operation of a bundled contract, as [path, method, operation]. */
export function operationsOf(spec: JsonObject): Array<[string, (typeof METHODS)[number], Operation]> {
  return Object.entries((spec.paths ?? {}) as Record<string, JsonObject>).flatMap(([path, item]) =>
    METHODS.flatMap((method) => (item[method] ? [[path, method, item[method] as Operation] as [string, (typeof METHODS)[number], Operation]] : [])),
  );
}

/** Puts `x-codeSamples` on every operation of the bundled contract (in place). */
export function addCodeSamples(spec: JsonObject): void {
  for (const [path, method, operation] of operationsOf(spec)) operation['x-codeSamples'] = codeSamplesOf(spec, path, method);
}
