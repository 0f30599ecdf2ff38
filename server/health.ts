// Liveness and readiness: ready means the database (and Redis, when configured) answered a ping
// within the timeout and the process is not shutting down.
import type { RedisClient } from './redis/client.ts';
import type { components } from '../generated/openapi.d.ts';
import { withTimeout, type DatabaseHandle } from './db/database.ts';

type HealthCheck = components['schemas']['HealthCheck'];
type Health = components['schemas']['Health'];

export class HealthMonitor {
  readonly #database: DatabaseHandle;
  readonly #redis: RedisClient | undefined;
  readonly #timeoutMs: number;
  #shuttingDown = false;

  constructor(database: DatabaseHandle, redis: RedisClient | undefined, timeoutMs: number) {
    this.#database = database;
    this.#redis = redis;
    this.#timeoutMs = timeoutMs;
  }

  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  async readiness(): Promise<Health> {
    const checks = await Promise.all([this.#checkDatabase(), ...(this.#redis ? [this.#checkRedis(this.#redis)] : [])]);
    if (this.#shuttingDown) checks.push({ name: 'shutdown', status: 'unavailable', detail: 'the server is shutting down' });
    return { status: checks.every((c) => c.status === 'ok') ? 'ok' : 'unavailable', checks };
  }

  async #checkDatabase(): Promise<HealthCheck> {
    return this.#timed('database', this.#database.backend, () => this.#database.ping(this.#timeoutMs));
  }

  async #checkRedis(redis: RedisClient): Promise<HealthCheck> {
    return this.#timed('redis', 'redis', () => withTimeout(redis.ping(), this.#timeoutMs, `redis did not answer within ${this.#timeoutMs} ms`));
  }

  async #timed(name: HealthCheck['name'], backend: string, probe: () => Promise<unknown>): Promise<HealthCheck> {
    const started = performance.now();
    try {
      await probe();
      return { name, status: 'ok', latency_ms: Math.round(performance.now() - started), detail: backend };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return { name, status: 'unavailable', latency_ms: Math.round(performance.now() - started), detail: message.slice(0, 256) };
    }
  }
}
