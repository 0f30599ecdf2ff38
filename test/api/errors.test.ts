import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  expect(res.body.meta.api_version).toBe('1.1');
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

describe('system endpoints', () => {
  it('serves liveness, readiness, version, the contract and the docs', async () => {
    const live = await call('GET', '/health/live');
    expect(live.status).toBe(200);
    expect(live.body.data.status).toBe('ok');
    const ready = await call('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.data.checks.map((c: { name: string }) => c.name)).toContain('database');
    const version = await call('GET', '/api/v1/system/version');
    expect(version.body.data).toMatchObject({ name: 'opsdeck', api_version: '1.1.0', database: server.database.backend });
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
