import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationsById, resolveRef, spec } from '../../server/contract.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';

let server: TestServer;
const call = (method: string, path: string, options?: Parameters<typeof http>[3]) => server.call(method, path, options);

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

function expectErrorEnvelope(res: Awaited<ReturnType<typeof call>>, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.body).toMatchObject({ success: false, error: { code, help_url: '/docs#tag/Errors' } });
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.meta.request_id).toBe(res.headers.get('x-request-id'));
  expect(res.body.meta.api_version).toBe(spec.info.version.split('.').slice(0, 2).join('.'));
  expect(res.body.meta.timestamp).toMatch(/Z$/);
  expect(res.text).not.toMatch(/at .*\.ts:\d+|node_modules|stack/i);
}

describe('request ids', () => {
  it('echoes a sane X-Request-ID and replaces an unsafe one', async () => {
    const sane = await call('GET', '/health/live', { headers: { 'x-request-id': 'client-42.abc_DEF' } });
    expect(sane.headers.get('x-request-id')).toBe('client-42.abc_DEF');
    expect(sane.body.meta.request_id).toBe('client-42.abc_DEF');
    for (const bad of ['has space', 'x'.repeat(129), 'semi;colon']) {
      const res = await call('GET', '/health/live', { headers: { 'x-request-id': bad } });
      expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f-]{36}$/);
    }
  });
});

describe('error envelope', () => {
  it('malformed JSON is 400 VAL_MALFORMED_REQUEST and writes nothing', async () => {
    const before = (await call('GET', '/api/v2/agents?limit=1')).body.pagination.total;
    const res = await call('POST', '/api/v1/agents', { body: '{"hostname": "a",', headers: { 'content-type': 'application/json' } });
    expectErrorEnvelope(res, 400, 'VAL_MALFORMED_REQUEST');
    expect((await call('GET', '/api/v2/agents?limit=1')).body.pagination.total).toBe(before);
  });

  it('invalid fields are 422 with one detail per field, echoing short values', async () => {
    const res = await call('POST', '/api/v1/agents', { json: { hostname: 'ok.example.com', ip_address: '192.168.1', platform: 'amiga' } });
    expectErrorEnvelope(res, 422, 'VAL_MULTIPLE_ERRORS');
    const fields = res.body.error.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(['ip_address', 'platform']);
    expect(res.body.error.details.find((d: { field: string }) => d.field === 'ip_address').value).toBe('192.168.1');
  });

  it('one missing field is 422 VAL_REQUIRED_FIELD, one bad format VAL_INVALID_FORMAT', async () => {
    const missing = await call('POST', '/api/v1/agents', { json: { ip_address: '10.0.0.1', platform: 'linux' } });
    expectErrorEnvelope(missing, 422, 'VAL_REQUIRED_FIELD');
    expect(missing.body.error.details[0].field).toBe('hostname');
    const format = await call('POST', '/api/v1/agents', { json: { ...newAgent(), ip_address: '999.1.1.1' } });
    expectErrorEnvelope(format, 422, 'VAL_INVALID_FORMAT');
  });

  it('bounds every string and array', async () => {
    const long = await call('POST', '/api/v1/agents', { json: newAgent({ os_version: 'x'.repeat(129) }) });
    expectErrorEnvelope(long, 422, 'VAL_ERROR');
    const tags = await call('POST', '/api/v1/agents', { json: newAgent({ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }) });
    expectErrorEnvelope(tags, 422, 'VAL_ERROR');
    const unknown = await call('POST', '/api/v1/agents', { json: newAgent({ is_admin: true }) });
    expectErrorEnvelope(unknown, 422, 'VAL_ERROR');
  });

  it('unknown query parameters are 400', async () => {
    const res = await call('GET', '/api/v2/agents?colour=red');
    expectErrorEnvelope(res, 400, 'VAL_INVALID_PARAMETER');
    expect(res.body.error.details[0]).toMatchObject({ field: 'colour', value: 'red' });
  });

  it('an error quoting the request stays within the envelope schema (lengths bounded)', async () => {
    const res = await call('GET', `/api/v2/agents?${'p'.repeat(600)}=1`);
    expectErrorEnvelope(res, 400, 'VAL_INVALID_PARAMETER');
    expect(res.body.error.message.length).toBeLessThanOrEqual(1024);
    for (const detail of res.body.error.details) expect(detail.field.length).toBeLessThanOrEqual(256);
    const path = await call('GET', `/api/v1/${'x'.repeat(2000)}`);
    expectErrorEnvelope(path, 404, 'RES_NOT_FOUND');
    expect(path.body.error.message.length).toBeLessThanOrEqual(1024);
  });

  it('a path id that is not a UUID is 400', async () => {
    expectErrorEnvelope(await call('GET', '/api/v1/agents/not-a-uuid'), 400, 'VAL_INVALID_PARAMETER');
  });

  it('an unknown route is 404 and a wrong method 405 with Allow', async () => {
    expectErrorEnvelope(await call('GET', '/api/v1/nothing-here'), 404, 'RES_NOT_FOUND');
    const res = await call('DELETE', '/api/v1/agents');
    expectErrorEnvelope(res, 405, 'RES_METHOD_NOT_ALLOWED');
    expect(res.headers.get('allow')?.split(/,\s*/).sort()).toEqual(['GET', 'POST']);
  });

  it('an unsupported media type is 415', async () => {
    const res = await call('POST', '/api/v1/agents', { body: 'hostname=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectErrorEnvelope(res, 415, 'VAL_UNSUPPORTED_MEDIA_TYPE');
  });

  it('a body over the limit is 413', async () => {
    const res = await call('POST', '/api/v1/agents', { json: newAgent({ os_version: 'x'.repeat(1_100_000) }) });
    expectErrorEnvelope(res, 413, 'VAL_PAYLOAD_TOO_LARGE');
  });

  it('an unexpected failure is 500 SYS_INTERNAL_ERROR without internals', async () => {
    // A schema the code does not expect (a dropped column) makes the query fail with a non-connection error.
    await sql`alter table agents rename column os_version to os_version_gone`.execute(server.database.db);
    try {
      const res = await call('GET', '/api/v2/agents');
      expectErrorEnvelope(res, 500, 'SYS_INTERNAL_ERROR');
      expect(res.body.error.message).toBe('An unexpected error occurred');
      expect(res.text).not.toContain('os_version');
    } finally {
      await sql`alter table agents rename column os_version_gone to os_version`.execute(server.database.db);
    }
    expect((await call('GET', '/api/v2/agents')).status).toBe(200);
  });
});

const NUL = '\u0000';
const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';
const count = async (table: 'teams' | 'agents' | 'alerts' | 'api_keys') =>
  Number((await server.database.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

describe('NUL characters', () => {
  it('in a body field, at any depth, are 422 VAL_INVALID_FORMAT naming the field, without echoing it', async () => {
    const [teams, agents] = [await count('teams'), await count('agents')];
    const team = await call('POST', '/api/v1/teams', { json: { name: `Ops${NUL}Team` } });
    expectErrorEnvelope(team, 422, 'VAL_INVALID_FORMAT');
    expect(team.body.error.details).toEqual([{ field: 'name', message: NUL_MESSAGE }]);
    const nested = await call('POST', '/api/v1/agents', { json: newAgent({ tags: ['web', `we${NUL}b`] }) });
    expectErrorEnvelope(nested, 422, 'VAL_INVALID_FORMAT');
    expect(nested.body.error.details).toEqual([{ field: 'tags.1', message: NUL_MESSAGE }]);
    const patch = await call('PATCH', `/api/v1/teams/${server.teamId}`, { json: { description: `${NUL}` } });
    expectErrorEnvelope(patch, 422, 'VAL_INVALID_FORMAT');
    expect(patch.body.error.details).toEqual([{ field: 'description', message: NUL_MESSAGE }]);
    // A field with a format or a pattern of its own that the NUL breaks too is told about the NUL, once.
    const formatted = await call('POST', '/api/v1/alerts', { json: { title: 'x', severity: 'info', agent_id: `${randomUUID().slice(0, 35)}${NUL}` } });
    expectErrorEnvelope(formatted, 422, 'VAL_INVALID_FORMAT');
    expect(formatted.body.error.details).toEqual([{ field: 'agent_id', message: NUL_MESSAGE }]);
    expect([await count('teams'), await count('agents')]).toEqual([teams, agents]);
  });

  it('in an item of a bulk request refuse the request as a whole, creating nothing', async () => {
    const alerts = await count('alerts');
    const res = await call('POST', '/api/v1/alerts/bulk', { json: { alerts: [{ title: 'Fine', severity: 'info' }, { title: `Disk${NUL}`, severity: 'info' }] } });
    expectErrorEnvelope(res, 422, 'VAL_INVALID_FORMAT');
    expect(res.body.error.details).toEqual([{ field: 'alerts.1.title', message: NUL_MESSAGE }]);
    expect(await count('alerts')).toBe(alerts);
  });

  it('in a query or path parameter are 400 VAL_INVALID_PARAMETER naming it', async () => {
    for (const [path, field] of [
      ['/api/v2/agents?search=a%00b', 'search'],
      ['/api/v1/teams?search=%00', 'search'],
      ['/api/v1/admin/audit?target_id=%00', 'target_id'],
      ['/api/v1/inventory/packages/search?name=openssl&version_gt=1%00', 'version_gt'],
      [`/api/v1/teams/${server.teamId.slice(0, 35)}%00`, 'team_id'],
    ] as const) {
      const res = await call('GET', path);
      expectErrorEnvelope(res, 400, 'VAL_INVALID_PARAMETER');
      expect(res.body.error.details.map((d: { field: string }) => d.field), path).toEqual([field]);
    }
    // An unknown parameter's name is quoted without its NUL (no string of an answer holds one either).
    const unknown = await call('GET', '/api/v2/agents?col%00our=red');
    expectErrorEnvelope(unknown, 400, 'VAL_INVALID_PARAMETER');
    expect(unknown.text).not.toContain('\\u0000');
  });

  it('in a header never reach a route: the HTTP parser refuses the request, answered 400 in the envelope', async () => {
    const { hostname, port } = new URL(server.url);
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(Number(port), hostname, () =>
        socket.write(`POST /api/v1/teams HTTP/1.1\r\nHost: ${hostname}\r\nIdempotency-Key: a${NUL}b\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`),
      );
      socket.on('data', (chunk) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    expect(body).toMatchObject({ success: false, error: { code: 'VAL_MALFORMED_REQUEST' } });
    expect(answer).toMatch(new RegExp(`X-Request-ID: ${body.meta.request_id}\r\n`));
  });
});

describe('impossible date-times', () => {
  const IMPOSSIBLE = ['2026-13-01T00:00:00Z', '0000-00-00T00:00:00Z', '2026-01-01T25:00:00Z', '2026-02-30T00:00:00Z', '2026-06-30T23:59:60Z'];

  it('are 400 on created_after, created_before and every other date-time query parameter', async () => {
    const walked: string[] = [];
    for (const info of operationsById.values()) {
      if (info.method !== 'get') continue;
      const parameters = (info.operation.parameters ?? []).map((p) => resolveRef(p) as { name: string; in: string; required?: boolean; schema?: unknown });
      const dates = parameters.filter((p) => p.in === 'query' && (resolveRef(p.schema) as { format?: string } | undefined)?.format === 'date-time');
      if (dates.length === 0) continue;
      // What else the operation requires, valid (getAgentMetrics: a metric and a range).
      const valid: Record<string, string> = { name: 'cpu_usage', start_date: '2026-11-21T10:00:00Z', end_date: '2026-11-21T11:00:00Z' };
      const path = info.path.replace(/\{[^}]+\}/g, () => randomUUID());
      for (const date of dates) {
        for (const value of IMPOSSIBLE) {
          const query = new URLSearchParams(parameters.filter((p) => p.required && p.in === 'query').map((p): [string, string] => [p.name, valid[p.name]!]));
          query.set(date.name, value);
          const res = await call('GET', `${path}?${query}`);
          expectErrorEnvelope(res, 400, 'VAL_INVALID_PARAMETER');
          expect(res.body.error.details.map((d: { field: string }) => d.field), `${info.operationId} ${date.name}=${value}`).toEqual([date.name]);
        }
        walked.push(`${info.operationId}.${date.name}`);
      }
    }
    expect(walked).toEqual(expect.arrayContaining(['listAgentsV2.created_after', 'listAgentsV2.created_before', 'listAlerts.created_after', 'getAgentMetrics.start_date', 'getAgentMetrics.end_date']));
  });

  it('are 422 VAL_INVALID_FORMAT in a body (an API key\'s expires_at), and nothing is created', async () => {
    const keys = await count('api_keys');
    for (const value of IMPOSSIBLE) {
      const res = await call('POST', '/api/v1/api-keys', { json: { name: 'dated', scopes: ['agents:read'], expires_at: value } });
      expectErrorEnvelope(res, 422, 'VAL_INVALID_FORMAT');
      expect(res.body.error.details, value).toEqual([{ field: 'expires_at', message: 'must match format "date-time"', value }]);
    }
    expect(await count('api_keys')).toBe(keys);
    const fine = await call('POST', '/api/v1/api-keys', { json: { name: 'dated', scopes: ['agents:read'], expires_at: '2028-02-29T23:59:59.5+01:00' } });
    expect(fine.status).toBe(201);
    expect(fine.body.data.expires_at).toBe('2028-02-29T22:59:59.500Z');
  });
});

describe('body types', () => {
  it('a body value of the wrong JSON type is 422, never converted', async () => {
    const teams = await count('teams');
    for (const name of [false, 12345, null, ['Platform'], { name: 'Platform' }]) {
      const res = await call('POST', '/api/v1/teams', { json: { name } });
      expectErrorEnvelope(res, 422, 'VAL_ERROR');
      expect(res.body.error.details.map((d: { field: string }) => d.field), JSON.stringify(name)).toEqual(['name']);
    }
    expect(await count('teams')).toBe(teams);
    const hours = await call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'typed', expires_in_hours: '24' } });
    expectErrorEnvelope(hours, 422, 'VAL_ERROR');
    expect(hours.body.error.details).toEqual([{ field: 'expires_in_hours', message: 'must be integer', value: '24' }]);
    const tags = await call('POST', '/api/v1/agents', { json: newAgent({ tags: 'web' }) });
    expectErrorEnvelope(tags, 422, 'VAL_ERROR');
    const flag = await call('POST', '/api/v1/agents', { json: newAgent({ status: 'online' }) });
    expect(flag.status).toBe(201);
    const reboot = await call('POST', `/api/v1/agents/${flag.body.data.id}/actions/reboot`, { json: { queue_if_offline: 'true' } });
    expectErrorEnvelope(reboot, 422, 'VAL_ERROR');
  });

  it('parameters, which arrive as text, are still read as their declared types', async () => {
    const page = await call('GET', '/api/v2/agents?limit=2&offset=0');
    expect(page.status).toBe(200);
    expect(page.body.pagination).toMatchObject({ per_page: 2, page: 1 });
    expect((await call('GET', '/api/v1/admin/users?active=true')).status).toBe(200);
    expectErrorEnvelope(await call('GET', '/api/v2/agents?limit=two'), 400, 'VAL_INVALID_PARAMETER');
  });
});

describe('system endpoints', () => {
  it('serves liveness, readiness, version, the contract and the docs', async () => {
    const live = await call('GET', '/health/live');
    expect(live.status).toBe(200);
    expect(live.body.data.status).toBe('ok');
    const ready = await call('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.data.checks.map((c: { name: string }) => c.name)).toContain('database');
    const version = await call('GET', '/api/v1/system/version');
    expect(version.body.data).toMatchObject({ name: 'opsdeck', api_version: spec.info.version, database: server.database.backend });
    expect(version.body.data.node_version).toMatch(/^v24\./);
    const json = await call('GET', '/openapi.json');
    expect(json.body.openapi).toBe('3.1.0');
    const yaml = await call('GET', '/openapi.yaml');
    expect(yaml.headers.get('content-type')).toMatch(/yaml/);
    expect(yaml.text).toContain('openapi: 3.1.0');
    const docs = await call('GET', '/docs');
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    expect(docs.text).toContain('Opsdeck API');
  });
});

describe('CORS', () => {
  it('answers preflights and exposes headers only to the configured origins', async () => {
    const cors = await startTestServer({ CORS_ORIGINS: 'https://console.example.com' });
    try {
      const preflight = await fetch(`${cors.url}/api/v1/agents`, {
        method: 'OPTIONS',
        headers: { origin: 'https://console.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://console.example.com');
      const allowed = await cors.call('GET', '/api/v2/agents', { headers: { origin: 'https://console.example.com' } });
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://console.example.com');
      expect(allowed.headers.get('access-control-expose-headers')).toContain('X-Request-ID');
      const other = await cors.call('GET', '/api/v2/agents', { headers: { origin: 'https://evil.example.com' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await cors.close();
    }
    const none = await call('GET', '/api/v2/agents', { headers: { origin: 'https://console.example.com' } });
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });
});
