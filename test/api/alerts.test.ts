// Alerts over HTTP on the real backends: raising, reading and listing them; the open → acknowledged →
// resolved rules; one unresolved alert per fingerprint; team scope; and bulk creation, which answers
// item by item: 1,000 items with bad ones of every kind create exactly the good ones, a batch the database
// refuses is retried item by item, a database outage mid-way leaves nothing, and an Idempotency-Key replays.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createTeam, createUser, type TestUser, createOutsider } from '../support/identity.ts';

let server: TestServer;
let outsider: TestUser;
let outsiderTeam: string;
let outsiderAgent: string;
let agent: { id: string; team_id: string };
let adminId: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ outsider, outsiderTeam } = await createOutsider(server.url, server.adminToken));
  outsiderAgent = (await http(server.url, 'POST', '/api/v1/agents', { headers: bearer(outsider.token), json: newAgent() })).body.data.id;
  agent = (await server.call('POST', '/api/v1/agents', { json: newAgent() })).body.data;
  adminId = (await server.call('GET', '/api/v1/auth/profile')).body.data.id;
});
afterAll(async () => {
  await server?.close();
});

let serial = 0;
const fingerprint = () => `fp-${process.pid}-${(serial += 1)}-${randomUUID().slice(0, 8)}`;
const raise = async (json: Record<string, unknown>) => {
  const res = await server.call('POST', '/api/v1/alerts', { json });
  expect(res.status, res.text).toBe(201);
  return res.body.data;
};
const asOutsider = (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: bearer(outsider.token), json });

describe('one alert', () => {
  it('raises an alert (201 + Location), open, in the agent’s team, and reads it back', async () => {
    const created = await server.call('POST', '/api/v1/alerts', {
      json: { agent_id: agent.id, title: 'Disk /var above 90%', message: '93% used', severity: 'critical', source: 'prometheus', fingerprint: fingerprint() },
    });
    expect(created.status).toBe(201);
    const alert = created.body.data;
    expect(created.headers.get('location')).toBe(`/api/v1/alerts/${alert.id}`);
    expect(alert).toMatchObject({ team_id: server.teamId, agent_id: agent.id, status: 'open', severity: 'critical', source: 'prometheus', acknowledged_by: null, resolved_at: null });
    expect((await server.call('GET', `/api/v1/alerts/${alert.id}`)).body.data).toEqual(alert);
    const teamWide = await raise({ title: 'Certificate expires in 14 days', severity: 'info' });
    expect(teamWide).toMatchObject({ team_id: server.teamId, agent_id: null, message: null, source: null, fingerprint: null });
  });

  it('refuses another team’s agent or team with 404, and an agent of another team than team_id with 422', async () => {
    const theirAgent = await server.call('POST', '/api/v1/alerts', { json: { agent_id: outsiderAgent, title: 'x', severity: 'info' } });
    expect(theirAgent.status).toBe(404);
    expect(theirAgent.body.error.code).toBe('RES_NOT_FOUND');
    const missingAgent = await server.call('POST', '/api/v1/alerts', { json: { agent_id: randomUUID(), title: 'x', severity: 'info' } });
    expect(missingAgent.body.error.message.replace(/[0-9a-f-]{36}/g, 'ID')).toBe(theirAgent.body.error.message.replace(/[0-9a-f-]{36}/g, 'ID'));
    const theirTeam = await server.call('POST', '/api/v1/alerts', { json: { team_id: outsiderTeam, title: 'x', severity: 'info' } });
    expect(theirTeam.status).toBe(404);
    // The outsider belongs to two teams: an agent of the one is refused for the other, and a team-wide
    // alert must say which team it is for.
    const second = await createTeam(server.url, outsider.token, `Outsiders too ${randomUUID().slice(0, 8)}`);
    const mismatch = await asOutsider('POST', '/api/v1/alerts', { team_id: second, agent_id: outsiderAgent, title: 'x', severity: 'info' });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.error).toMatchObject({ code: 'VAL_ERROR', details: [{ field: 'agent_id' }] });
    const ambiguous = await asOutsider('POST', '/api/v1/alerts', { title: 'x', severity: 'info' });
    expect(ambiguous.status).toBe(422);
    expect(ambiguous.body.error.code).toBe('VAL_REQUIRED_FIELD');
    expect((await asOutsider('POST', '/api/v1/alerts', { team_id: second, title: 'x', severity: 'info' })).body.data.team_id).toBe(second);
    expect((await asOutsider('POST', '/api/v1/alerts', { agent_id: outsiderAgent, title: 'x', severity: 'info' })).body.data.team_id).toBe(outsiderTeam);
  });

  it('keeps one unresolved alert per fingerprint and team; resolving frees it', async () => {
    const fp = fingerprint();
    const first = await raise({ agent_id: agent.id, title: 'Load above 8', severity: 'warning', fingerprint: fp });
    const again = await server.call('POST', '/api/v1/alerts', { json: { agent_id: agent.id, title: 'Load above 8', severity: 'warning', fingerprint: fp } });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'RES_ALREADY_EXISTS', details: [{ field: 'fingerprint', value: fp }] });
    await server.call('POST', `/api/v1/alerts/${first.id}/acknowledge`);
    expect((await server.call('POST', '/api/v1/alerts', { json: { title: 'Load above 8', severity: 'warning', team_id: server.teamId, fingerprint: fp } })).status).toBe(409);
    expect((await server.call('POST', `/api/v1/alerts/${first.id}/resolve`)).status).toBe(200);
    const next = await raise({ agent_id: agent.id, title: 'Load above 8 again', severity: 'warning', fingerprint: fp });
    expect(next.id).not.toBe(first.id);
  });
});

describe('acknowledge and resolve', () => {
  it('goes open → acknowledged → resolved, and refuses every other step with 409', async () => {
    const alert = await raise({ agent_id: agent.id, title: 'Service nginx down', severity: 'critical' });
    const acked = await server.call('POST', `/api/v1/alerts/${alert.id}/acknowledge`);
    expect(acked.status).toBe(200);
    expect(acked.body.data).toMatchObject({ status: 'acknowledged', acknowledged_by: adminId, resolved_by: null });
    expect(acked.body.data.acknowledged_at).toMatch(/Z$/);
    const twice = await server.call('POST', `/api/v1/alerts/${alert.id}/acknowledge`);
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('BIZ_ALERT_ALREADY_ACKNOWLEDGED');

    const resolved = await server.call('POST', `/api/v1/alerts/${alert.id}/resolve`);
    expect(resolved.status).toBe(200);
    expect(resolved.body.data).toMatchObject({ status: 'resolved', resolved_by: adminId, acknowledged_by: adminId });
    for (const action of ['acknowledge', 'resolve']) {
      const late = await server.call('POST', `/api/v1/alerts/${alert.id}/${action}`);
      expect(late.status, action).toBe(409);
      expect(late.body.error.code).toBe('BIZ_ALERT_RESOLVED');
    }
    expect((await server.call('GET', `/api/v1/alerts/${alert.id}`)).body.data).toEqual(resolved.body.data);
  });

  it('resolves an open alert directly', async () => {
    const alert = await raise({ title: 'Backup job late', severity: 'warning' });
    const resolved = await server.call('POST', `/api/v1/alerts/${alert.id}/resolve`);
    expect(resolved.body.data).toMatchObject({ status: 'resolved', acknowledged_by: null, acknowledged_at: null, resolved_by: adminId });
  });
});

describe('team scope and permissions', () => {
  it('answers 404 for another team’s alert, exactly as for a missing one, and changes nothing', async () => {
    const alert = await raise({ agent_id: agent.id, title: 'Memory above 95%', severity: 'critical' });
    for (const [method, suffix] of [['GET', ''], ['POST', '/acknowledge'], ['POST', '/resolve']] as const) {
      const theirs = await asOutsider(method, `/api/v1/alerts/${alert.id}${suffix}`);
      expect(theirs.status, `${method} ${suffix}`).toBe(404);
      expect(theirs.body.error.code).toBe('RES_NOT_FOUND');
      const missing = await asOutsider(method, `/api/v1/alerts/${randomUUID()}${suffix}`);
      expect(missing.body.error.message.replace(/[0-9a-f-]{36}/g, 'ID')).toBe(theirs.body.error.message.replace(/[0-9a-f-]{36}/g, 'ID'));
    }
    expect((await server.call('GET', `/api/v1/alerts/${alert.id}`)).body.data).toEqual(alert);
    const listed = await asOutsider('GET', '/api/v1/alerts?limit=100');
    expect(listed.body.data.filter((a: { team_id: string }) => a.team_id === server.teamId)).toEqual([]);
    expect((await asOutsider('GET', `/api/v1/alerts?team_id=${server.teamId}`)).body.data).toEqual([]);
  });

  it('lets a viewer read alerts but not raise, acknowledge or resolve them', async () => {
    const viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'viewer');
    const alert = await raise({ title: 'Viewer can see this', severity: 'info' });
    expect((await http(server.url, 'GET', `/api/v1/alerts/${alert.id}`, { headers: bearer(viewer.token) })).status).toBe(200);
    for (const [path, json] of [['/api/v1/alerts', { title: 'x', severity: 'info' }], ['/api/v1/alerts/bulk', { alerts: [{ title: 'x', severity: 'info' }] }], [`/api/v1/alerts/${alert.id}/acknowledge`, undefined]] as const) {
      const denied = await http(server.url, 'POST', path, { headers: bearer(viewer.token), json });
      expect(denied.status, path).toBe(403);
      expect(denied.body.error.code).toBe('PERM_DENIED');
    }
  });
});

describe('lists', () => {
  it('filters by severity, status, agent and time, and sorts by urgency (critical first)', async () => {
    const own = (await server.call('POST', '/api/v1/agents', { json: newAgent() })).body.data;
    const since = new Date(Date.now() - 1000).toISOString();
    const made = [];
    for (const severity of ['warning', 'info', 'critical', 'info', 'critical']) made.push(await raise({ agent_id: own.id, title: `Sorted ${severity}`, severity }));
    await server.call('POST', `/api/v1/alerts/${made[0].id}/acknowledge`);
    const ids = (res: { body: { data: Array<{ id: string }> } }) => res.body.data.map((a) => a.id);

    const bySeverity = await server.call('GET', `/api/v1/alerts?agent_id=${own.id}&sort=severity:desc,created_at:asc`);
    expect(bySeverity.status).toBe(200);
    expect(ids(bySeverity)).toEqual([made[2].id, made[4].id, made[0].id, made[1].id, made[3].id]);
    const critical = await server.call('GET', `/api/v1/alerts?agent_id=${own.id}&severity=critical`);
    expect(ids(critical).sort()).toEqual([made[2].id, made[4].id].sort());
    expect(critical.body.pagination).toMatchObject({ mode: 'offset', total: 2 });
    expect(ids(await server.call('GET', `/api/v1/alerts?agent_id=${own.id}&status=acknowledged`))).toEqual([made[0].id]);
    expect(ids(await server.call('GET', `/api/v1/alerts?agent_id=${own.id}&created_after=${encodeURIComponent(since)}&team_id=${server.teamId}`))).toHaveLength(5);
    expect(ids(await server.call('GET', `/api/v1/alerts?agent_id=${own.id}&created_before=${encodeURIComponent(since)}`))).toEqual([]);

    // Cursor pages in severity order walk the same rows as one page.
    const walked: string[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page += 1) {
      const res = await server.call('GET', `/api/v1/alerts?agent_id=${own.id}&sort=severity:desc,created_at:asc&limit=2&cursor=${cursor}`);
      expect(res.body.pagination.mode).toBe('cursor');
      walked.push(...ids(res));
      if (!res.body.pagination.next_cursor) break;
      cursor = res.body.pagination.next_cursor;
    }
    expect(walked).toEqual(ids(bySeverity));
    expect((await server.call('GET', '/api/v1/alerts?sort=title:asc')).status).toBe(400);
    expect((await server.call('GET', '/api/v1/alerts?severity=high')).status).toBe(400);
  });
});

describe('bulk creation', () => {
  it('is routed as its own operation, not as an alert id', async () => {
    const res = await server.call('POST', '/api/v1/alerts/bulk', { json: { alerts: [{ title: 'Routed', severity: 'info' }] } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ created: 1, failed: 0, results: [{ index: 0, status: 'created' }] });
    // `/alerts/bulk` is a path of its own: GET there is not `getAlert` with the id "bulk".
    const get = await server.call('GET', '/api/v1/alerts/bulk');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toContain('POST');
  });

  it('1,000 items with bad ones of every kind: exactly the good ones are created, results in order', async () => {
    const db = server.database.db;
    // A rule only the database knows, so that some batches are refused by it and must be retried item by item.
    await sql`create function refuse_marked_alert() returns trigger language plpgsql as $$
      begin
        if new.title like 'refused by the database%' then raise exception 'refused' using errcode = '23514'; end if;
        return new;
      end $$`.execute(db);
    await sql`create trigger refuse_marked_alert before insert on alerts for each row execute function refuse_marked_alert()`.execute(db);
    try {
      const source = `bulk-${randomUUID().slice(0, 8)}`;
      const taken = new Map<number, string>();
      for (let i = 79; i < 1000; i += 100) {
        const fp = fingerprint();
        taken.set(i, fp);
        await raise({ title: `Already open ${i}`, severity: 'info', fingerprint: fp });
      }
      const expected: Array<{ status: 'created' } | { status: 'failed'; code: string; field?: string }> = [];
      const alerts = Array.from({ length: 1000 }, (_, i): Record<string, unknown> => {
        const item: Record<string, unknown> = { title: `Bulk alert ${i}`, severity: ['info', 'warning', 'critical'][i % 3], source, fingerprint: `${source}-${i}` };
        if (i % 2 === 0) item.agent_id = agent.id;
        const bad = (code: string, field?: string) => expected.push({ status: 'failed', code, ...(field ? { field } : {}) });
        switch (i % 100) {
          case 3: delete item.title; bad('VAL_REQUIRED_FIELD', 'title'); break;
          case 17: item.severity = 'high'; bad('VAL_ERROR', 'severity'); break;
          case 29: item.agent_id = outsiderAgent; bad('RES_NOT_FOUND', 'agent_id'); break;
          case 41: item.agent_id = randomUUID(); bad('RES_NOT_FOUND', 'agent_id'); break;
          case 53: item.agent_id = 'web-01'; bad('VAL_INVALID_FORMAT', 'agent_id'); break;
          case 67: item.fingerprint = `${source}-${i - 1}`; bad('RES_ALREADY_EXISTS', 'fingerprint'); break;
          case 79: item.fingerprint = taken.get(i); bad('RES_ALREADY_EXISTS', 'fingerprint'); break;
          case 88: item.title = `refused by the database ${i}`; bad('SYS_INTERNAL_ERROR'); break;
          case 91: delete item.agent_id; item.team_id = outsiderTeam; bad('RES_NOT_FOUND'); break;
          case 0: if (i === 500) { delete item.title; item.severity = 'urgent'; bad('VAL_MULTIPLE_ERRORS'); } else expected.push({ status: 'created' }); break;
          default: expected.push({ status: 'created' });
        }
        return item;
      });
      const good = expected.filter((e) => e.status === 'created').length;
      expect(good).toBe(909);

      const res = await server.call('POST', '/api/v1/alerts/bulk', { json: { alerts } });
      expect(res.status).toBe(200);
      const { created, failed, results } = res.body.data;
      expect({ created, failed }).toEqual({ created: 909, failed: 91 });
      expect(results.map((r: { index: number }) => r.index)).toEqual([...Array(1000).keys()]);
      results.forEach((result: { status: string; id?: string; error?: { code: string; details?: Array<{ field: string }> } }, i: number) => {
        const want = expected[i]!;
        expect(result.status, `item ${i}`).toBe(want.status);
        if (want.status === 'created') {
          expect(result.id, `item ${i}`).toMatch(/^[0-9a-f-]{36}$/);
          expect(result.error).toBeUndefined();
        } else {
          expect(result.error?.code, `item ${i}`).toBe(want.code);
          if (want.field) expect(result.error?.details?.map((d) => d.field), `item ${i}`).toContain(want.field);
          expect(result.id).toBeUndefined();
        }
      });

      // Exactly the good ones are stored, each as its item said; nothing of the bad ones.
      const stored = await db.selectFrom('alerts').select(['id', 'title', 'agent_id', 'team_id', 'severity', 'fingerprint', 'status']).where('source', '=', source).execute();
      expect(stored).toHaveLength(909);
      const byId = new Map(stored.map((row) => [row.id, row]));
      results.forEach((result: { status: string; id?: string }, i: number) => {
        if (result.status !== 'created') return;
        const row = byId.get(result.id!);
        expect(row, `item ${i}`).toMatchObject({ title: alerts[i]!.title, severity: alerts[i]!.severity, fingerprint: alerts[i]!.fingerprint, agent_id: alerts[i]!.agent_id ?? null, team_id: server.teamId, status: 'open' });
      });
      expect(stored.some((row) => row.title.startsWith('refused by the database'))).toBe(false);
      const listed = await server.call('GET', `/api/v1/alerts?agent_id=${agent.id}&limit=100&created_after=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`);
      expect(listed.status).toBe(200);
    } finally {
      await sql`drop trigger refuse_marked_alert on alerts`.execute(db);
      await sql`drop function refuse_marked_alert()`.execute(db);
    }
  });

  it('a database outage mid-way answers 503 and leaves nothing of the request', async () => {
    const db = server.database.db;
    await sql`create function drop_connection_alert() returns trigger language plpgsql as $$
      begin
        if new.title = 'the connection drops here' then raise exception 'connection lost' using errcode = '08006'; end if;
        return new;
      end $$`.execute(db);
    await sql`create trigger drop_connection_alert before insert on alerts for each row execute function drop_connection_alert()`.execute(db);
    try {
      const source = `outage-${randomUUID().slice(0, 8)}`;
      // Three batches of 200 go in before the fourth meets the outage.
      const alerts = Array.from({ length: 800 }, (_, i) => ({ title: i === 700 ? 'the connection drops here' : `Outage ${i}`, severity: 'info', source }));
      const res = await server.call('POST', '/api/v1/alerts/bulk', { json: { alerts } });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('EXT_DATABASE_ERROR');
      expect(await db.selectFrom('alerts').select('id').where('source', '=', source).execute()).toEqual([]);
    } finally {
      await sql`drop trigger drop_connection_alert on alerts`.execute(db);
      await sql`drop function drop_connection_alert()`.execute(db);
    }
  });

  it('refuses a body of the wrong shape as a whole, creating nothing', async () => {
    const source = `shape-${randomUUID().slice(0, 8)}`;
    const ok = { title: 'Shape', severity: 'info', source };
    const refusals: Array<[unknown, number]> = [
      [{}, 422],
      [{ alerts: [] }, 422],
      [{ alerts: Array.from({ length: 1001 }, () => ok) }, 422],
      [{ alerts: [ok, 'not an object'] }, 422],
      [{ alerts: [ok, { ...ok, colour: 'red' }] }, 422],
      [{ alerts: [ok, { ...ok, title: 'x'.repeat(201) }] }, 422],
      [{ alerts: [ok, { ...ok, message: { nested: true } }] }, 422],
      // A scalar that is not a string is the wrong JSON type: bodies are never converted.
      [{ alerts: [ok, { ...ok, severity: null }] }, 422],
      [{ alerts: [ok, { ...ok, title: 42 }] }, 422],
      [{ alerts: [ok, { ...ok, title: 'Disk\u0000' }] }, 422],
      [{ alerts: Array.from({ length: 1000 }, () => ({ ...ok, message: 'm'.repeat(1500) })) }, 413],
    ];
    for (const [json, status] of refusals) {
      const res = await server.call('POST', '/api/v1/alerts/bulk', { json });
      expect(res.status, JSON.stringify(json).slice(0, 80)).toBe(status);
      expect(res.body.success).toBe(false);
    }
    expect(await server.database.db.selectFrom('alerts').select('id').where('source', '=', source).execute()).toEqual([]);
    // A string severity that AlertCreate does not allow fails its item only.
    const unknown = await server.call('POST', '/api/v1/alerts/bulk', { json: { alerts: [{ ...ok, severity: 'dire' }] } });
    expect(unknown.status).toBe(200);
    expect(unknown.body.data).toMatchObject({ created: 0, failed: 1, results: [{ index: 0, status: 'failed', error: { code: 'VAL_ERROR' } }] });
  });

  it('replays the first answer for the same Idempotency-Key, and creates nothing twice', async () => {
    const source = `idem-${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    const body = { alerts: [{ title: 'Idempotent 1', severity: 'warning', source, fingerprint: `${source}-1` }, { title: 'Idempotent 2', severity: 'info', source, agent_id: randomUUID() }] };
    const first = await server.call('POST', '/api/v1/alerts/bulk', { json: body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(200);
    expect(first.body.data).toMatchObject({ created: 1, failed: 1 });
    const again = await server.call('POST', '/api/v1/alerts/bulk', { json: body, headers: { 'idempotency-key': key } });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.data).toEqual(first.body.data);
    const other = await server.call('POST', '/api/v1/alerts/bulk', { json: { alerts: [body.alerts[0]] }, headers: { 'idempotency-key': key } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('VAL_IDEMPOTENCY_KEY_REUSED');
    expect(await server.database.db.selectFrom('alerts').select('id').where('source', '=', source).execute()).toHaveLength(1);
    // Without a key, the fingerprint still keeps a resent request from raising the same alert twice.
    const resent = await server.call('POST', '/api/v1/alerts/bulk', { json: body });
    expect(resent.body.data).toMatchObject({ created: 0, failed: 2, results: [{ error: { code: 'RES_ALREADY_EXISTS' } }, { error: { code: 'RES_NOT_FOUND' } }] });
  });
});
