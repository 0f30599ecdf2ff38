// Agent groups over HTTP: CRUD with unique names per team, membership (all or nothing, only the group's
// team's agents), the `group_id` filter on listAgents (offset and cursor) and the summary, tenancy (another
// team's group or agent is 404 or refused), If-Match 412, idempotent create, and cascades on delete.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createTeam, createUser, type TestUser, createOutsider } from '../support/identity.ts';

let server: TestServer;
let outsider: TestUser;
let outsiderTeam: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ outsider, outsiderTeam } = await createOutsider(server.url, server.adminToken));
});
afterAll(async () => {
  await server?.close();
});

let serial = 0;
const groupName = (label = 'group') => `${label} ${(serial += 1)} ${Math.random().toString(36).slice(2, 8)}`;

async function newGroup(body: Record<string, unknown> = {}) {
  const res = await server.call('POST', '/api/v1/agent-groups', { json: { name: groupName(), ...body } });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: string; team_id: string; name: string; description: string | null; agent_count: number; updated_at: string };
}
async function newAgents(n: number, overrides: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1) {
    const res = await server.call('POST', '/api/v1/agents', { json: newAgent(overrides) });
    expect(res.status, res.text).toBe(201);
    ids.push(res.body.data.id);
  }
  return ids;
}
const add = (groupId: string, agentIds: string[]) => server.call('POST', `/api/v1/agent-groups/${groupId}/members`, { json: { agent_ids: agentIds } });

describe('agent group CRUD', () => {
  it('creates in the caller’s only team (201 + Location), reads, lists, renames and deletes', async () => {
    const created = await server.call('POST', '/api/v1/agent-groups', { json: { name: 'Web servers', description: 'nginx' } });
    expect(created.status).toBe(201);
    const group = created.body.data;
    expect(group).toMatchObject({ team_id: server.teamId, name: 'Web servers', description: 'nginx', agent_count: 0 });
    expect(created.headers.get('location')).toBe(`/api/v1/agent-groups/${group.id}`);

    const fetched = await server.call('GET', `/api/v1/agent-groups/${group.id}`);
    expect(fetched.body.data).toEqual(group);
    expect(fetched.headers.get('etag')).toBeTruthy();
    expect(fetched.headers.get('last-modified')).toBeTruthy();

    const listed = await server.call('GET', '/api/v1/agent-groups?search=web%20serv');
    expect(listed.body.data.map((g: { id: string }) => g.id)).toEqual([group.id]);
    expect(listed.body.pagination).toMatchObject({ mode: 'offset', total: 1 });

    const patched = await server.call('PATCH', `/api/v1/agent-groups/${group.id}`, { json: { name: 'Front ends', description: null } });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ id: group.id, name: 'Front ends', description: null });
    // An empty merge patch changes nothing.
    expect((await server.call('PATCH', `/api/v1/agent-groups/${group.id}`, { json: {} })).body.data).toEqual(patched.body.data);

    expect((await server.call('DELETE', `/api/v1/agent-groups/${group.id}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/agent-groups/${group.id}`)).status).toBe(404);
    expect((await server.call('DELETE', `/api/v1/agent-groups/${group.id}`)).status).toBe(404);
  });

  it('keeps names unique per team regardless of case (409), but not across teams', async () => {
    const name = groupName('Unique');
    await newGroup({ name });
    const dup = await server.call('POST', '/api/v1/agent-groups', { json: { name: name.toUpperCase() } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('RES_ALREADY_EXISTS');
    const other = await newGroup();
    const renamed = await server.call('PATCH', `/api/v1/agent-groups/${other.id}`, { json: { name } });
    expect(renamed.status).toBe(409);
    expect(renamed.body.error.code).toBe('RES_ALREADY_EXISTS');
    const theirs = await http(server.url, 'POST', '/api/v1/agent-groups', { headers: bearer(outsider.token), json: { name } });
    expect(theirs.status).toBe(201);
    expect(theirs.body.data.team_id).toBe(outsiderTeam);
  });

  it('needs team_id when the caller is in several teams, and refuses a team that is not the caller’s', async () => {
    const twoTeams = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'two-teams');
    const second = await createTeam(server.url, twoTeams.token, `Second ${groupName()}`);
    const asTwo = (json: unknown) => http(server.url, 'POST', '/api/v1/agent-groups', { headers: bearer(twoTeams.token), json });
    const missing = await asTwo({ name: groupName() });
    expect(missing.status).toBe(422);
    expect(missing.body.error.code).toBe('VAL_REQUIRED_FIELD');
    const placed = await asTwo({ name: groupName(), team_id: second });
    expect(placed.status).toBe(201);
    expect(placed.body.data.team_id).toBe(second);
    const foreign = await asTwo({ name: groupName(), team_id: outsiderTeam });
    expect(foreign.status).toBe(404);
  });

  it('lists by offset and by cursor, sorted by name or creation, filtered by team', async () => {
    const prefix = `Paged ${Math.random().toString(36).slice(2, 8)}`;
    const made = [];
    for (const letter of ['c', 'A', 'b', 'E', 'd']) made.push(await newGroup({ name: `${prefix} ${letter}` }));
    const search = `search=${encodeURIComponent(prefix)}`;
    const byName = await server.call('GET', `/api/v1/agent-groups?${search}&limit=2&offset=2`);
    expect(byName.body.data.map((g: { name: string }) => g.name.slice(-1))).toEqual(['c', 'd']);
    expect(byName.body.pagination).toMatchObject({ mode: 'offset', total: 5, page: 2, has_next: true, has_prev: true });
    expect(byName.headers.get('link')).toContain('rel="next"');

    const walked: string[] = [];
    let cursor = '';
    for (let i = 0; i < 10; i += 1) {
      const page = await server.call('GET', `/api/v1/agent-groups?${search}&limit=2&sort=created_at:desc&cursor=${encodeURIComponent(cursor)}`);
      expect(page.status).toBe(200);
      expect(page.body.pagination.mode).toBe('cursor');
      walked.push(...page.body.data.map((g: { id: string }) => g.id));
      if (!page.body.pagination.next_cursor) break;
      cursor = page.body.pagination.next_cursor;
    }
    expect(walked).toEqual(made.map((g) => g.id).reverse());

    expect((await server.call('GET', `/api/v1/agent-groups?${search}&team_id=${server.teamId}`)).body.pagination.total).toBe(5);
    expect((await server.call('GET', `/api/v1/agent-groups?${search}&team_id=${outsiderTeam}`)).body.data).toEqual([]);
    expect((await server.call('GET', '/api/v1/agent-groups?sort=agent_count:desc')).status).toBe(400);
  });

  it('replays an idempotent create with the same key, and refuses the key with another body', async () => {
    const key = randomUUID();
    const body = { name: groupName('Idempotent') };
    const first = await server.call('POST', '/api/v1/agent-groups', { json: body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    const again = await server.call('POST', '/api/v1/agent-groups', { json: body, headers: { 'idempotency-key': key } });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.data).toEqual(first.body.data);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    const listed = await server.call('GET', `/api/v1/agent-groups?search=${encodeURIComponent(body.name)}`);
    expect(listed.body.pagination.total).toBe(1);
    const other = await server.call('POST', '/api/v1/agent-groups', { json: { name: groupName() }, headers: { 'idempotency-key': key } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('VAL_IDEMPOTENCY_KEY_REUSED');
  });

  it('honours If-Match on update and delete: a stale ETag is 412 and changes nothing', async () => {
    const group = await newGroup({ description: 'first' });
    const etag = (await server.call('GET', `/api/v1/agent-groups/${group.id}`)).headers.get('etag')!;
    const first = await server.call('PATCH', `/api/v1/agent-groups/${group.id}`, { json: { description: 'second' }, headers: { 'if-match': etag } });
    expect(first.status).toBe(200);
    const stale = await server.call('PATCH', `/api/v1/agent-groups/${group.id}`, { json: { description: 'third' }, headers: { 'if-match': etag } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('RES_PRECONDITION_FAILED');
    expect((await server.call('DELETE', `/api/v1/agent-groups/${group.id}`, { headers: { 'if-match': etag } })).status).toBe(412);
    expect((await server.call('GET', `/api/v1/agent-groups/${group.id}`)).body.data.description).toBe('second');

    // Membership is part of the group: adding an agent moves its ETag on too.
    const current = (await server.call('GET', `/api/v1/agent-groups/${group.id}`)).headers.get('etag')!;
    await add(group.id, await newAgents(1));
    expect((await server.call('DELETE', `/api/v1/agent-groups/${group.id}`, { headers: { 'if-match': current } })).status).toBe(412);
    const fresh = (await server.call('GET', `/api/v1/agent-groups/${group.id}`)).headers.get('etag')!;
    expect((await server.call('DELETE', `/api/v1/agent-groups/${group.id}`, { headers: { 'if-match': fresh } })).status).toBe(204);
  });
});

describe('membership', () => {
  it('adds agents (repeats count once), reports those already members, lists and removes them', async () => {
    const group = await newGroup();
    const [a, b, c] = await newAgents(3);
    const first = await add(group.id, [a!, b!, a!]);
    expect(first.status).toBe(200);
    expect(first.body.data).toEqual({ added: [a, b], already_members: [] });
    const second = await add(group.id, [b!, c!]);
    expect(second.body.data).toEqual({ added: [c], already_members: [b] });
    expect((await server.call('GET', `/api/v1/agent-groups/${group.id}`)).body.data.agent_count).toBe(3);

    const members = await server.call('GET', `/api/v1/agent-groups/${group.id}/members?sort=created_at:asc`);
    expect(members.status).toBe(200);
    expect(members.body.data.map((m: { id: string }) => m.id)).toEqual([a, b, c]);
    expect(members.body.pagination).toMatchObject({ mode: 'offset', total: 3 });
    const trimmed = await server.call('GET', `/api/v1/agent-groups/${group.id}/members?fields=hostname&limit=1&cursor=`);
    expect(Object.keys(trimmed.body.data[0]).sort()).toEqual(['hostname', 'id']);
    expect(trimmed.body.pagination.next_cursor).toBeTruthy();

    expect((await server.call('DELETE', `/api/v1/agent-groups/${group.id}/members/${b}`)).status).toBe(204);
    const again = await server.call('DELETE', `/api/v1/agent-groups/${group.id}/members/${b}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('RES_NOT_FOUND');
    expect((await server.call('GET', `/api/v1/agent-groups/${group.id}/members`)).body.data.map((m: { id: string }) => m.id).sort()).toEqual([a, c].sort());
    // The agent itself is untouched.
    expect((await server.call('GET', `/api/v1/agents/${b}`)).status).toBe(200);
  });

  it('refuses, all or nothing, agents of another team and ids of no agent, with a detail per id', async () => {
    const group = await newGroup();
    const [mine] = await newAgents(1);
    const theirs = (await http(server.url, 'POST', '/api/v1/agents', { headers: bearer(outsider.token), json: newAgent() })).body.data.id as string;
    const nobody = randomUUID();
    const refused = await add(group.id, [mine!, theirs, nobody]);
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('BIZ_AGENT_NOT_IN_TEAM');
    expect(refused.body.error.details).toEqual([
      { field: 'agent_ids.1', message: "not an agent of the group's team", value: theirs },
      { field: 'agent_ids.2', message: "not an agent of the group's team", value: nobody },
    ]);
    // Another team's agent is refused exactly like one that does not exist.
    expect((await server.call('GET', `/api/v1/agent-groups/${group.id}`)).body.data.agent_count).toBe(0);

    // An agent of another of the caller's own teams is refused as well: groups never span teams.
    const twoTeams = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'spanning');
    const second = await createTeam(server.url, twoTeams.token, `Span ${groupName()}`);
    const elsewhere = (await http(server.url, 'POST', '/api/v1/agents', { headers: bearer(twoTeams.token), json: newAgent({ team_id: second }) })).body.data.id;
    const spanning = await http(server.url, 'POST', `/api/v1/agent-groups/${group.id}/members`, { headers: bearer(twoTeams.token), json: { agent_ids: [elsewhere] } });
    expect(spanning.status).toBe(422);
    expect(spanning.body.error.details.map((d: { value: string }) => d.value)).toEqual([elsewhere]);
  });

  it('validates the body: 1 to 500 uuids', async () => {
    const group = await newGroup();
    expect((await add(group.id, [])).status).toBe(422);
    expect((await add(group.id, ['not-a-uuid'])).status).toBe(422);
    expect((await add(group.id, Array.from({ length: 501 }, () => randomUUID()))).status).toBe(422);
  });

  it('memberships go with a deleted agent and a deleted group', async () => {
    const group = await newGroup();
    const [kept, dropped] = await newAgents(2);
    await add(group.id, [kept!, dropped!]);
    expect((await server.call('DELETE', `/api/v1/agents/${dropped}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/agent-groups/${group.id}`)).body.data.agent_count).toBe(1);
    expect((await server.call('GET', `/api/v2/agents?group_id=${group.id}`)).body.pagination.total).toBe(1);

    expect((await server.call('DELETE', `/api/v1/agent-groups/${group.id}`)).status).toBe(204);
    const rows = await server.database.db.selectFrom('agent_group_members').select('agent_id').where('group_id', '=', group.id).execute();
    expect(rows).toEqual([]);
    expect((await server.call('GET', `/api/v1/agents/${kept}`)).status).toBe(200);
    expect((await server.call('GET', `/api/v2/agents?group_id=${group.id}`)).body.data).toEqual([]);
  });
});

describe('the group_id filter of listAgentsV2 and getAgentSummary', () => {
  it('lists only members, by offset and by cursor, combined with other filters, never stale after a change', async () => {
    const group = await newGroup();
    const members = await newAgents(5, { platform: 'bsd' });
    const outside = await newAgents(2, { platform: 'bsd' });
    await add(group.id, members);

    const offset = await server.call('GET', `/api/v2/agents?group_id=${group.id}&limit=2&offset=0&sort=created_at:asc`);
    expect(offset.status).toBe(200);
    expect(offset.body.pagination).toMatchObject({ mode: 'offset', total: 5, total_pages: 3 });
    expect(offset.body.data.map((a: { id: string }) => a.id)).toEqual(members.slice(0, 2));
    expect(offset.body.pagination.links.next).toContain(`group_id=${group.id}`);

    const walked: string[] = [];
    let cursor = '';
    for (let i = 0; i < 10; i += 1) {
      const page = await server.call('GET', `/api/v2/agents?group_id=${group.id}&limit=2&cursor=${encodeURIComponent(cursor)}`);
      expect(page.body.pagination.mode).toBe('cursor');
      walked.push(...page.body.data.map((a: { id: string }) => a.id));
      if (!page.body.pagination.next_cursor) break;
      cursor = page.body.pagination.next_cursor;
    }
    expect(walked).toEqual([...members].reverse());
    expect(walked.some((id) => outside.includes(id))).toBe(false);

    // A cursor is bound to its filter.
    const otherGroup = await newGroup();
    const first = await server.call('GET', `/api/v2/agents?group_id=${group.id}&limit=2&cursor=`);
    const misused = await server.call('GET', `/api/v2/agents?group_id=${otherGroup.id}&limit=2&cursor=${encodeURIComponent(first.body.pagination.next_cursor)}`);
    expect(misused.status).toBe(400);

    const combined = await server.call('GET', `/api/v2/agents?group_id=${group.id}&platform=linux`);
    expect(combined.body.pagination.total).toBe(0);

    // The cached count follows membership changes.
    await server.call('DELETE', `/api/v1/agent-groups/${group.id}/members/${members[0]}`);
    expect((await server.call('GET', `/api/v2/agents?group_id=${group.id}`)).body.pagination.total).toBe(4);
    await add(group.id, outside);
    expect((await server.call('GET', `/api/v2/agents?group_id=${group.id}`)).body.pagination.total).toBe(6);
  });

  it('summarises only the group’s agents, and follows membership changes', async () => {
    const group = await newGroup();
    const online = await newAgents(2, { platform: 'windows', status: 'online' });
    const [maintenance] = await newAgents(1, { platform: 'macos', status: 'maintenance' });
    await add(group.id, online);
    const before = await server.call('GET', `/api/v1/agents/summary?group_id=${group.id}`);
    expect(before.status).toBe(200);
    expect(before.body.data).toEqual({
      total: 2,
      by_status: { online: 2, offline: 0, maintenance: 0 },
      by_platform: { linux: 0, windows: 2, macos: 0, bsd: 0 },
    });
    await add(group.id, [maintenance!]);
    const after = (await server.call('GET', `/api/v1/agents/summary?group_id=${group.id}`)).body.data;
    expect(after).toMatchObject({ total: 3, by_status: { maintenance: 1 }, by_platform: { macos: 1 } });
    const all = (await server.call('GET', '/api/v1/agents/summary')).body.data;
    expect(all.total).toBeGreaterThan(3);
  });

  it("finds nothing for another team's group", async () => {
    const theirGroup = (await http(server.url, 'POST', '/api/v1/agent-groups', { headers: bearer(outsider.token), json: { name: groupName() } })).body.data;
    const theirAgent = (await http(server.url, 'POST', '/api/v1/agents', { headers: bearer(outsider.token), json: newAgent() })).body.data.id;
    const added = await http(server.url, 'POST', `/api/v1/agent-groups/${theirGroup.id}/members`, { headers: bearer(outsider.token), json: { agent_ids: [theirAgent] } });
    expect(added.status).toBe(200);
    const listed = await server.call('GET', `/api/v2/agents?group_id=${theirGroup.id}`);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([]);
    expect((await server.call('GET', `/api/v1/agents/summary?group_id=${theirGroup.id}`)).body.data.total).toBe(0);
  });
});

describe('tenancy', () => {
  it("answers 404 for another team's group on every operation, exactly as for a missing one, and changes nothing", async () => {
    const group = await newGroup({ description: 'ours' });
    const [agent] = await newAgents(1);
    await add(group.id, [agent!]);
    const as = (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: bearer(outsider.token), json });
    const attempts: [string, string, unknown?][] = [
      ['GET', `/api/v1/agent-groups/${group.id}`],
      ['PATCH', `/api/v1/agent-groups/${group.id}`, { name: 'Taken over' }],
      ['DELETE', `/api/v1/agent-groups/${group.id}`],
      ['GET', `/api/v1/agent-groups/${group.id}/members`],
      ['POST', `/api/v1/agent-groups/${group.id}/members`, { agent_ids: [agent] }],
      ['DELETE', `/api/v1/agent-groups/${group.id}/members/${agent}`],
    ];
    for (const [method, path, json] of attempts) {
      const theirs = await as(method, path, json);
      expect(theirs.status, `${method} ${path}`).toBe(404);
      expect(theirs.body.error.code).toBe('RES_NOT_FOUND');
      const missing = await as(method, path.replace(group.id, randomUUID()), json);
      expect(missing.status).toBe(404);
      expect(missing.body.error.message.replace(/[0-9a-f-]{36}/g, 'ID')).toBe(theirs.body.error.message.replace(/[0-9a-f-]{36}/g, 'ID'));
    }
    expect((await as('GET', '/api/v1/agent-groups?limit=100')).body.data.some((g: { id: string }) => g.id === group.id)).toBe(false);
    const after = (await server.call('GET', `/api/v1/agent-groups/${group.id}`)).body.data;
    expect(after).toMatchObject({ name: group.name, description: 'ours', agent_count: 1 });

    // The outsider cannot pull our agent into its own group either.
    const theirGroup = (await as('POST', '/api/v1/agent-groups', { name: groupName() })).body.data;
    const pulled = await as('POST', `/api/v1/agent-groups/${theirGroup.id}/members`, { agent_ids: [agent] });
    expect(pulled.status).toBe(422);
    expect(pulled.body.error.code).toBe('BIZ_AGENT_NOT_IN_TEAM');
  });

  it('lets a viewer read groups but not change them', async () => {
    const viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'viewer');
    const group = await newGroup();
    expect((await http(server.url, 'GET', `/api/v1/agent-groups/${group.id}/members`, { headers: bearer(viewer.token) })).status).toBe(200);
    const denied = await http(server.url, 'POST', '/api/v1/agent-groups', { headers: bearer(viewer.token), json: { name: groupName() } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toContain('agents:write');
  });
});
