// One Kysely instance over either a real PostgreSQL (pg pool) or the embedded PGlite. The same
// migrations and queries serve both; only the driver differs.
//
// A PostgreSQL that stops answering (hung, its processes stopped, a network that drops packets) costs a
// request DB_TIMEOUT_MS at most, then a 503. Each use of a pooled connection (a lease: waiting for the
// connection, then its queries, a whole transaction) keeps to a deadline:
// - by default (workers, migrations, start-up, and requests), waiting for the connection and its first
//   answer share DB_TIMEOUT_MS, and each later query has DB_TIMEOUT_MS of its own;
// - inside `withDatabaseDeadline` (the database part of one request), every wait on the database, for
//   a connection or an answer, in sequence or in parallel, comes out of one budget of DB_TIMEOUT_MS.
// A lease that misses its deadline destroys its connection: a connection that went silent never goes
// back to the pool to hang the next request.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Kysely, PGliteDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type { Pool as PgPool, PoolClient as PgPoolClient } from 'pg';
import type { Logger } from '../logger.ts';
import { tracedDialect, type DatabaseTarget } from '../observability/tracing.ts';
import { openEmbedded } from './embedded.ts';
import { DatabaseTimeoutError } from './errors.ts';
import type { Database } from './schema.ts';
import { OpsdeckPostgresDialect } from './postgres-dialect.ts';

export type Backend = 'postgresql' | 'pglite';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  /**
   * One connection of its own, for the short, frequent reads that must not queue behind requests (the caller
   * cache's identity feed): under load every connection of `db` is busy and a waiting read would arrive late.
   * The embedded database has one connection; there it is `db`.
   */
  readonly side: Kysely<Database>;
  readonly backend: Backend;
  /** Resolves with the round-trip time, or rejects when the database does not answer within `timeoutMs`. */
  ping(timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string | undefined;
  pgliteDir: string;
  poolMax: number;
  timeoutMs: number;
  log: Logger;
  /**
   * `url` is a pooler in transaction mode (PgBouncer's `pool_mode=transaction`): no session settings are sent at
   * connection (PgBouncer refuses them), so the server-side statement timeout is the database role's or the pooler's.
   */
  transactionPooling?: boolean;
}

/**
 * The database part of one request: one budget of time spent waiting on the database (for connections
 * and answers; overlapping waits count once), so a request that computes between queries (hashing a
 * password, building a page) is not charged for it, and a database that does not answer is.
 */
class DeadlineScope {
  readonly budgetMs: number | undefined;
  /** Whether the request has answered: what it does with the database after that is on its own again. */
  readonly over: () => boolean;
  #spentMs = 0;
  #open = 0;
  #openedAt = 0;

  constructor(budgetMs: number | undefined, over: () => boolean) {
    this.budgetMs = budgetMs;
    this.over = over;
  }

  /** A wait begins: when it must be over (a `performance.now()` time), given what is left of the budget. */
  begin(defaultBudgetMs: number): number {
    const now = performance.now();
    if (this.#open === 0) this.#openedAt = now;
    this.#open += 1;
    const left = (this.budgetMs ?? defaultBudgetMs) - this.#spentMs - (now - this.#openedAt);
    return now + left;
  }

  /** A wait is over (answered, failed or given up). */
  end(): void {
    this.#open -= 1;
    if (this.#open === 0) this.#spentMs += performance.now() - this.#openedAt;
  }
}
const scopes = new AsyncLocalStorage<DeadlineScope>();

/**
 * Runs `work` as the database part of one request: every wait on the database it makes (for connections,
 * for answers to queries and transactions, in sequence or in parallel) comes out of one budget, by default
 * DB_TIMEOUT_MS, so the stages of a request never add up past it, and a hung database answers the request
 * within it. `budgetMs` gives an operation that legitimately waits longer (a bulk create going item by
 * item) a bigger one (`Infinity`: none, each lease on its own deadlines as outside a request). Once `over()` is true (the request has answered), later uses run on their own
 * deadlines: an audit record written after the answer, the periodic checks of a live stream.
 */
export function withDatabaseDeadline<T>(work: () => T, over: () => boolean = () => false, budgetMs?: number): T {
  return scopes.run(new DeadlineScope(budgetMs, over), work);
}

/** Runs `work` outside any request's budget (a write shared by many requests, db/batcher.ts): on the pool's own deadlines. */
export function outsideRequest<T>(work: () => T): T {
  return scopes.exit(work);
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const db = options.url ? await postgres(options) : await pglite(options);
  const side = options.url ? await postgres({ ...options, poolMax: 1 }) : db;
  const handle: DatabaseHandle = {
    db,
    side,
    backend: options.url ? 'postgresql' : 'pglite',
    async ping(timeoutMs) {
      const started = performance.now();
      // Its own deadline (inside a request's too), so a ping that fails also drops its connection.
      const probe = scopes.run(new DeadlineScope(timeoutMs, () => false), () => sql`select 1`.execute(db));
      await withTimeout(probe, timeoutMs, `database did not answer within ${timeoutMs} ms`);
      return Math.round(performance.now() - started);
    },
    close: async () => {
      if (side !== db) await side.destroy();
      await db.destroy();
    },
  };
  return handle;
}

async function postgres(options: DatabaseOptions): Promise<Kysely<Database>> {
  // Loaded only for a real PostgreSQL: a start on the embedded database skips it.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    // The leases bound their waits themselves; this only drops a wait a lease has given up on from the pool's queue.
    connectionTimeoutMillis: options.timeoutMs,
    // Server-side: a statement that runs too long is cancelled (the client side is the leases' deadline,
    // which, unlike pg's query_timeout, also drops the connection instead of returning it to the pool).
    // Through a pooler in transaction mode that is the role's setting or the pooler's (query_timeout) instead.
    ...(options.transactionPooling ? {} : { statement_timeout: options.timeoutMs }),
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle connection that breaks (server restart, network cut) must not crash the process;
  // the pool drops it and opens a new one on the next request.
  pool.on('error', (err) => options.log.warn({ err: err.message }, 'idle database connection lost'));
  // A connection that breaks while checked out also emits 'error' on its client; the query fails and
  // is answered 503, so the event itself only needs a listener to keep it from crashing the process.
  pool.on('connect', (client) => client.on('error', (err) => options.log.warn({ err: err.message }, 'database connection lost')));
  const dialect = new OpsdeckPostgresDialect({ pool: new BoundedPool(pool, options.timeoutMs, options.log) });
  const db = new Kysely<Database>({ dialect: tracedDialect(dialect, databaseTarget(options.url)) });
  pools.set(db, pool);
  return db;
}

/** The pg pool behind each Kysely instance on PostgreSQL (the metrics read its counts). */
const pools = new WeakMap<Kysely<Database>, PgPool>();

/** A database's connections now: a pg pool's counts, or the embedded database's one connection (no idle or waiting count). */
export function poolStats(db: Kysely<Database>): { total: number; idle?: number; waiting?: number; max: number } {
  const pool = pools.get(db);
  if (!pool) return { total: 1, max: 1 };
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 10 };
}

/** The database's name, host and port from its URL, for the attributes of query spans. */
function databaseTarget(url: string | undefined): DatabaseTarget {
  const parsed = url ? URL.parse(url) : null;
  if (!parsed) return { namespace: undefined, address: undefined, port: undefined };
  return { namespace: decodeURIComponent(parsed.pathname.slice(1)) || undefined, address: parsed.hostname || undefined, port: Number(parsed.port || 5432) };
}

/** The pg pool, handing out leases that keep to their deadline (see the top of this file). */
class BoundedPool implements PostgresPool {
  readonly #pool: PgPool;
  readonly #timeoutMs: number;
  readonly #log: Logger;

  constructor(pool: PgPool, timeoutMs: number, log: Logger) {
    this.#pool = pool;
    this.#timeoutMs = timeoutMs;
    this.#log = log;
  }

  /** pg's options, which Kysely reads for the connection it opens to cancel a query. */
  get options(): object {
    return this.#pool.options;
  }

  async connect(): Promise<PostgresPoolClient> {
    const lease = new Lease(this.#timeoutMs, scopes.getStore(), this.#log);
    return lease.acquire(this.#pool);
  }

  end(): Promise<void> {
    return this.#pool.end();
  }
}

/** The pg client's socket, to cut a connection that went silent (pg has no public way to). */
type ClientWithSocket = PgPoolClient & { connection?: { stream?: { destroy(): void } } };

/** One use of a pooled connection, from waiting for it to giving it back. */
class Lease {
  readonly #timeoutMs: number;
  readonly #log: Logger;
  /** The request's budget, when the lease is part of one. */
  readonly #scope: DeadlineScope | undefined;
  /** Outside a request: the deadline of the wait for the connection and its first answer. */
  readonly #deadline: number;
  #answered = false;
  #client: ClientWithSocket | undefined;
  /** Set once the lease missed its deadline: the connection is gone, and every later use fails with this. */
  #failure: DatabaseTimeoutError | undefined;
  #released = false;

  constructor(timeoutMs: number, scope: DeadlineScope | undefined, log: Logger) {
    this.#timeoutMs = timeoutMs;
    this.#log = log;
    // A request that has answered, or has no budget (`Infinity`), leaves the lease on its own deadlines.
    this.#scope = scope && !scope.over() && Number.isFinite(scope.budgetMs ?? timeoutMs) ? scope : undefined;
    this.#deadline = performance.now() + timeoutMs;
  }

  /** One wait on the database, kept to its deadline; `late()` makes the error when it is missed. */
  async #wait<T>(start: () => Promise<T>, late: (error: DatabaseTimeoutError) => DatabaseTimeoutError, what: string): Promise<T> {
    const scope = this.#scope;
    const due = scope ? scope.begin(this.#timeoutMs) : this.#answered ? performance.now() + this.#timeoutMs : this.#deadline;
    try {
      const budget = scope ? `the time its request has for the database (${scope.budgetMs ?? this.#timeoutMs} ms)` : `${this.#timeoutMs} ms`;
      return await bounded(start, due, () => late(new DatabaseTimeoutError(budget, what)));
    } finally {
      scope?.end();
    }
  }

  async acquire(pool: PgPool): Promise<PostgresPoolClient> {
    let waiting: Promise<PgPoolClient> | undefined;
    const client = (await this.#wait(
      () => (waiting = pool.connect()),
      (error) => {
        // Given up: the connection, when it comes, goes straight back (it answered, so it is not a hung one).
        waiting?.then((late) => late.release(), () => undefined);
        return error;
      },
      'waiting for a connection',
    )) as ClientWithSocket;
    this.#client = client;
    const query = async (text: string, parameters: ReadonlyArray<unknown>) => {
      if (this.#failure) throw this.#failure;
      if (this.#released) throw new Error('query on a database connection that was given back');
      const result = await this.#wait(() => client.query(text, parameters as unknown[]), (error) => this.#fail(error), 'waiting for a query');
      this.#answered = true;
      return result;
    };
    const release = (destroy?: boolean) => {
      if (this.#released) return;
      this.#released = true;
      // A lease that failed has given its connection up already.
      if (!this.#failure) client.release(destroy ? new Error('connection discarded') : undefined);
    };
    return { query, release } as unknown as PostgresPoolClient;
  }

  /** Misses the deadline: the connection is destroyed (the pool opens a fresh one for whoever waits next). */
  #fail(error: DatabaseTimeoutError): DatabaseTimeoutError {
    if (this.#failure) return this.#failure;
    this.#failure = error;
    const client = this.#client;
    if (client && !this.#released) {
      this.#log.warn({ err: error.message }, 'database connection dropped: it did not answer in time');
      // Out of the pool first (so it is not handed out again and its slot frees), then its socket cut:
      // a graceful end would wait for a goodbye from a server that is not answering.
      client.release(error);
      client.connection?.stream?.destroy();
    }
    return error;
  }
}

/**
 * What `start()` starts, or the error `late()` makes when it has not settled by `due` (a `performance.now()`
 * time); nothing is started once `due` has passed.
 */
async function bounded<T>(start: () => Promise<T>, due: number, late: () => Error): Promise<T> {
  if (due - performance.now() <= 0) throw late();
  const work = start();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), Math.max(0, due - performance.now()));
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function pglite(options: DatabaseOptions): Promise<Kysely<Database>> {
  const { pglite: instance, fromTemplate } = await openEmbedded(options.pgliteDir);
  if (fromTemplate) options.log.info({ dir: options.pgliteDir }, 'embedded database created from the template made at install');
  return new Kysely<Database>({ dialect: tracedDialect(new PGliteDialect({ pglite: instance }), { namespace: undefined, address: undefined, port: undefined }) });
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
