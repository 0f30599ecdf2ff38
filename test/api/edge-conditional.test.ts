// Conditional requests: strong ETags, 304 for If-None-Match, Last-Modified, and If-Match so two
// editors cannot overwrite each other, even when they race.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { newAgent } from '../support/http.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('conditional GET', () => {
  it('answers an ETag, Last-Modified and Cache-Control, and 304 with no body while it is current', async () => {
    const agent = (await server.call('POST', '/api/v1/agents', { json: newAgent() })).body.data;
    const first = await server.call('GET', `/api/v1/agents/${agent.id}`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{20,}"$/);
    expect(first.headers.get('last-modified')).toBe(new Date(agent.updated_at).toUTCString());
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    const again = await server.call('GET', `/api/v1/agents/${agent.id}`);
    expect(again.headers.get('etag')).toBe(etag);

    const notModified = await server.call('GET', `/api/v1/agents/${agent.id}`, { headers: { 'if-none-match': etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);

    await server.call('PATCH', `/api/v1/agents/${agent.id}`, { json: { tags: ['changed'] } });
    const changed = await server.call('GET', `/api/v1/agents/${agent.id}`, { headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('gives lists an ETag that changes when the list does', async () => {
    const list = await server.call('GET', '/api/v2/agents?limit=5');
    const etag = list.headers.get('etag')!;
    expect((await server.call('GET', '/api/v2/agents?limit=5', { headers: { 'if-none-match': `"other", ${etag}` } })).status).toBe(304);
    await server.call('POST', '/api/v1/agents', { json: newAgent() });
    expect((await server.call('GET', '/api/v2/agents?limit=5', { headers: { 'if-none-match': etag } })).status).toBe(200);
  });

  it('version information is public and cacheable', async () => {
    const res = await server.call('GET', '/api/v1/system/version');
    expect(res.headers.get('cache-control')).toBe('public, max-age=60');
    expect(res.headers.get('etag')).toBeTruthy();
  });
});

describe('If-Match', () => {
  it('applies a write to the version read, and refuses a stale one with 412, changing nothing', async () => {
    const agent = (await server.call('POST', '/api/v1/agents', { json: newAgent() })).body.data;
    const etag = (await server.call('GET', `/api/v1/agents/${agent.id}`)).headers.get('etag')!;
    const first = await server.call('PATCH', `/api/v1/agents/${agent.id}`, { json: { status: 'maintenance' }, headers: { 'if-match': etag } });
    expect(first.status).toBe(200);
    const second = await server.call('PATCH', `/api/v1/agents/${agent.id}`, { json: { status: 'online' }, headers: { 'if-match': etag } });
    expect(second.status).toBe(412);
    expect(second.body.error.code).toBe('RES_PRECONDITION_FAILED');
    expect((await server.call('GET', `/api/v1/agents/${agent.id}`)).body.data.status).toBe('maintenance');
    const staleDelete = await server.call('DELETE', `/api/v1/agents/${agent.id}`, { headers: { 'if-match': etag } });
    expect(staleDelete.status).toBe(412);
    const current = (await server.call('GET', `/api/v1/agents/${agent.id}`)).headers.get('etag')!;
    expect((await server.call('DELETE', `/api/v1/agents/${agent.id}`, { headers: { 'if-match': current } })).status).toBe(204);
  });

  it('lets exactly one of two racing editors with the same If-Match win', async () => {
    for (let round = 0; round < 5; round += 1) {
      const agent = (await server.call('POST', '/api/v1/agents', { json: newAgent() })).body.data;
      const etag = (await server.call('GET', `/api/v1/agents/${agent.id}`)).headers.get('etag')!;
      const [a, b] = await Promise.all([
        server.call('PUT', `/api/v1/agents/${agent.id}`, { json: { ...newAgent(), os_version: null, agent_version: null, status: 'online', tags: ['a'] }, headers: { 'if-match': etag } }),
        server.call('PATCH', `/api/v1/agents/${agent.id}`, { json: { tags: ['b'] }, headers: { 'if-match': etag } }),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 412]);
      const winner = a.status === 200 ? ['a'] : ['b'];
      expect((await server.call('GET', `/api/v1/agents/${agent.id}`)).body.data.tags).toEqual(winner);
    }
  });

  it('works the same for teams, users and the profile', async () => {
    const team = (await server.call('POST', '/api/v1/teams', { json: { name: `If-Match ${Date.now()}` } })).body.data;
    const teamTag = (await server.call('GET', `/api/v1/teams/${team.id}`)).headers.get('etag')!;
    expect((await server.call('PATCH', `/api/v1/teams/${team.id}`, { json: { description: 'one' }, headers: { 'if-match': teamTag } })).status).toBe(200);
    expect((await server.call('PATCH', `/api/v1/teams/${team.id}`, { json: { description: 'two' }, headers: { 'if-match': teamTag } })).status).toBe(412);
    const profileTag = (await server.call('GET', '/api/v1/auth/profile')).headers.get('etag')!;
    expect((await server.call('PATCH', '/api/v1/auth/profile', { json: { name: 'Admin One' }, headers: { 'if-match': profileTag } })).status).toBe(200);
    expect((await server.call('PATCH', '/api/v1/auth/profile', { json: { name: 'Admin Two' }, headers: { 'if-match': profileTag } })).status).toBe(412);
  });
});
