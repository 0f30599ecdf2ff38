// The access log: one structured JSON line per answered request, at info (error for a 5xx), carrying the
// request id the client sent (or the one made for it), the operation, the status and the time it took. An agent's
// steady telemetry (`x-access-log: failures`) is logged at debug when it succeeds, at info when it does not.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, login, TEST_ADMIN } from '../support/identity.ts';

const lines: Array<Record<string, unknown>> = [];
let running: RunningServer;
let database: TestDatabase;
let token: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    PGLITE_DIR: 'memory://',
    OPSDECK_DEMO_DATA: 'false',
    OPSDECK_ADMIN_EMAIL: TEST_ADMIN.email,
    OPSDECK_ADMIN_PASSWORD: TEST_ADMIN.password,
    ...(database.url ? { DATABASE_URL: database.url } : {}),
  });
  running = await startServer(config, pino({ level: 'debug' }, stream));
  token = (await login(running.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await database?.drop();
});

/** The access line of the request with this id (it is written when the answer is over). */
async function accessLine(requestId: string): Promise<Record<string, unknown>> {
  await expect.poll(() => lines.some((line) => line.msg === 'request' && line.request_id === requestId)).toBe(true);
  return lines.find((line) => line.msg === 'request' && line.request_id === requestId)!;
}

describe('the access log', () => {
  it('writes one line per request with the id the client sent, its operation, status and duration', async () => {
    const res = await http(running.url, 'GET', '/api/v1/teams', { headers: { ...bearer(token), 'x-request-id': 'trace-4f1c' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-4f1c');
    const line = await accessLine('trace-4f1c');
    expect(line).toMatchObject({ level: 30, msg: 'request', method: 'GET', path: '/api/v1/teams', operation_id: 'listTeams', status: 200 });
    expect(typeof line.ms).toBe('number');
    expect(lines.filter((l) => l.request_id === 'trace-4f1c' && l.msg === 'request')).toHaveLength(1);
  });

  it('makes an id when the client sends none or an unusable one, and logs requests that match no operation', async () => {
    const res = await http(running.url, 'GET', '/api/v1/nowhere', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(res.status).toBe(404);
    const made = res.headers.get('x-request-id')!;
    expect(made).toMatch(/^req_[0-9a-f-]{36}$/);
    expect(await accessLine(made)).toMatchObject({ operation_id: null, status: 404, path: '/api/v1/nowhere' });
  });

  it('logs an agent’s successful heartbeat at debug (x-access-log: failures) and its refusal at info', async () => {
    const teamId = (await http(running.url, 'POST', '/api/v1/teams', { headers: bearer(token), json: { name: 'Access log' } })).body.data.id;
    const secret = (await http(running.url, 'POST', `/api/v1/teams/${teamId}/enrollment-tokens`, { headers: bearer(token), json: { name: 'log' } })).body.data.secret;
    const agent = (await http(running.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: secret, ...newAgent() } })).body.data;
    const ok = await http(running.url, 'POST', '/api/v1/agent/heartbeat', { headers: { 'x-api-key': agent.agent_key, 'x-request-id': 'hb-ok' } });
    expect(ok.status).toBe(200);
    expect(await accessLine('hb-ok')).toMatchObject({ level: 20, operation_id: 'agentHeartbeat', status: 200 });
    const refused = await http(running.url, 'POST', '/api/v1/agent/heartbeat', { headers: { 'x-api-key': `${agent.agent_key}x`, 'x-request-id': 'hb-refused' } });
    expect(refused.status).toBe(401);
    expect(await accessLine('hb-refused')).toMatchObject({ level: 30, operation_id: 'agentHeartbeat', status: 401 });
  });
});
