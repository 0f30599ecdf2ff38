// Package vulnerabilities over HTTP: an administrator imports the OSV fixture (npm, PyPI, Debian and Ubuntu
// advisories with introduced/fixed ranges, last_affected, explicit versions and a withdrawn one); enrolled hosts
// report packages (ecosystems given or taken from their operating system); the lists show exactly the affected
// packages of the caller's teams, at the range boundaries too, and follow every later report and import.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createOutsider, createUser, type TestUser } from '../support/identity.ts';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/osv/advisories.json', import.meta.url), 'utf8')) as { id: string; modified: string; [k: string]: unknown }[];
const IMPORT = '/api/v1/inventory/packages/vulnerabilities/advisories';
const LIST = '/api/v1/inventory/packages/vulnerabilities';

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

const hardware = { cpu_model: 'AMD EPYC 7R13 Processor', cpu_cores: 4, memory_bytes: 8_589_934_592, disk_bytes: 107_374_182_400 };

async function enrol(osVersion: string | null, asOutsider = false) {
  const headers = bearer(asOutsider ? outsider.token : server.adminToken);
  const team = asOutsider ? outsiderTeam : server.teamId;
  const token = (await http(server.url, 'POST', `/api/v1/teams/${team}/enrollment-tokens`, { headers, json: { name: 'vulnerability tests' } })).body.data.secret;
  const res = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent(osVersion ? { os_version: osVersion } : {}) } });
  expect(res.status).toBe(201);
  const key = res.body.data.agent_key as string;
  return {
    id: res.body.data.agent.id as string,
    key,
    hostname: res.body.data.agent.hostname as string,
    report: async (packages: Record<string, unknown>[]) => {
      const reported = await http(server.url, 'PUT', '/api/v1/agent/inventory', { headers: { 'x-api-key': key }, json: { packages, services: [], hardware } });
      expect(reported.status).toBe(200);
    },
  };
}

const importAs = (token: string, advisories: unknown[]) => http(server.url, 'POST', IMPORT, { headers: bearer(token), json: { advisories } });
const list = async (query = '', token = server.adminToken) => {
  const res = await http(server.url, 'GET', `${LIST}${query}`, { headers: bearer(token) });
  expect(res.status).toBe(200);
  return res;
};
type Item = { agent_id: string; name: string; version: string; ecosystem: string; advisory_id: string; severity: string; fixed_versions: string[]; aliases: string[] };
/** `hostname name version advisory`, as a stable picture of a list. */
const rows = (res: { body: { data: Item[] } }, hosts: Record<string, string>) =>
  res.body.data.map((i) => `${hosts[i.agent_id] ?? i.agent_id} ${i.name} ${i.version} ${i.advisory_id}`).sort();

describe('package vulnerabilities', () => {
  let debian: Awaited<ReturnType<typeof enrol>>;
  let ubuntu: Awaited<ReturnType<typeof enrol>>;
  let bullseye: Awaited<ReturnType<typeof enrol>>;
  let foreign: Awaited<ReturnType<typeof enrol>>;
  let hosts: Record<string, string>;

  beforeAll(async () => {
    // Reports before the import: the import matches them.
    debian = await enrol('Debian GNU/Linux 12 (bookworm)');
    ubuntu = await enrol('Ubuntu 24.04.1 LTS');
    bullseye = await enrol('Debian GNU/Linux 11 (bullseye)');
    foreign = await enrol('Debian GNU/Linux 12 (bookworm)', true);
    hosts = { [debian.id]: 'debian', [ubuntu.id]: 'ubuntu', [bullseye.id]: 'bullseye', [foreign.id]: 'foreign' };
    await debian.report([
      { name: 'openssl', version: '3.0.9-1', architecture: 'amd64' }, // Debian:12 from the OS, below the fix
      { name: 'libc6', version: '2.36-9+deb12u4', architecture: 'amd64' },
      { name: 'lodash', version: '4.17.20', ecosystem: 'npm' }, // just below fixed
      { name: 'minimist', version: '1.2.5', ecosystem: 'npm' }, // equal to last_affected: affected
      { name: 'left-pad', version: '1.0.0', ecosystem: 'npm' }, // only a withdrawn advisory
      { name: 'requests', version: '2.31.0', ecosystem: 'PyPI' }, // equal to fixed: not affected
    ]);
    await ubuntu.report([
      { name: 'openssl', version: '3.0.13-0ubuntu3.4', architecture: 'amd64' }, // Ubuntu:24.04 matches Ubuntu:24.04:LTS
      { name: 'lodash', version: '4.17.21', ecosystem: 'npm' }, // equal to fixed: not affected
      { name: 'minimist', version: '1.2.6', ecosystem: 'npm' }, // above last_affected
      { name: 'requests', version: '2.3.0', ecosystem: 'PyPI' }, // equal to introduced: affected
      { name: 'pyyaml', version: '5.3.1', ecosystem: 'PyPI' }, // listed explicitly
      { name: 'pyyaml', version: '5.4', ecosystem: 'PyPI' }, // not listed
    ]);
    await bullseye.report([{ name: 'openssl', version: '1.1.1n-0+deb11u5', architecture: 'amd64' }]); // Debian:11: another release
    await foreign.report([{ name: 'openssl', version: '3.0.9-1' }]);
  });

  it('refuses the import to a non-administrator (403) and takes the fixture from an administrator', async () => {
    const operator = await createUser(server.url, server.adminToken, 'operator', [server.teamId]);
    const refused = await importAs(operator.token, fixture);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('PERM_DENIED');
    expect((await list()).body.data).toEqual([]);

    const imported = await importAs(server.adminToken, fixture);
    expect(imported.status).toBe(200);
    expect(imported.body.data).toMatchObject({ created: 7, updated: 0, unchanged: 0 });
    expect(imported.body.data.results).toEqual([
      { id: 'GHSA-test-lodash-0001', status: 'created', severity: 'high', matches: 1 },
      { id: 'GHSA-test-minimist-0002', status: 'created', severity: 'critical', matches: 1 },
      { id: 'GHSA-test-leftpad-0003', status: 'created', severity: 'critical', matches: 0 },
      { id: 'PYSEC-test-requests-0004', status: 'created', severity: 'medium', matches: 1 },
      { id: 'PYSEC-test-pyyaml-0005', status: 'created', severity: 'high', matches: 1 },
      // The other team's host counts too: advisories are global.
      { id: 'DSA-test-openssl-0006', status: 'created', severity: 'low', matches: 2 },
      { id: 'USN-test-openssl-0007', status: 'created', severity: 'high', matches: 1 },
    ]);
    // Audited as the administrator's write.
    // Recording happens once the answer is sent; give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const audit = await server.call('GET', '/api/v1/admin/audit?operation_id=importAdvisories');
    expect(audit.body.data.map((e: { status: number; actor: { email: string } }) => `${e.status} ${e.actor.email}`).sort()).toEqual([`200 admin@test.example.com`, `403 ${operator.email}`]);
  });

  it('lists exactly the affected packages of the caller\'s teams, most severe first, boundaries included', async () => {
    const all = await list();
    expect(rows(all, hosts)).toEqual([
      'debian lodash 4.17.20 GHSA-test-lodash-0001',
      'debian minimist 1.2.5 GHSA-test-minimist-0002',
      'debian openssl 3.0.9-1 DSA-test-openssl-0006',
      'ubuntu openssl 3.0.13-0ubuntu3.4 USN-test-openssl-0007',
      'ubuntu pyyaml 5.3.1 PYSEC-test-pyyaml-0005',
      'ubuntu requests 2.3.0 PYSEC-test-requests-0004',
    ]);
    expect(all.body.data.map((i: Item) => i.severity)).toEqual(['critical', 'high', 'high', 'high', 'medium', 'low']);
    expect(all.body.pagination).toMatchObject({ mode: 'offset', total: 6 });
    expect(all.headers.get('etag')).toBeTruthy();
    const dsa = all.body.data.find((i: Item) => i.advisory_id === 'DSA-test-openssl-0006');
    expect(dsa).toEqual({
      agent_id: debian.id,
      hostname: debian.hostname,
      team_id: server.teamId,
      ecosystem: 'Debian:12',
      name: 'openssl',
      version: '3.0.9-1',
      architecture: 'amd64',
      advisory_id: 'DSA-test-openssl-0006',
      aliases: ['CVE-2023-5678'],
      summary: 'openssl - security update',
      severity: 'low',
      fixed_versions: ['3.0.11-1~deb12u1'],
      published_at: '2023-11-06T00:00:00.000Z',
      modified_at: '2026-11-01T10:00:00.000Z',
    });
    expect(all.body.data.find((i: Item) => i.name === 'minimist').fixed_versions).toEqual([]);
    expect(all.body.data.find((i: Item) => i.name === 'requests').fixed_versions).toEqual(['2.31.0']);
    // The other team sees its own host only.
    expect(rows(await list('', outsider.token), hosts)).toEqual(['foreign openssl 3.0.9-1 DSA-test-openssl-0006']);
  });

  it('filters by severity, agent, advisory id or alias, package name and ecosystem, and pages', async () => {
    expect(rows(await list('?severity=critical'), hosts)).toEqual(['debian minimist 1.2.5 GHSA-test-minimist-0002']);
    expect(rows(await list(`?agent_id=${ubuntu.id}&severity=high`), hosts)).toEqual(['ubuntu openssl 3.0.13-0ubuntu3.4 USN-test-openssl-0007', 'ubuntu pyyaml 5.3.1 PYSEC-test-pyyaml-0005']);
    expect(rows(await list('?advisory_id=CVE-2023-32681'), hosts)).toEqual(['ubuntu requests 2.3.0 PYSEC-test-requests-0004']);
    expect(rows(await list('?advisory_id=DSA-test-openssl-0006'), hosts)).toEqual(['debian openssl 3.0.9-1 DSA-test-openssl-0006']);
    expect(rows(await list('?name=openssl&sort=hostname:asc'), hosts)).toHaveLength(2);
    expect(rows(await list('?ecosystem=npm'), hosts)).toEqual(['debian lodash 4.17.20 GHSA-test-lodash-0001', 'debian minimist 1.2.5 GHSA-test-minimist-0002']);
    expect((await list(`?team_id=${outsiderTeam}`)).body.data).toEqual([]);
    expect((await http(server.url, 'GET', `${LIST}?severity=severe`, { headers: bearer(server.adminToken) })).status).toBe(400);
    expect((await http(server.url, 'GET', `${LIST}?sort=version:asc`, { headers: bearer(server.adminToken) })).status).toBe(400);

    const byOffset = (await list('?limit=100')).body.data.map((i: Item) => `${i.agent_id} ${i.name} ${i.advisory_id}`);
    const byCursor: string[] = [];
    let query = '?limit=4&cursor=';
    for (;;) {
      const page = await list(query);
      byCursor.push(...page.body.data.map((i: Item) => `${i.agent_id} ${i.name} ${i.advisory_id}`));
      if (!page.body.pagination.next_cursor) break;
      query = `?limit=4&cursor=${page.body.pagination.next_cursor}`;
    }
    expect(byCursor).toEqual(byOffset);
  });

  it('answers the per-agent view, and 404 for another team\'s agent', async () => {
    const mine = await http(server.url, 'GET', `/api/v1/agents/${debian.id}/vulnerabilities?sort=name:asc`, { headers: bearer(server.adminToken) });
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((i: Item) => i.name)).toEqual(['lodash', 'minimist', 'openssl']);
    const filtered = await http(server.url, 'GET', `/api/v1/agents/${debian.id}/vulnerabilities?severity=low`, { headers: bearer(server.adminToken) });
    expect(filtered.body.data.map((i: Item) => i.advisory_id)).toEqual(['DSA-test-openssl-0006']);
    expect((await http(server.url, 'GET', `/api/v1/agents/${bullseye.id}/vulnerabilities`, { headers: bearer(server.adminToken) })).body.data).toEqual([]);
    for (const [agent, token] of [
      [foreign.id, server.adminToken],
      [debian.id, outsider.token],
      ['0192f0c1-0000-7000-8000-000000000000', server.adminToken],
    ] as const) {
      const res = await http(server.url, 'GET', `/api/v1/agents/${agent}/vulnerabilities`, { headers: bearer(token) });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('RES_NOT_FOUND');
    }
  });

  it('follows new reports: an upgrade clears a match, a new host is matched at once', async () => {
    await ubuntu.report([
      { name: 'openssl', version: '3.0.13-0ubuntu3.5', architecture: 'amd64' }, // the fixed version
      { name: 'requests', version: '2.3.0', ecosystem: 'PyPI' },
    ]);
    expect(rows(await list(`?agent_id=${ubuntu.id}`), hosts)).toEqual(['ubuntu requests 2.3.0 PYSEC-test-requests-0004']);
    // `Ubuntu:24.04` given and taken from the system are one ecosystem: the same package twice.
    const twice = await http(server.url, 'PUT', '/api/v1/agent/inventory', {
      headers: { 'x-api-key': ubuntu.key },
      json: { packages: [{ name: 'zlib1g', version: '1.3' }, { name: 'zlib1g', version: '1.3', ecosystem: 'Ubuntu:24.04' }], services: [], hardware },
    });
    expect(twice.status).toBe(422);
    expect(twice.body.error.details).toEqual([{ field: 'packages.1', message: 'repeats package zlib1g 1.3 of Ubuntu:24.04' }]);
    const late = await enrol('Ubuntu 24.04.1 LTS');
    hosts[late.id] = 'late';
    await late.report([{ name: 'openssl', version: '3.0.13-0ubuntu3' }]);
    expect(rows(await list(`?agent_id=${late.id}`), hosts)).toEqual(['late openssl 3.0.13-0ubuntu3 USN-test-openssl-0007']);
  });

  it('re-imports idempotently, and replaces an advisory only with a later one', async () => {
    const before = rows(await list('?limit=100'), hosts);
    const again = await importAs(server.adminToken, fixture);
    expect(again.status).toBe(200);
    expect(again.body.data).toMatchObject({ created: 0, updated: 0, unchanged: 7 });
    expect(rows(await list('?limit=100'), hosts)).toEqual(before);

    const dsa = fixture.find((a) => a.id === 'DSA-test-openssl-0006')!;
    // An older document changes nothing; a newer one whose fix came earlier clears the Debian host.
    const fixedEarlier = { affected: [{ package: { ecosystem: 'Debian', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.9-1' }] }] }] };
    const older = await importAs(server.adminToken, [{ ...dsa, ...fixedEarlier, modified: '2026-10-01T00:00:00Z' }]);
    expect(older.body.data.results).toEqual([{ id: 'DSA-test-openssl-0006', status: 'unchanged', severity: 'low', matches: 2 }]);
    const newer = await importAs(server.adminToken, [{ ...dsa, ...fixedEarlier, modified: '2026-11-20T00:00:00Z', database_specific: { severity: 'CRITICAL' } }]);
    // `Debian` (no release) now reaches the bullseye host, whose 1.1.1n is below 3.0.9-1.
    expect(newer.body.data.results).toEqual([{ id: 'DSA-test-openssl-0006', status: 'updated', severity: 'critical', matches: 1 }]);
    expect(rows(await list('?advisory_id=CVE-2023-5678'), hosts)).toEqual(['bullseye openssl 1.1.1n-0+deb11u5 DSA-test-openssl-0006']);
    expect((await list('?advisory_id=CVE-2023-5678')).body.data[0].severity).toBe('critical');
  });

  it('refuses malformed documents with 422 naming each document and field, and stores none of the request', async () => {
    const good = { id: 'GHSA-test-good-0100', modified: '2026-11-01T10:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }] };
    const noModified = await importAs(server.adminToken, [good, { id: 'GHSA-test-bad-0101' }]);
    expect(noModified.status).toBe(422);
    expect(noModified.body.error.details.map((d: { field: string }) => d.field)).toContain('advisories.1.modified');

    const semantic = await importAs(server.adminToken, [
      good,
      { id: 'GHSA-test-bad-0102', modified: '2026-11-01T10:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0' }, { fixed: 'banana' }] }] }] },
      { id: 'GHSA-test-bad-0103', modified: '2026-11-01T10:00:00Z', affected: [{ package: { ecosystem: 'Debian:12', name: 'x' }, ranges: [{ type: 'ECOSYSTEM', events: [{ fixed: '1.0-1' }] }] }] },
      { id: 'GHSA-test-bad-0104', modified: '2026-11-01T10:00:00Z', severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/nonsense' }] },
      { ...good },
    ]);
    expect(semantic.status).toBe(422);
    expect(semantic.body.error.code).toBe('VAL_MULTIPLE_ERRORS');
    expect(semantic.body.error.details.map((d: { field: string }) => d.field)).toEqual([
      'advisories.1.affected.0.ranges.0.events.0.introduced',
      'advisories.1.affected.0.ranges.0.events.1.fixed',
      'advisories.2.affected.0.ranges.0.events',
      'advisories.3.severity.0.score',
      'advisories.4.id',
    ]);
    const event = await importAs(server.adminToken, [{ ...good, affected: [{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1.0.0' }] }] }] }]);
    expect(event.status).toBe(422);
    expect((await list('?advisory_id=GHSA-test-good-0100')).body.data).toEqual([]);
  });

  it('bounds the request: more than 500 documents is 422, a body over the limit 413', async () => {
    const many = Array.from({ length: 501 }, (_, i) => ({ id: `GHSA-test-many-${i}`, modified: '2026-11-01T10:00:00Z' }));
    const tooMany = await importAs(server.adminToken, many);
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.error.details[0].field).toBe('advisories');
    const huge = await importAs(server.adminToken, [{ id: 'GHSA-test-huge-0200', modified: '2026-11-01T10:00:00Z', references: [{ type: 'WEB', url: 'x'.repeat(1_100_000) }] }]);
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('VAL_PAYLOAD_TOO_LARGE');
  });
});
