// Property-based test of every operation of the contract against the real server (PostgreSQL, Redis, response
// validation on): requests generated from the spec's own schemas (test/support/schema-arbitrary.ts), valid and
// hostile (boundary lengths, unicode, NULs, empty objects, nulls, extreme numbers, wrong JSON types, dates that do
// not exist, unknown parameters, ids of nothing), sent as the administrator (as an enrolled agent to the agent
// protocol) with real resources behind the path ids. Every answer must be below 500, of a status the operation
// declares, with a body its schema allows; a body the contract refuses must be refused (400 or 422).
//
// A fixed seed and a fixed number of runs per operation keep it repeatable and bounded (about 20–25 s in all on a
// 2-core machine); a failure prints the command that replays its operation with the same seed, and fast-check's
// `path` of the counterexample (OPSDECK_PROPERTY_PATH replays exactly that one). OPSDECK_PROPERTY_SEED and
// OPSDECK_PROPERTY_RUNS explore further (a new seed, more runs); OPSDECK_PROPERTY_REPORT=1 lists the statuses each
// operation answered.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationsById, resolveRef, spec, type OperationInfo } from '../../server/contract.ts';
import { contractFormats, withStringRule } from '../../server/http/contract-rules.ts';
import { operationTable } from '../../server/http/operation-table.ts';
import { ContractChecker } from '../contract/contract-checker.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { createUser } from '../support/identity.ts';
import { hostile, valid, value, type Schema } from '../support/schema-arbitrary.ts';

const SEED = Number(process.env.OPSDECK_PROPERTY_SEED ?? 20_261_202);
const RUNS = Number(process.env.OPSDECK_PROPERTY_RUNS ?? 15);
const PATH = process.env.OPSDECK_PROPERTY_PATH;
/** Request headers fetch will not send (it throws): they ask for a protocol switch, tested over a real socket. */
const FETCH_REFUSES = new Set(['upgrade', 'connection']);

let server: TestServer;
let agentKey: string;
let ids: Record<string, string>;
/** Per operation, the statuses answered and the milliseconds each answer took (OPSDECK_PROPERTY_REPORT). */
const seen = new Map<string, Array<{ status: number; ms: number }>>();

beforeAll(async () => {
  // No sweeps: the enrolled agent stays online for the whole run. Webhooks may point at a closed local port.
  server = await startTestServer({ SWEEP_INTERVAL_MS: '3600000', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
  const ok = (method: string, path: string, res: Awaited<ReturnType<typeof http>>) => {
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
    return res.body.data;
  };
  const created = async (method: string, path: string, json?: unknown) => ok(method, path, await server.call(method, path, { json }));
  // The agent protocol's caller: an agent enrolled with a team's token, and its own key.
  const enrollment = await created('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { name: 'property' });
  const enrolled = ok('POST', 'enroll', await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: enrollment.secret, ...newAgent() } }));
  agentKey = enrolled.agent_key;
  const agent = enrolled.agent;
  const member = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'property');
  const key = await created('POST', '/api/v1/api-keys', { name: 'property', scopes: ['agents:read'] });
  const task = await created('POST', `/api/v1/agents/${agent.id}/actions/reboot`, {});
  const token = await created('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { name: 'property-2' });
  const group = await created('POST', '/api/v1/agent-groups', { name: 'Property' });
  await created('POST', `/api/v1/agent-groups/${group.id}/members`, { agent_ids: [agent.id] });
  const deployment = await created('POST', '/api/v1/deployments', { service: 'property', version: 'v1', environment: 'staging' });
  const pipeline = await created('POST', '/api/v1/pipelines', { name: 'property', repository: 'github.com/opsdeck/property' });
  const run = await created('POST', `/api/v1/pipelines/${pipeline.id}/runs`, { commit_sha: 'abcdef1' });
  const alert = await created('POST', '/api/v1/alerts', { agent_id: agent.id, title: 'Property', severity: 'warning' });
  const webhook = await created('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/property', events: ['alert.triggered'] });
  const delivery = await created('POST', `/api/v1/webhooks/${webhook.id}/ping`);
  const upload = await http(server.url, 'POST', `/api/v1/agent/tasks/${task.task_id}/artifacts?name=property.log`, { headers: { 'x-api-key': agentKey, 'content-type': 'text/plain' }, body: 'property\n' });
  const artifact = ok('POST', 'artifacts', upload);
  const schedule = await created('POST', '/api/v1/tasks/schedules', { name: 'Property', cron: '0 3 * * SUN', timezone: 'UTC', run: { action: { type: 'reboot' }, target: { agent_ids: [agent.id] } } });
  ids = {
    agent_id: agent.id,
    team_id: server.teamId,
    user_id: member.id,
    api_key_id: key.id,
    task_id: task.task_id,
    token_id: token.id,
    group_id: group.id,
    deployment_id: deployment.id,
    pipeline_id: pipeline.id,
    run_id: run.id,
    alert_id: alert.id,
    webhook_id: webhook.id,
    delivery_id: delivery.id,
    artifact_id: artifact.id,
    schedule_id: schedule.id,
  };
});
afterAll(async () => {
  if (process.env.OPSDECK_PROPERTY_REPORT) {
    for (const [operationId, answers] of seen) {
      const statuses = [...new Set(answers.map((a) => a.status))].sort().join(' ');
      process.stderr.write(`${operationId}: ${statuses} (slowest ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms)\n`);
    }
  }
  await server?.close();
});

// ── the contract, as the server judges a body (its formats and its string rule) ─────────────────────────────────

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: false, validateSchema: false }));
for (const [name, format] of Object.entries(contractFormats)) ajv.addFormat(name, format);
ajv.addSchema(withStringRule(structuredClone(spec)) as object, 'openapi.json');
const bodyValidators = new Map<string, ValidateFunction>();

/** Whether the contract allows a body: the request body schema of the operation's media type. */
function bodyAllowed(info: OperationInfo, mediaType: string, body: unknown): boolean {
  const key = `${info.operationId} ${mediaType}`;
  let validate = bodyValidators.get(key);
  if (!validate) {
    const schema = (resolveRef(info.operation.requestBody) as { content: Record<string, { schema: { $ref?: string } }> }).content[mediaType]!.schema;
    validate = ajv.compile(schema.$ref ? { $ref: `openapi.json${schema.$ref}` } : (schema as object));
    bodyValidators.set(key, validate);
  }
  return validate(body);
}

// ── requests ─────────────────────────────────────────────────────────────────────────────────────────────────

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
}

interface GeneratedRequest {
  path: string;
  query: Array<[string, string]>;
  headers: Record<string, string>;
  /** The body as sent, and as a value (what the contract judges). */
  body?: { mediaType: string; value: unknown };
}

function parametersOf(info: OperationInfo): Parameter[] {
  const item = (spec.paths?.[info.path] ?? {}) as { parameters?: unknown[] };
  return [...(item.parameters ?? []), ...(info.operation.parameters ?? [])].map((p) => resolveRef(p) as Parameter);
}

/** A parameter's value as the URL or a header carries it (arrays comma-separated: every array is `form`, not exploded). */
function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(asText).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// No `..` or `%2E%2E`: a URL parser resolves those dot segments before the request is sent (another operation's path).
const hostileId = fc.constantFrom('not-a-uuid', '\u0000', 'x'.repeat(300), '...', '%', ' ', '\ud83d\ude80', '0', 'urn:uuid:0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d', '0192F0C1-7C1E-7D3A-9B7E-3F1C2A4B5C6D', '00000000-0000-0000-0000-000000000000');
const unknownParameter = fc.constantFrom('colour', 'a\u0000b', 'x'.repeat(300), 'limit[]', '__proto__', 'constructor');

function requestArbitrary(info: OperationInfo): fc.Arbitrary<GeneratedRequest> {
  const parameters = parametersOf(info);
  const pathParameters = parameters.filter((p) => p.in === 'path');
  const path = fc.record(
    Object.fromEntries(
      pathParameters.map((p) => [
        p.name,
        fc.oneof({ weight: 12, arbitrary: fc.constant(ids[p.name] ?? '00000000-0000-7000-8000-000000000000') }, { weight: 1, arbitrary: fc.uuid({ version: 7 }) }, { weight: 2, arbitrary: hostileId }),
      ]),
    ),
  ).map((values) => info.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(values[name] as string)));

  const queryParameters = parameters.filter((p) => p.in === 'query');
  const query = fc
    .tuple(
      ...queryParameters.map((p) => {
        const v = fc.oneof({ weight: 5, arbitrary: valid(p.schema) }, { weight: 1, arbitrary: hostile(p.schema) }).map((x) => [p.name, asText(x)] as [string, string]);
        return p.required ? v.map((x) => [x]) : fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: v.map((x) => [x]) });
      }),
      fc.oneof({ weight: 12, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.tuple(unknownParameter, fc.string({ maxLength: 5 })).map((x) => [x]) }),
    )
    .map((lists) => (lists as Array<Array<[string, string]>>).flat());

  // Header values are what HTTP can carry: visible ASCII (a NUL never gets past Node's parser; errors.test.ts).
  // Not the headers fetch refuses to send (FETCH_REFUSES).
  const headerParameters = parameters.filter((p) => p.in === 'header' && !FETCH_REFUSES.has(p.name.toLowerCase()));
  const headers = fc
    .tuple(
      ...headerParameters.map((p) =>
        fc.option(
          fc.oneof({ weight: 3, arbitrary: valid(p.schema) }, { weight: 1, arbitrary: hostile(p.schema) }).map((x) => [p.name, asText(x).replace(/[^\x21-\x7e]/g, '')] as const),
          { nil: undefined, freq: 2 },
        ),
      ),
    )
    .map((pairs) => Object.fromEntries(pairs.filter((pair): pair is readonly [string, string] => pair !== undefined && pair[1] !== '')));

  const requestBody = resolveRef(info.operation.requestBody) as { required?: boolean; content: Record<string, { schema: Schema }> } | undefined;
  let body: fc.Arbitrary<GeneratedRequest['body']> = fc.constant(undefined);
  if (requestBody) {
    const mediaTypes = Object.keys(requestBody.content);
    body = fc.constantFrom(...mediaTypes).chain((mediaType) => {
      const schema = requestBody.content[mediaType]!.schema;
      // Raw bytes (`format: binary`) are any bytes: short text stands for them (task-artifacts.test.ts tries the size limit).
      const v = operationTable.get(info.operationId as never)?.streamedBody
        ? fc.string({ unit: 'binary', maxLength: 200 })
        : fc.oneof({ weight: 3, arbitrary: valid(schema) }, { weight: 4, arbitrary: value(schema, 0.08) }, { weight: 1, arbitrary: hostile(schema) });
      return v.map((x) => ({ mediaType, value: x }));
    });
    if (!requestBody.required) body = fc.option(body, { nil: undefined, freq: 5 });
  }
  return fc.record({ path, query, headers, body });
}

// ── sending and judging ──────────────────────────────────────────────────────────────────────────────────────

function credentials(info: OperationInfo): Record<string, string> {
  const permission = operationTable.get(info.operationId as never)?.permission;
  if (permission === null) return {};
  return permission === 'agent:self' ? { 'x-api-key': agentKey } : { authorization: `Bearer ${server.adminToken}` };
}

function describeRequest(info: OperationInfo, request: GeneratedRequest): string {
  const query = request.query.length ? `?${new URLSearchParams(request.query)}` : '';
  const body = request.body ? ` ${request.body.mediaType} ${JSON.stringify(request.body.value)?.slice(0, 600)}` : '';
  return `${info.method.toUpperCase()} ${request.path}${query} ${JSON.stringify(request.headers)}${body}`;
}

async function exercise(info: OperationInfo, request: GeneratedRequest): Promise<void> {
  const query = request.query.length ? `?${new URLSearchParams(request.query)}` : '';
  const headers: Record<string, string> = { ...credentials(info), ...request.headers };
  if (request.body) headers['content-type'] = request.body.mediaType;
  const abort = new AbortController();
  const startedAt = performance.now();
  const response = await fetch(`${server.url}${request.path}${query}`, {
    method: info.method.toUpperCase(),
    headers,
    body: request.body ? JSON.stringify(request.body.value) : undefined,
    signal: abort.signal,
  });
  const what = describeRequest(info, request);
  (seen.get(info.operationId) ?? seen.set(info.operationId, []).get(info.operationId)!).push({ status: response.status, ms: performance.now() - startedAt });
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    // A live stream does not end by itself: its status is all there is to judge here (events-stream.test.ts reads streams).
    abort.abort();
    expect(response.status, what).toBe(200);
    return;
  }
  const checker = new ContractChecker();
  await checker.check(info.method.toUpperCase(), info.path, response.clone());
  const text = await response.text();
  expect(response.status, `${what}\n→ ${response.status} ${text}`).toBeLessThan(500);
  expect(Object.keys(info.operation.responses ?? {}), `${what}\n→ ${response.status} is not declared`).toContain(String(response.status));
  expect(checker.violations, `${what}\n→ ${response.status} ${text}`).toEqual([]);
  if (request.body && !operationTable.get(info.operationId as never)?.streamedBody && !bodyAllowed(info, request.body.mediaType, request.body.value)) {
    // A body over the size limit is refused for its size before anything reads it.
    const refusals = Buffer.byteLength(JSON.stringify(request.body.value) ?? '') > server.bodyLimitBytes ? [413] : [400, 422];
    expect(refusals, `${what}\n→ a body the contract refuses was answered ${response.status} ${text}`).toContain(response.status);
  }
}

// Reads and writes first, then what deletes the fixtures (the team last of all), so the ids stay real for longest.
const DESTRUCTIVE = /^(delete|remove)/;
const operations = [...operationsById.values()].sort((a, b) => {
  const rank = (o: OperationInfo) => (o.operationId === 'deleteTeam' ? 2 : DESTRUCTIVE.test(o.operationId) ? 1 : 0);
  return rank(a) - rank(b);
});

describe(`every operation, ${RUNS} generated requests each (seed ${SEED})`, () => {
  it('walks every operation of the contract', () => {
    expect(operations.length).toBe(operationsById.size);
  });

  for (const info of operations) {
    it(info.operationId, async () => {
      try {
        await fc.assert(
          fc.asyncProperty(requestArbitrary(info), (request) => exercise(info, request)),
          { seed: SEED, numRuns: RUNS, ...(PATH ? { path: PATH } : {}) },
        );
      } catch (err) {
        throw new Error(`Replay: OPSDECK_PROPERTY_SEED=${SEED} OPSDECK_PROPERTY_RUNS=${RUNS} npx vitest run test/api/property.test.ts -t '${info.operationId}$'\n${(err as Error).message}`, { cause: err });
      }
    });
  }
});
