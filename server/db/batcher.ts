// Group commit: many requests' small writes of one kind (a heartbeat's sign of life, a report's metric samples)
// made as one statement, each request answered once its part is committed. (The same serves many requests'
// reads of one kind, e.g. a fleet's agent keys after a restart: one statement for a few hundred.) A fleet's steady load is a great many
// tiny writes; one `UPDATE … FROM` over a few hundred rows costs PostgreSQL far less than as many statements, so a
// process that writes row by row spends its database on round trips and per-statement overhead instead.
//
// Batches form on their own ("natural batching"): with no write under way, an item is written at once, alone,
// so a quiet server adds no latency (with `gatherMs`, it waits that long for others first); while `concurrency`
// writes are under way, new items wait and go together in the next one, so the busier the server, the larger (and
// cheaper per item) the batches. Nothing is acknowledged before it is committed: a request's promise settles with
// its batch, and a batch that fails fails every request in it (the pipeline answers each with the usual 503). A
// graceful stop waits for the requests under way, so for their batches too; a crash loses nothing that was answered.
//
// Why not a library: the pieces on npm (dataloader and the like) batch per tick for reads and cache by key;
// this needs write batches that grow while the database is busy, a bound on their size, and retry of a whole
// batch on deadlock. It is small enough to hold here.
import { outsideRequest } from './database.ts';
import { isDeadlock } from './errors.ts';

const DEADLOCK_RETRIES = 3;

export interface BatcherOptions<In, Out> {
  /** Writes one batch; answers one result per item, in the items' order. */
  write: (items: In[]) => Promise<Out[]>;
  /** At most this many items per statement (a bigger backlog is written in several). */
  maxItems: number;
  /** At most this many batches under way at once (each holds one pooled connection while it runs). */
  concurrency: number;
  /**
   * With no write under way, how long the first item waits for others before its batch is written (default 0: at
   * once). For writes whose requests wait for them and come at a steady rate, a few milliseconds make batches of
   * tens instead of a handful, each statement's round trip then shared by all of them.
   */
  gatherMs?: number;
}

interface Waiting<In, Out> {
  item: In;
  resolve: (out: Out) => void;
  reject: (err: unknown) => void;
}

export class Batcher<In, Out> {
  readonly #options: BatcherOptions<In, Out>;
  #queue: Waiting<In, Out>[] = [];
  #running = 0;
  #idle: (() => void)[] = [];
  #gathering: NodeJS.Timeout | undefined;

  constructor(options: BatcherOptions<In, Out>) {
    this.#options = options;
  }

  /** Writes `item` with whatever else is waiting; settles when its batch is committed (or failed). */
  add(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#pump();
    });
  }

  /** Items waiting for a batch (not counting those being written). */
  get backlog(): number {
    return this.#queue.length;
  }

  /** Settles once nothing waits and nothing is being written. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    const gatherMs = this.#options.gatherMs ?? 0;
    if (gatherMs > 0 && this.#running === 0 && this.#queue.length < this.#options.maxItems) {
      this.#gathering ??= setTimeout(() => {
        this.#gathering = undefined;
        this.#drain();
      }, gatherMs);
      return;
    }
    this.#drain();
  }

  #drain(): void {
    clearTimeout(this.#gathering);
    this.#gathering = undefined;
    while (this.#running < this.#options.concurrency && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#options.maxItems);
      this.#running += 1;
      // A batch belongs to no single request: it runs on the pool's own deadlines, not on the budget of the
      // request that happened to start it.
      void outsideRequest(() => this.#write(batch)).finally(() => {
        this.#running -= 1;
        // What gathered while this batch was written has waited already: it goes at once.
        this.#drain();
        if (this.#running === 0 && this.#queue.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
  }

  async #write(batch: Waiting<In, Out>[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await this.#options.write(batch.map((w) => w.item));
        batch.forEach((w, i) => w.resolve(results[i]!));
        return;
      } catch (err) {
        // Two batches lock rows in id order, so they cannot deadlock each other; another writer (the sweeper,
        // an enrolment) can take them in another order, and PostgreSQL then aborts one side: that is retried.
        if (attempt < DEADLOCK_RETRIES && isDeadlock(err)) continue;
        for (const w of batch) w.reject(err);
        return;
      }
    }
  }
}
