// Failures of the request pipeline itself (server/http/pipeline.ts):
// - a database that fails while a credential is checked answers 503 EXT_DATABASE_ERROR and spends nothing from
//   the client address's bucket (before, 30 such requests emptied it and every later request from the address,
//   anonymous ones included, was 429);
// - a path with malformed percent-encoding is 400 in the envelope (before, a 500);
// - a refused credential still spends from the address's bucket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminDatabaseUrl, postgresAnswers } from '../support/backends.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createUser, type TestUser } from '../support/identity.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startTcpProxy, throughProxy, type TcpProxy } from '../support/tcp-proxy.ts';

let proxy: TcpProxy | undefined;
let server: TestServer | undefined;
let user: TestUser;
let agentId: string;

beforeAll(async () => {
  if (!(await postgresAnswers())) return;
  const target = new URL(adminDatabaseUrl);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const anonymous = { requests_per_minute: 120, burst: 30 };
  server = await startTestServer(
    // The anonymous tier as the spec has it (burst 30): what a failed authentication must not spend from.
    { DB_TIMEOUT_MS: '800', RATE_LIMITS: JSON.stringify({ tiers: { anonymous } }) },
    {
      databaseUrl: (url) => throughProxy(url, proxy!),
    },
  );
  user = await createUser(server.url, server.adminToken, 'viewer', [server.teamId]);
  agentId = (await server.call('POST', '/api/v1/agents', { json: newAgent() })).body.data.id;
}, 60_000);

afterAll(async () => {
  proxy?.restore();
  await server?.close();
  await proxy?.close();
});

describe('the pipeline when a part of it fails', () => {
  it('a path that is not valid percent-encoding is 400 VAL_MALFORMED_REQUEST in the envelope', async (context) => {
    if (!server) return context.skip();
    for (const path of ['/api/v1/agents/%FF', '/api/v1/agents/%E0%A4%A', '/api/v1/teams/%C0%AF/members']) {
      const res = await http(server.url, 'GET', path, { headers: bearer(user.token) });
      expect(res.status, path).toBe(400);
      expect(res.body).toMatchObject({ success: false, error: { code: 'VAL_MALFORMED_REQUEST' }, meta: { request_id: res.headers.get('x-request-id') } });
    }
  });

  it('a database down while a credential is checked is 503 and spends nothing from the address', async (context) => {
    if (!server || !proxy) return context.skip();
    const path = `/api/v1/agents/${agentId}`;
    expect((await http(server.url, 'GET', path, { headers: bearer(user.token) })).status).toBe(200);
    proxy.cut('refuse');
    try {
      // Past the caller cache's ceiling (1 s), the caller is read from the database again, which fails.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const answers = [];
      for (let i = 0; i < 40; i += 1) answers.push(await http(server.url, 'GET', path, { headers: bearer(user.token) }));
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(503));
      expect(answers[0]!.body.error.code).toBe('EXT_DATABASE_ERROR');
      // The address's bucket (anonymous tier, burst 30) is untouched: an anonymous call is still served.
      const anonymous = await http(server.url, 'GET', '/api/v1/system/version');
      expect(anonymous.status).toBe(200);
      expect(Number(anonymous.headers.get('x-ratelimit-remaining'))).toBeGreaterThanOrEqual(28);
    } finally {
      proxy.restore();
    }
  });

  it('a refused credential still spends from the address', async (context) => {
    if (!server) return context.skip();
    const before = Number((await http(server.url, 'GET', '/api/v1/system/version')).headers.get('x-ratelimit-remaining'));
    const refused = await http(server.url, 'GET', `/api/v1/agents/${agentId}`, { headers: bearer('not.a.token') });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-ratelimit-bucket')).toMatch(/^ip:.*\/anonymous$/);
    expect(Number(refused.headers.get('x-ratelimit-remaining'))).toBeLessThan(before);
  });
});
