// Task artifacts: their metadata rows and their bytes, one row per chunk. The chunks of an upload are written as
// they arrive and its metadata row last, all in the upload's transaction (task-artifacts.service.ts).
import { sql } from 'kysely';
import type { Executor } from '../../db/executor.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';

const columns = ['id', 'task_id', 'team_id', 'agent_id', 'name', 'content_type', sql<number>`size_bytes::float8`.as('size_bytes'), 'sha256', 'chunk_bytes', 'created_at'] as const;

/** The first key of the advisory lock that serialises the last step of one task's uploads (the second is the task's). */
const UPLOAD_LOCK_CLASS = 0x61727466; // "artf"

const ofTask = (db: Executor, taskId: string) => db.selectFrom('task_artifacts').where('task_id', '=', taskId);

export const listArtifacts = (db: Executor, taskId: string, keys: SortKey<'created_at'>[], window: Window) =>
  pageOf(ofTask(db, taskId).select(columns), keys, window, (field) => sql.ref(field)).execute();
export type ArtifactRow = Awaited<ReturnType<typeof listArtifacts>>[number];

export async function countArtifacts(db: Executor, taskId: string): Promise<number> {
  return (await ofTask(db, taskId).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findArtifact = (db: Executor, taskId: string, id: string): Promise<ArtifactRow | undefined> =>
  ofTask(db, taskId).select(columns).where('id', '=', id).executeTakeFirst();

export async function nameTaken(db: Executor, taskId: string, name: string): Promise<boolean> {
  return (await ofTask(db, taskId).select('id').where('name', '=', name).executeTakeFirst()) !== undefined;
}

/** The task, when it is this agent's. */
export const findAgentTask = (db: Executor, taskId: string, agentId: string) =>
  db.selectFrom('tasks').select(['id', 'team_id']).where('id', '=', taskId).where('agent_id', '=', agentId).executeTakeFirst();

export async function insertChunk(db: Executor, artifactId: string, seq: number, data: Uint8Array): Promise<void> {
  await db.insertInto('task_artifact_chunks').values({ artifact_id: artifactId, seq, data }).execute();
}

export async function readChunk(db: Executor, artifactId: string, seq: number): Promise<Uint8Array | undefined> {
  return (await db.selectFrom('task_artifact_chunks').select('data').where('artifact_id', '=', artifactId).where('seq', '=', seq).executeTakeFirst())?.data;
}

/** Until the end of the transaction, no other upload to the task passes this point (so its count is exact). */
export async function lockTaskUploads(db: Executor, taskId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${UPLOAD_LOCK_CLASS}, hashtext(${taskId}))`.execute(db);
}

export const insertArtifact = (
  db: Executor,
  row: { id: string; task_id: string; team_id: string; agent_id: string; name: string; content_type: string; size_bytes: number; sha256: string; chunk_bytes: number },
): Promise<ArtifactRow> => db.insertInto('task_artifacts').values(row).returning(columns).executeTakeFirstOrThrow();

/** How many artifacts one statement of retention deletes: each takes up to its whole size in chunks with it. */
const RETENTION_BATCH = 100;

/** Deletes the artifacts (and so their chunks) uploaded before `before`, a batch per statement; answers how many. */
export async function deleteArtifactsBefore(db: Executor, before: Date): Promise<number> {
  let deleted = 0;
  for (;;) {
    const batch = db.selectFrom('task_artifacts').select('id').where('created_at', '<', before).limit(RETENTION_BATCH);
    const result = await db.deleteFrom('task_artifacts').where('id', 'in', batch).executeTakeFirst();
    deleted += Number(result.numDeletedRows);
    if (result.numDeletedRows < BigInt(RETENTION_BATCH)) return deleted;
  }
}
