// Every `x-` extension Opsdeck reads from its contract, declared once: where it may stand, what it means,
// an example, and the JSON Schema its value must satisfy. Three readers share this list:
//   - the server, at start-up (contract.ts → checkExtensions): an unknown extension, one in the wrong place
//     or a value of the wrong shape stops the start, naming the extension and where it stands;
//   - `npm run spec:lint` (the Redocly rule `opsdeck/extensions`, scripts/redocly/opsdeck-plugin.js), so a
//     typo fails the lint before it reaches a server;
//   - `npm run generate`, which writes the reviewers' table of extensions into spec/README.md.
// Nothing else in server/ reads an extension from the spec: the operation table (http/operation-table.ts)
// and the root policies (`rootExtensions`) are the two ways in. This module imports nothing of the server, so
// the lint and the generator can load it before anything is bundled.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/** The kinds of node an extension may stand on (Redocly's node types of the same names). */
export type ExtensionPlace = 'Root' | 'Operation' | 'Schema' | 'Tag' | 'Server';

export interface ExtensionDefinition {
  name: `x-${string}`;
  on: ExtensionPlace;
  meaning: string;
  /** A realistic value, checked against `schema` by the tests. */
  example: unknown;
  schema: object;
}

const positive = { type: 'number', exclusiveMinimum: 0 };
const count = { type: 'integer', minimum: 1 };
const bucket = {
  type: 'object',
  additionalProperties: false,
  required: ['requests_per_minute', 'burst'],
  properties: { requests_per_minute: count, burst: count },
};
/** A named limiter: a bucket, counted per client address unless `per` names what the request presents. */
const limiter = {
  ...bucket,
  properties: { ...bucket.properties, per: { enum: ['client_address', 'enrollment_token'] } },
};
const failureLimit = {
  type: 'object',
  additionalProperties: false,
  required: ['max_failures', 'window_seconds'],
  properties: { max_failures: count, window_seconds: count },
};
const RFC3339 = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$';
const policy = (fields: Record<string, object>) => ({
  type: 'object',
  additionalProperties: false,
  required: ['description', ...Object.keys(fields)],
  properties: { description: { type: 'string', minLength: 1 }, ...fields },
});

export const EXTENSIONS: readonly ExtensionDefinition[] = [
  {
    name: 'x-permissions',
    on: 'Root',
    meaning: 'Every permission an operation can require, with what it allows. Security requirements name them as scopes.',
    example: { 'agents:read': "See the agents of the caller's teams." },
    schema: { type: 'object', minProperties: 1, propertyNames: { pattern: '^[a-z]+:[a-z]+$' }, additionalProperties: { type: 'string', minLength: 1 } },
  },
  {
    name: 'x-roles',
    on: 'Root',
    meaning: 'The roles a user can have, each a set of permissions from `x-permissions`.',
    example: { viewer: { description: 'Reads the fleet of its teams.', permissions: ['agents:read'] } },
    schema: {
      type: 'object',
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['description', 'permissions'],
        properties: { description: { type: 'string', minLength: 1 }, permissions: { type: 'array', items: { type: 'string' }, uniqueItems: true } },
      },
    },
  },
  {
    name: 'x-rate-limits',
    on: 'Root',
    meaning: 'The token buckets: one per tier of caller, and named limiters (per client address, or per what `per` names) that operations can pick with `x-rate-limit`.',
    example: {
      description: 'Token buckets, one per caller.',
      when_redis_fails: 'allow',
      tiers: {
        anonymous: { requests_per_minute: 120, burst: 30 },
        authenticated: { requests_per_minute: 1200, burst: 200 },
        premium: { requests_per_minute: 6000, burst: 1000 },
        admin: { requests_per_minute: 6000, burst: 1000 },
      },
      limiters: { login: { requests_per_minute: 10, burst: 5 }, enrollment: { per: 'enrollment_token', requests_per_minute: 6000, burst: 2000 } },
    },
    schema: policy({
      when_redis_fails: { enum: ['allow'] },
      tiers: {
        type: 'object',
        additionalProperties: false,
        required: ['anonymous', 'authenticated', 'premium', 'admin'],
        properties: { anonymous: bucket, authenticated: bucket, premium: bucket, admin: bucket },
      },
      limiters: { type: 'object', additionalProperties: limiter },
    }),
  },
  {
    name: 'x-webhook-delivery',
    on: 'Root',
    meaning: 'How webhooks are delivered: timeout, retries and their backoff, when a failing webhook is turned off, retention, concurrency per webhook.',
    example: {
      description: 'How Opsdeck delivers webhooks.',
      timeout_seconds: 10,
      max_attempts: 8,
      base_seconds: 30,
      max_seconds: 21600,
      disable_after_consecutive_failures: 20,
      response_excerpt_bytes: 1024,
      retention_days: 30,
      max_in_flight_per_webhook: 4,
    },
    schema: policy({
      timeout_seconds: positive,
      max_attempts: count,
      base_seconds: positive,
      max_seconds: positive,
      disable_after_consecutive_failures: count,
      response_excerpt_bytes: count,
      retention_days: count,
      max_in_flight_per_webhook: count,
    }),
  },
  {
    name: 'x-event-stream',
    on: 'Root',
    meaning: 'The live stream and WebSocket: keep-alive, reconnect delay, how far back a reconnect replays, how often a credential is checked again, streams per caller, how soon a WebSocket authenticates and how large its messages may be.',
    example: { description: 'The live stream.', keepalive_seconds: 15, retry_ms: 3000, replay_hours: 24, replay_max_events: 1000, reauthenticate_seconds: 60, max_streams_per_caller: 10, auth_timeout_seconds: 5, max_message_bytes: 16384 },
    schema: policy({
      keepalive_seconds: positive,
      retry_ms: count,
      replay_hours: positive,
      replay_max_events: count,
      reauthenticate_seconds: positive,
      max_streams_per_caller: count,
      auth_timeout_seconds: positive,
      max_message_bytes: count,
    }),
  },
  {
    name: 'x-metrics',
    on: 'Root',
    meaning: 'How long reported metric samples are kept, how many metric names a report may hold, and the bounds of a fleet-wide metric query (range, step, points, the range of a percentile).',
    example: {
      description: 'Metric samples are kept retention_days; queries are bounded.',
      retention_days: 30,
      report_max_names: 100,
      query_max_range_days: 31,
      query_min_step_seconds: 60,
      query_max_step_seconds: 86400,
      query_max_points: 10000,
      query_percentile_max_range_hours: 24,
    },
    schema: policy({
      retention_days: count,
      report_max_names: count,
      query_max_range_days: count,
      query_min_step_seconds: count,
      query_max_step_seconds: count,
      query_max_points: count,
      query_percentile_max_range_hours: count,
    }),
  },
  {
    name: 'x-artifacts',
    on: 'Root',
    meaning:
      "Task artifacts (`uploadTaskArtifact`): how many one task keeps, the size of the chunks they are stored in, the media types an upload may state (a bounded `Content-Type` pattern) and how long they are kept.",
    example: {
      description: 'Files an agent uploads for its tasks.',
      max_per_task: 100,
      chunk_bytes: 1048576,
      content_type_pattern: '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$',
      retention_days: 30,
    },
    schema: policy({
      max_per_task: count,
      // Between 256 KiB and 8 MiB: a chunk is held in memory while it is written or read.
      chunk_bytes: { type: 'integer', minimum: 262144, maximum: 8388608 },
      // Anchored, so a media type is matched whole; start-up compiles it (artifacts.policy.ts).
      content_type_pattern: { type: 'string', pattern: '^\\^.*\\$$', maxLength: 512 },
      retention_days: count,
    }),
  },
  {
    name: 'x-settings',
    on: 'Root',
    meaning:
      'The setting keys of the central configuration (`/api/v1/config/settings`): each key with its description, the JSON Schema of its values and its default. Agents read them in their effective configuration (`getAgentConfig`).',
    example: {
      description: 'Settings agents read.',
      keys: { heartbeat_interval_seconds: { description: 'How often the agent sends a heartbeat, in seconds.', schema: { type: 'integer', minimum: 5, maximum: 3600 }, default: 30 } },
    },
    schema: policy({
      keys: {
        type: 'object',
        minProperties: 1,
        maxProperties: 100,
        propertyNames: { pattern: '^[a-z][a-z0-9_]{0,63}$' },
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['description', 'schema', 'default'],
          properties: {
            description: { type: 'string', minLength: 1, maxLength: 1000 },
            // A value is a scalar (SettingValue): an integer with bounds, or one of an enum's strings.
            schema: {
              type: 'object',
              required: ['type'],
              properties: { type: { enum: ['integer', 'number', 'string', 'boolean'] }, minimum: { type: 'number' }, maximum: { type: 'number' }, enum: { type: 'array', minItems: 1 } },
            },
            default: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
          },
        },
      },
    }),
  },
  {
    name: 'x-certificates',
    on: 'Root',
    meaning:
      'The certificate authority for agents: how long an agent certificate, the CA and a CRL are valid, which CSR keys are certified (`ecdsa-p256`, `ecdsa-p384`, `rsa` within `rsa_min_bits`..`rsa_max_bits`), and how many active certificates an agent keeps.',
    example: {
      description: 'Client certificates for agents.',
      lifetime_days: 30,
      ca_lifetime_days: 3650,
      crl_lifetime_hours: 24,
      key_algorithms: ['ecdsa-p256', 'ecdsa-p384', 'rsa'],
      rsa_min_bits: 2048,
      rsa_max_bits: 8192,
      max_active_per_agent: 3,
    },
    schema: policy({
      lifetime_days: { type: 'integer', minimum: 1, maximum: 825 },
      ca_lifetime_days: { type: 'integer', minimum: 30, maximum: 36500 },
      crl_lifetime_hours: { type: 'integer', minimum: 1, maximum: 720 },
      key_algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['ecdsa-p256', 'ecdsa-p384', 'rsa'] } },
      // Below 2048 bits RSA is not a key worth certifying.
      rsa_min_bits: { type: 'integer', minimum: 2048, maximum: 16384 },
      rsa_max_bits: { type: 'integer', minimum: 2048, maximum: 16384 },
      max_active_per_agent: count,
    }),
  },
  {
    name: 'x-generated',
    on: 'Root',
    meaning: 'The "do not edit" banner `npm run generate` puts on the bundled contract in generated/; never written in spec/.',
    example: 'GENERATED from spec/ by `npm run generate`. Do not edit: change spec/ and regenerate.',
    schema: { type: 'string' },
  },
  {
    name: 'x-rate-limit',
    on: 'Operation',
    meaning: 'Which bucket the operation spends from: `tier` (the caller\'s tier), a limiter named in `x-rate-limits`, or `exempt`. Every operation says.',
    example: 'tier',
    schema: { type: 'string', pattern: '^[a-z][a-z0-9_-]*$' },
  },
  {
    name: 'x-websocket',
    on: 'Operation',
    meaning: 'On an operation that upgrades to a WebSocket: the schemas of the messages the client sends and the server sends, from which `npm run generate` writes the AsyncAPI document (generated/asyncapi.json).',
    example: { client: { $ref: '#/components/schemas/EventSocketClientMessage' }, server: { $ref: '#/components/schemas/EventSocketServerMessage' } },
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['client', 'server'],
      properties: { client: { type: 'object' }, server: { type: 'object' } },
    },
  },
  {
    name: 'x-cache-control',
    on: 'Operation',
    meaning: 'The `Cache-Control` of the operation\'s `200` answers (GETs only).',
    example: 'private, no-cache',
    schema: { type: 'string', pattern: '^(public|private|no-cache|no-store|must-revalidate|immutable|(s-)?max-age=\\d+)(, (public|private|no-cache|no-store|must-revalidate|immutable|(s-)?max-age=\\d+))*$' },
  },
  {
    name: 'x-audit',
    on: 'Operation',
    meaning: 'Whether the audit log records the operation\'s requests. Every mutating operation is recorded unless it says `false` (an agent\'s own telemetry).',
    example: false,
    schema: { type: 'boolean' },
  },
  {
    name: 'x-access-log',
    on: 'Operation',
    meaning:
      "Which answers of the operation get an access log line at `info`: `all` (the default), or `failures`, for an agent's steady telemetry (heartbeats, claims, reports: thousands a second on a large fleet), whose successful answers are logged at `debug` (LOG_LEVEL=debug shows them).",
    example: 'failures',
    schema: { enum: ['all', 'failures'] },
  },
  {
    name: 'x-deprecated-at',
    on: 'Operation',
    meaning: 'When a deprecated operation\'s deprecation took effect (RFC 3339), sent as `Deprecation` (RFC 9745).',
    example: '2026-11-21T00:00:00Z',
    schema: { type: 'string', pattern: RFC3339 },
  },
  {
    name: 'x-sunset',
    on: 'Operation',
    meaning: 'When a deprecated operation stops working (RFC 3339): sent as `Sunset`; after it, `410 RES_GONE`.',
    example: '2027-06-30T00:00:00Z',
    schema: { type: 'string', pattern: RFC3339 },
  },
  {
    name: 'x-successor',
    on: 'Operation',
    meaning: 'The operationId that replaces a deprecated operation, linked as `rel="successor-version"`.',
    example: 'listAgentsV2',
    schema: { type: 'string', pattern: '^[a-z][A-Za-z0-9]*$' },
  },
  {
    name: 'x-database-budget',
    on: 'Operation',
    meaning: 'How many times `DB_TIMEOUT_MS` a request\'s waits on the database may add up to (1 when absent): for bulk operations that work item by item. Each single wait is still bounded by `DB_TIMEOUT_MS`.',
    example: 10,
    schema: { type: 'integer', minimum: 1, maximum: 100 },
  },
  {
    name: 'x-login-throttle',
    on: 'Operation',
    meaning: 'Failed sign-ins allowed per account and per client address in a window, after which sign-in answers `429`.',
    example: { per_account: { max_failures: 5, window_seconds: 900 }, per_client: { max_failures: 20, window_seconds: 900 } },
    schema: { type: 'object', additionalProperties: false, required: ['per_account', 'per_client'], properties: { per_account: failureLimit, per_client: failureLimit } },
  },
  {
    name: 'x-codeSamples',
    on: 'Operation',
    meaning: 'Redoc\'s request samples, a `curl` command and the same call through the SDK, written by `npm run generate` (scripts/code-samples.ts) from the operation\'s examples; only in generated/, never written in spec/.',
    example: [{ lang: 'Shell', label: 'curl', source: "curl 'http://localhost:8080/api/v1/system/version'\n" }],
    schema: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['lang', 'label', 'source'],
        properties: { lang: { type: 'string', minLength: 1 }, label: { type: 'string', minLength: 1 }, source: { type: 'string', minLength: 1 } },
      },
    },
  },
  {
    name: 'x-http-status',
    on: 'Schema',
    meaning: 'On each entry of `ErrorCode`: the HTTP status that carries the code.',
    example: 404,
    schema: { type: 'integer', minimum: 400, maximum: 599 },
  },
  {
    name: 'x-channel',
    on: 'Schema',
    meaning: 'On each entry of `EventType`: the live stream channel that carries events of that type.',
    example: 'alerts',
    schema: { type: 'string', pattern: '^[a-z]+$' },
  },
  {
    name: 'x-permission',
    on: 'Schema',
    meaning: 'On each entry of `EventChannel`: the permission a stream needs to receive the channel.',
    example: 'alerts:read',
    schema: { type: 'string', pattern: '^[a-z]+:[a-z]+$' },
  },
  {
    name: 'x-error-catalogue',
    on: 'Tag',
    meaning: 'Marks the tag whose description the docs generator extends with the table of error codes.',
    example: true,
    schema: { const: true },
  },
  {
    name: 'x-internal',
    on: 'Server',
    meaning: 'Redocly\'s flag for servers hidden from the public docs; Opsdeck\'s servers are all public.',
    example: false,
    schema: { type: 'boolean' },
  },
];

// The definitions' schemas are this file's own: test/unit/extensions.test.ts checks them against JSON Schema's
// meta-schema, so a start does not compile the meta-schema to check them again (about 80 ms of every start).
const ajv = new Ajv2020({ strict: true, allErrors: true, validateSchema: false });
const validators = new Map<string, { definition: ExtensionDefinition; validate: ValidateFunction }>(
  EXTENSIONS.map((definition) => [`${definition.on} ${definition.name}`, { definition, validate: ajv.compile(definition.schema) }]),
);

/**
 * What is wrong with the extensions of one node of kind `on`: an `x-` key not declared for that kind
 * (a typo, or an extension in the wrong place), or a value its schema refuses. `where` names the node.
 */
export function extensionProblems(on: string, node: unknown, where: string): string[] {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (!key.startsWith('x-')) continue;
    const known = validators.get(`${on} ${key}`);
    if (!known) {
      const elsewhere = EXTENSIONS.filter((e) => e.name === key).map((e) => e.on);
      problems.push(
        elsewhere.length > 0
          ? `${where}: ${key} belongs on ${elsewhere.join(' or ')}, not on ${on}`
          : `${where}: unknown extension ${key} (known on ${on}: ${EXTENSIONS.filter((e) => e.on === on).map((e) => e.name).join(', ') || 'none'})`,
      );
      continue;
    }
    if (!known.validate(value)) {
      const reasons = (known.validate.errors ?? []).map((e) => `${e.instancePath || '(value)'} ${e.message}`).join('; ');
      problems.push(`${where}: ${key} ${JSON.stringify(value)?.slice(0, 120)} is invalid: ${reasons}`);
    }
  }
  return problems;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const SCHEMA_CHILDREN = ['items', 'not', 'additionalProperties', 'contains', 'propertyNames', 'if', 'then', 'else', 'unevaluatedItems', 'unevaluatedProperties'];
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'dependentSchemas'];

/** A bundled document's schemas, each with where it stands (components, and those inline in operations). */
function* schemasIn(node: unknown, where: string): Generator<[unknown, string]> {
  if (node === null || typeof node !== 'object') return;
  yield [node, where];
  const schema = node as Record<string, unknown>;
  for (const key of SCHEMA_CHILDREN) if (schema[key] && typeof schema[key] === 'object') yield* schemasIn(schema[key], `${where}/${key}`);
  for (const key of SCHEMA_LISTS) if (Array.isArray(schema[key])) for (const [i, s] of (schema[key] as unknown[]).entries()) yield* schemasIn(s, `${where}/${key}/${i}`);
  for (const key of SCHEMA_MAPS) {
    const map = schema[key];
    if (map && typeof map === 'object') for (const [name, s] of Object.entries(map)) yield* schemasIn(s, `${where}/${key}/${name}`);
  }
}

interface BundledDocument {
  servers?: unknown[];
  tags?: Array<{ name?: string }>;
  paths?: Record<string, Record<string, unknown> | undefined>;
  webhooks?: Record<string, Record<string, unknown> | undefined>;
  components?: { schemas?: Record<string, unknown> };
}

/** Every problem with the extensions of a bundled contract (root, servers, tags, operations, schemas). */
export function documentExtensionProblems(doc: BundledDocument): string[] {
  const problems = [...extensionProblems('Root', doc, '(root)')];
  for (const [i, server] of (doc.servers ?? []).entries()) problems.push(...extensionProblems('Server', server, `servers/${i}`));
  for (const tag of doc.tags ?? []) problems.push(...extensionProblems('Tag', tag, `tag ${tag.name}`));
  for (const items of [doc.paths, doc.webhooks]) {
    for (const [path, item] of Object.entries(items ?? {})) {
      for (const method of METHODS) {
        const operation = item?.[method] as { operationId?: string } | undefined;
        if (operation) problems.push(...extensionProblems('Operation', operation, operation.operationId ?? `${method.toUpperCase()} ${path}`));
      }
    }
  }
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
    for (const [node, where] of schemasIn(schema, `schema ${name}`)) problems.push(...extensionProblems('Schema', node, where));
  }
  return problems;
}

/** The reviewers' table of every extension (spec/README.md, written by `npm run generate`). */
export function extensionsTable(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = EXTENSIONS.map((e) => `| \`${e.name}\` | ${e.on} | ${cell(e.meaning)} | \`${cell(JSON.stringify(e.example))}\` |`);
  return ['| Extension | Where | Meaning | Example |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
