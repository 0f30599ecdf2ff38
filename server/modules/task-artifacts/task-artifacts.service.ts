// Task artifacts: the files an agent uploads for its own tasks, and their teams' users list and download them.
// An upload is streamed into the database chunk by chunk as it arrives, its digest computed on the way, all in one
// transaction whose last step writes the artifact's row: an upload that is refused, cut off or interrupted leaves
// nothing. A download reads one chunk at a time.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { Executor } from '../../db/executor.ts';
import type { Database } from '../../db/schema.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import type { FileAnswer } from '../../http/file-answer.ts';
import { listPage, type ListQuery } from '../../http/list-page.ts';
import type { StreamedBody } from '../../http/operation-types.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { findTask } from '../tasks/tasks.repository.ts';
import { toTaskArtifact } from './task-artifacts.mapper.ts';
import { artifactPolicy, type ArtifactPolicy } from './task-artifacts.policy.ts';
import * as repo from './task-artifacts.repository.ts';

type TaskArtifact = components['schemas']['TaskArtifact'];

const tooLarge = (maxBytes: number) => new ApiError('VAL_PAYLOAD_TOO_LARGE', `An artifact is at most ${maxBytes} bytes`);

/** What a body the client stopped sending halfway is answered (if anyone still listens), as the JSON parser does. */
const cutShort = () => new ApiError('VAL_MALFORMED_REQUEST', 'The request ended before its body did');

/**
 * The body in pieces of `chunkBytes` (the last one shorter), refused with 413 as soon as it passes `maxBytes`. The
 * request is left as it is when reading stops early (not destroyed, which would cut the connection before the 413).
 */
async function* chunksOf(stream: Readable, chunkBytes: number, maxBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  const pieces = (stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  for (;;) {
    const next = await pieces.next().catch(() => Promise.reject(cutShort()));
    if (next.done) break;
    const piece = next.value;
    total += piece.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    pending.push(piece);
    pendingBytes += piece.length;
    while (pendingBytes >= chunkBytes) {
      const joined = Buffer.concat(pending, pendingBytes);
      yield joined.subarray(0, chunkBytes);
      pending = [joined.subarray(chunkBytes)];
      pendingBytes -= chunkBytes;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/** A strong ETag of an artifact's bytes: its SHA-256, base64url (fits the contract's ETag). */
const etagOfDigest = (sha256: string) => `"${Buffer.from(sha256, 'hex').toString('base64url')}"`;

export class TaskArtifactService {
  readonly #db: Kysely<Database>;
  readonly #policy: ArtifactPolicy = artifactPolicy;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Stores the body as an artifact of one of the agent's own tasks (any other task is 404). */
  async upload(agent: Caller, taskId: string, name: string, body: StreamedBody): Promise<TaskArtifact> {
    const { maxBytes, chunkBytes, contentType } = this.#policy;
    // Refused before a byte is read.
    if (body.declaredLength !== undefined && body.declaredLength > maxBytes) throw tooLarge(maxBytes);
    const mediaType = body.mediaType ?? 'application/octet-stream';
    if (!contentType.test(mediaType)) throw new ApiError('VAL_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${mediaType.slice(0, 100)} is not a media type an artifact may have (x-artifacts.content_type_pattern)`);
    const task = await repo.findAgentTask(this.#db, taskId, agent.agentId!);
    if (!task) throw notFound('Task', taskId);
    // Checked here so a refused upload is not read first, and again under the task's lock before the commit.
    await this.#admissible(this.#db, taskId, name);

    const id = uuidv7();
    const digest = createHash('sha256');
    const row = await this.#db.transaction().execute(async (trx) => {
      let size = 0;
      let seq = 0;
      for await (const chunk of chunksOf(body.stream, chunkBytes, maxBytes)) {
        digest.update(chunk);
        size += chunk.length;
        await repo.insertChunk(trx, id, seq++, chunk);
      }
      await repo.lockTaskUploads(trx, taskId);
      await this.#admissible(trx, taskId, name);
      return repo.insertArtifact(trx, {
        id,
        task_id: taskId,
        team_id: task.team_id,
        agent_id: agent.agentId!,
        name,
        content_type: mediaType,
        size_bytes: size,
        sha256: digest.digest('hex'),
        chunk_bytes: chunkBytes,
      });
    });
    return toTaskArtifact(row);
  }

  /** The name is free in the task, and the task has room for one more. */
  async #admissible(db: Executor, taskId: string, name: string): Promise<void> {
    if (await repo.nameTaken(db, taskId, name)) throw new ApiError('RES_ALREADY_EXISTS', `Task ${taskId} already has an artifact named ${name}`);
    if ((await repo.countArtifacts(db, taskId)) >= this.#policy.maxPerTask) {
      throw new ApiError('BIZ_TASK_ARTIFACT_LIMIT', `Task ${taskId} already has ${this.#policy.maxPerTask} artifacts, as many as a task keeps`);
    }
  }

  async list(caller: Caller, taskId: string, query: ListQuery, ctx: RequestContext): Promise<{ items: TaskArtifact[]; pagination: Pagination }> {
    await this.#task(caller, taskId);
    const { rows, pagination } = await listPage({ ...query, sort: 'created_at:asc' }, ctx, {
      sortable: ['created_at'] as const,
      defaultSort: 'created_at:asc',
      filter: taskId,
      rows: (keys, window) => repo.listArtifacts(this.#db, taskId, keys, window),
      count: () => repo.countArtifacts(this.#db, taskId),
    });
    return { items: rows.map(toTaskArtifact), pagination };
  }

  /** The artifact's bytes as a file answer, read a chunk at a time as the answer is sent. */
  async download(caller: Caller, taskId: string, artifactId: string): Promise<FileAnswer> {
    await this.#task(caller, taskId);
    const row = await repo.findArtifact(this.#db, taskId, artifactId);
    if (!row) throw notFound('Artifact', artifactId);
    const db = this.#db;
    return {
      mediaType: row.content_type,
      size: Number(row.size_bytes),
      etag: etagOfDigest(row.sha256),
      lastModified: row.created_at,
      fileName: row.name,
      async *read(start, end) {
        for (let seq = Math.floor(start / row.chunk_bytes); seq * row.chunk_bytes <= end; seq += 1) {
          const data = await repo.readChunk(db, row.id, seq);
          // Deleted (its task, or retention) while it was being sent: the answer is cut off.
          if (!data) throw new Error(`artifact ${row.id} lost its chunk ${seq} while it was sent`);
          const offset = seq * row.chunk_bytes;
          yield data.subarray(Math.max(0, start - offset), Math.min(data.length, end - offset + 1));
        }
      },
    };
  }

  async #task(caller: Caller, taskId: string): Promise<void> {
    if (!(await findTask(this.#db, taskId, caller.teamIds))) throw notFound('Task', taskId);
  }
}
