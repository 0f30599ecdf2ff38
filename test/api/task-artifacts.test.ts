// Task artifacts over HTTP: an agent uploads a file for its own task (streamed, size-bounded by the contract,
// content type and SHA-256 recorded) and the task's team downloads it byte for byte, whole or by range; refused
// uploads (too large with or without a Content-Length, another agent's task, a bad or taken name, a user's
// credential) leave nothing behind.
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPolicy } from '../../server/modules/task-artifacts/task-artifacts.policy.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createOutsider } from '../support/identity.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

async function enrol() {
  const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'artifacts' } })).body.data.secret;
  const res = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent() } });
  expect(res.status).toBe(201);
  return { agentId: res.body.data.agent.id as string, key: res.body.data.agent_key as string };
}

/** A task of the agent (a command queued by the administrator). */
async function taskOf(agentId: string): Promise<string> {
  const res = await server.call('POST', `/api/v1/agents/${agentId}/actions/command`, { json: { command: 'tar', args: ['czf', 'logs.tgz', '/var/log'] } });
  expect(res.status).toBe(202);
  return res.body.data.task_id as string;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: any;
  /** Whether the server closed the connection after answering. */
  closed: boolean;
}

/**
 * A raw upload over node:http, which takes the answer even while the body is still being sent (a refused upload
 * is answered before it is read). `pieces` are sent one after the other; without `length` the body is chunked.
 */
function upload(path: string, options: { key?: string; headers?: Record<string, string>; pieces: Iterable<Buffer>; length?: number; contentType?: string | null }): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers['x-api-key'] = options.key;
  if (options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/octet-stream';
  if (options.length !== undefined) headers['content-length'] = String(options.length);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(new URL(path, server.url), { method: 'POST', headers }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => {
        const body = Buffer.concat(parts);
        let json: unknown;
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, json, closed: res.headers.connection === 'close' });
        req.destroy();
      });
    });
    // Writing after the server answered and closed fails (EPIPE, ECONNRESET): that is the refusal, not an error.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const pieces = options.pieces[Symbol.iterator]();
    const next = (): void => {
      if (answered) return;
      const { value, done } = pieces.next();
      if (done) return void req.end();
      if (req.write(value)) setImmediate(next);
      else req.once('drain', next);
    };
    next();
  });
}

const artifactsOf = (taskId: string) => `/api/v1/agent/tasks/${taskId}/artifacts`;
const named = (taskId: string, name: string) => `${artifactsOf(taskId)}?name=${encodeURIComponent(name)}`;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function download(path: string, headers: Record<string, string> = {}, token = server.adminToken) {
  const res = await fetch(`${server.url}${path}`, { headers: { ...bearer(token), ...headers } });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Rows of artifacts and chunks of a task, and chunks that belong to no artifact. */
async function rowsLeft(taskId: string): Promise<{ artifacts: number; orphanChunks: number }> {
  const db = server.database.db;
  const artifacts = (await db.selectFrom('task_artifacts').select(sql<number>`count(*)::int`.as('n')).where('task_id', '=', taskId).executeTakeFirstOrThrow()).n;
  const orphans = await sql<{ n: number }>`select count(*)::int as n from task_artifact_chunks c where not exists (select 1 from task_artifacts a where a.id = c.artifact_id)`.execute(db);
  return { artifacts, orphanChunks: orphans.rows[0]!.n };
}

/** `size` random bytes in pieces of at most 64 KiB, as a client streams them. */
function* piecesOf(bytes: Buffer, piece = 65_536): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += piece) yield bytes.subarray(at, at + piece);
}

describe('an artifact uploaded by its agent downloads byte for byte', () => {
  // ~3 MB, not a whole number of chunks, so the last chunk is a short one.
  const file = randomBytes(3 * 1024 * 1024 + 12_345);
  let taskId: string;
  let location: string;
  let etag: string;

  beforeAll(async () => {
    const { agentId, key } = await enrol();
    taskId = await taskOf(agentId);
    // Sent chunked (no Content-Length), as a stream, and declared JSON although it is not: raw bytes are never parsed.
    const res = await upload(named(taskId, 'dump.bin'), { key, pieces: piecesOf(file), contentType: 'application/json' });
    expect(res.status).toBe(201);
    location = res.headers.location as string;
    expect(location).toBe(`/api/v1/tasks/${taskId}/artifacts/${res.json.data.id}`);
    expect(res.json.data).toMatchObject({ task_id: taskId, team_id: server.teamId, agent_id: agentId, name: 'dump.bin', content_type: 'application/json', size_bytes: file.length, sha256: sha256(file) });
  });

  it('whole, with its media type, length, name, a strong ETag from its digest, and byte ranges offered', async () => {
    const res = await download(location);
    expect(res.status).toBe(200);
    expect(sha256(res.body)).toBe(sha256(file));
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('content-length')).toBe(String(file.length));
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="dump.bin"; filename*=UTF-8''dump.bin`);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    etag = res.headers.get('etag')!;
    expect(etag).toBe(`"${createHash('sha256').update(file).digest('base64url')}"`);
  });

  it('answers 304 to If-None-Match with its ETag, and the whole file to a stale one', async () => {
    const fresh = await download(location, { 'if-none-match': etag });
    expect(fresh.status).toBe(304);
    expect(fresh.body.length).toBe(0);
    expect(fresh.headers.get('etag')).toBe(etag);
    expect((await download(location, { 'if-none-match': '"stale"' })).status).toBe(200);
  });

  it('serves one byte range as 206: the first bytes, across a chunk boundary, a suffix, an open end', async () => {
    const chunk = artifactPolicy.chunkBytes;
    const cases: Array<[string, number, number]> = [
      ['bytes=0-99', 0, 99],
      [`bytes=${chunk - 10}-${chunk + 9}`, chunk - 10, chunk + 9],
      ['bytes=-500', file.length - 500, file.length - 1],
      [`bytes=${2 * chunk + 1}-`, 2 * chunk + 1, file.length - 1],
      [`bytes=${file.length - 1}-${file.length + 1000}`, file.length - 1, file.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await download(location, { range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/${file.length}`);
      expect(res.headers.get('content-length'), range).toBe(String(end - start + 1));
      expect(res.body.equals(file.subarray(start, end + 1)), range).toBe(true);
    }
  });

  it('answers 416 to a range beyond the end, with the size in Content-Range', async () => {
    const res = await download(location, { range: `bytes=${file.length}-` });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${file.length}`);
    expect(JSON.parse(res.body.toString()).error.code).toBe('VAL_RANGE_NOT_SATISFIABLE');
  });

  it('sends the whole file for several ranges, a malformed one, or an If-Range that is not its ETag', async () => {
    const asked: Array<Record<string, string>> = [{ range: 'bytes=0-1,5-9' }, { range: 'lines=1-2' }, { range: 'bytes=0-99', 'if-range': '"another"' }];
    for (const headers of asked) {
      const res = await download(location, headers);
      expect(res.status, JSON.stringify(headers)).toBe(200);
      expect(res.body.length).toBe(file.length);
    }
    expect((await download(location, { range: 'bytes=0-99', 'if-range': etag })).status).toBe(206);
  });

  it('lists the task artifacts', async () => {
    const res = await server.call('GET', `/api/v1/tasks/${taskId}/artifacts?limit=10`);
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0]).toMatchObject({ name: 'dump.bin', size_bytes: file.length, sha256: sha256(file) });
    expect(res.body.pagination).toMatchObject({ total: 1 });
  });

  it('is another team’s 404: listed or downloaded', async () => {
    const { outsider } = await createOutsider(server.url, server.adminToken);
    expect((await download(location, {}, outsider.token)).status).toBe(404);
    expect((await http(server.url, 'GET', `/api/v1/tasks/${taskId}/artifacts`, { headers: bearer(outsider.token) })).status).toBe(404);
  });
});

describe('uploads that are refused store nothing', () => {
  let key: string;
  let taskId: string;
  beforeAll(async () => {
    const agent = await enrol();
    key = agent.key;
    taskId = await taskOf(agent.agentId);
  });

  it('refuses a Content-Length over the limit with 413 before reading the body, and closes the connection', async () => {
    const res = await upload(named(taskId, 'huge.bin'), { key, pieces: [randomBytes(1024)], length: artifactPolicy.maxBytes + 1 });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('VAL_PAYLOAD_TOO_LARGE');
    expect(res.closed).toBe(true);
    expect(await rowsLeft(taskId)).toEqual({ artifacts: 0, orphanChunks: 0 });
  });

  it('cuts a body sent without a length when it passes the limit (413), and keeps none of what it wrote', async () => {
    const piece = Buffer.alloc(1024 * 1024, 7);
    const pieces = Array.from({ length: Math.ceil(artifactPolicy.maxBytes / piece.length) + 4 }, () => piece);
    const res = await upload(named(taskId, 'endless.bin'), { key, pieces });
    expect(res.status).toBe(413);
    expect(res.closed).toBe(true);
    expect(await rowsLeft(taskId)).toEqual({ artifacts: 0, orphanChunks: 0 });
    // The limit's worth of chunks is written before the cut: slow on the embedded database.
  }, 120_000);

  it('keeps nothing of an upload whose client goes away halfway, and the name stays free', async () => {
    const agent = await enrol();
    const ownTask = await taskOf(agent.agentId);
    const path = named(ownTask, 'interrupted.bin');
    const req = request(new URL(path, server.url), { method: 'POST', headers: { 'x-api-key': agent.key, 'content-type': 'application/octet-stream' } });
    req.on('error', () => {});
    req.write(randomBytes(3 * artifactPolicy.chunkBytes));
    // The upload's transaction, open once it wrote a chunk (other transactions, the background workers', are not
    // counted).
    const db = server.database.db;
    const uploading = async () =>
      (
        await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
          where datname = current_database() and xact_start is not null and query like 'insert into "task_artifact_chunks"%'`.execute(db)
      ).rows[0]!.n;
    const until = async (open: number) => {
      let seen = await uploading();
      for (let waited = 0; seen !== open && waited < 10_000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        seen = await uploading();
      }
      return seen;
    };
    expect(await until(1)).toBe(1);
    req.destroy();
    // It ends, rolled back, once the server sees the connection gone.
    expect(await until(0)).toBe(0);
    expect(await rowsLeft(ownTask)).toEqual({ artifacts: 0, orphanChunks: 0 });
    expect((await upload(path, { key: agent.key, pieces: [Buffer.from('whole this time')] })).status).toBe(201);
  });

  it('answers 404 for a task of another agent of the same team, and for no task at all', async () => {
    const other = await enrol();
    const othersTask = await taskOf(other.agentId);
    const res = await upload(named(othersTask, 'stolen.log'), { key, pieces: [Buffer.from('nope')] });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('RES_NOT_FOUND');
    expect((await upload(named('0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f', 'x.log'), { key, pieces: [Buffer.from('nope')] })).status).toBe(404);
    expect(await rowsLeft(othersTask)).toEqual({ artifacts: 0, orphanChunks: 0 });
  });

  it('refuses a name that is a path, hidden, or missing, as an invalid parameter (400)', async () => {
    for (const name of ['../etc/passwd', 'a/b.log', '.hidden', 'trailing.', ' lead', 'bell\u0007.log', 'rtl\u202egol.exe']) {
      const res = await upload(named(taskId, name), { key, pieces: [Buffer.from('x')] });
      expect(res.status, name).toBe(400);
      expect(res.json.error.code, name).toBe('VAL_INVALID_PARAMETER');
    }
    expect((await upload(artifactsOf(taskId), { key, pieces: [Buffer.from('x')] })).status).toBe(400);
    expect(await rowsLeft(taskId)).toEqual({ artifacts: 0, orphanChunks: 0 });
  });

  it('refuses a name the task already has (409), keeping the first file', async () => {
    expect((await upload(named(taskId, 'report.txt'), { key, pieces: [Buffer.from('first')], contentType: 'text/plain; charset=utf-8' })).status).toBe(201);
    const again = await upload(named(taskId, 'report.txt'), { key, pieces: [Buffer.from('second')] });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('RES_ALREADY_EXISTS');
    const listed = (await server.call('GET', `/api/v1/tasks/${taskId}/artifacts`)).body.data;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: 'report.txt', content_type: 'text/plain; charset=utf-8', sha256: sha256(Buffer.from('first')) });
  });

  it('refuses a user’s credential: uploading is the agent’s (403)', async () => {
    const res = await upload(named(taskId, 'by-user.log'), { headers: bearer(server.adminToken), pieces: [Buffer.from('x')] });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('PERM_DENIED');
  });

  it('refuses a media type outside the pattern (415); none at all is application/octet-stream', async () => {
    const res = await upload(named(taskId, 'odd.bin'), { key, pieces: [Buffer.from('x')], contentType: 'text/plain; a=1; b=2; c=3' });
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe('VAL_UNSUPPORTED_MEDIA_TYPE');
    const bare = await upload(named(taskId, 'bare.bin'), { key, pieces: [Buffer.from('x')], contentType: null });
    expect(bare.status).toBe(201);
    expect(bare.json.data.content_type).toBe('application/octet-stream');
  });
});

describe('names and sizes', () => {
  it('gives a name in any script back in Content-Disposition, encoded (RFC 8187), with an ASCII stand-in', async () => {
    const { agentId, key } = await enrol();
    const taskId = await taskOf(agentId);
    const name = 'journal d’été (1).log';
    const created = await upload(named(taskId, name), { key, pieces: [Buffer.from('été\n')], contentType: 'text/plain; charset=utf-8' });
    expect(created.status, created.body.toString()).toBe(201);
    const res = await download(created.headers.location as string);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="journal d__t_ (1).log"; filename*=UTF-8''journal%20d%E2%80%99%C3%A9t%C3%A9%20%281%29.log`);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.body.toString('utf8')).toBe('été\n');
  });

  it('stores an empty file, whose every range is unsatisfiable', async () => {
    const { agentId, key } = await enrol();
    const taskId = await taskOf(agentId);
    const created = await upload(named(taskId, 'empty.txt'), { key, pieces: [], length: 0 });
    expect(created.status).toBe(201);
    expect(created.json.data).toMatchObject({ size_bytes: 0, sha256: sha256(Buffer.alloc(0)) });
    const whole = await download(created.headers.location as string);
    expect(whole.status).toBe(200);
    expect(whole.body.length).toBe(0);
    expect((await download(created.headers.location as string, { range: 'bytes=0-' })).status).toBe(416);
  });

  it('goes with its task: deleting the agent deletes its tasks, their artifacts and their bytes', async () => {
    const { agentId, key } = await enrol();
    const taskId = await taskOf(agentId);
    const created = await upload(named(taskId, 'gone.log'), { key, pieces: [randomBytes(artifactPolicy.chunkBytes + 1)] });
    expect(created.status).toBe(201);
    expect((await server.call('DELETE', `/api/v1/agents/${agentId}`)).status).toBe(204);
    expect((await download(created.headers.location as string)).status).toBe(404);
    const chunks = await server.database.db.selectFrom('task_artifact_chunks').select('seq').where('artifact_id', '=', created.json.data.id).execute();
    expect(chunks).toEqual([]);
  });

  it(`keeps at most x-artifacts.max_per_task (${artifactPolicy.maxPerTask}) artifacts per task`, async () => {
    const { agentId, key } = await enrol();
    const taskId = await taskOf(agentId);
    for (let i = 0; i < artifactPolicy.maxPerTask; i += 1) {
      expect((await upload(named(taskId, `part-${i}.txt`), { key, pieces: [Buffer.from(String(i))] })).status).toBe(201);
    }
    const over = await upload(named(taskId, 'one-more.txt'), { key, pieces: [Buffer.from('x')] });
    expect(over.status).toBe(409);
    expect(over.json.error.code).toBe('BIZ_TASK_ARTIFACT_LIMIT');
    expect((await rowsLeft(taskId)).artifacts).toBe(artifactPolicy.maxPerTask);
  }, 60_000);
});
