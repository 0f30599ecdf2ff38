// What the two Opsdeck variants need around them: their configuration (the edge on or off), the bench's
// administrator, token and team (made through Opsdeck's own API), and Redis (reachable? version? the
// run's keys removed at the end).
//
// Edge off: RATE_LIMITS_ENABLED=false and no REDIS_URL (no token bucket; the tagged cache of counts lives
//           in the process).
// Edge on:  REDIS_URL and a key prefix of the run's own, and limits so generous that nothing is refused
//           while every request still runs the token-bucket Lua script in Redis (the cache is in Redis too).
// Both compute ETags (that part of the edge has no switch). Both deliver webhooks to loopback targets
// (WEBHOOK_ALLOW_PRIVATE_TARGETS): the events section's receiver runs in the bench process.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export const ADMIN = { email: 'bench@opsdeck.local', password: 'bench-password-123' } as const;
const GENEROUS = { requests_per_minute: 100_000_000, burst: 100_000_000 };

export interface OpsdeckSetup {
  /** Configuration shared by both variants: signing keys, first administrator, loopback webhook targets. */
  common: Record<string, string>;
  edgeOff: Record<string, string>;
  edgeOn: Record<string, string>;
  redisUrl: string;
  redisKeyPrefix: string;
}

export function opsdeckSetup(redisUrl: string): OpsdeckSetup {
  const common = {
    JWT_SECRET: randomBytes(32).toString('base64url'),
    // Production requires the key that seals stored secrets (webhook signing keys among them).
    SECRETS_KEY: randomBytes(32).toString('base64'),
    OPSDECK_ADMIN_EMAIL: ADMIN.email,
    OPSDECK_ADMIN_PASSWORD: ADMIN.password,
    OPSDECK_DEMO_DATA: 'false',
    // One token serves the whole run, however long.
    ACCESS_TOKEN_TTL_SECONDS: '86400',
    // The seeded online agents sent their last heartbeat just before the run, and no more come: with the
    // default 90 s, the sweeper would turn three quarters of the fleet offline mid-run (a write to most
    // rows while a run is measured, and no online agents left for the filtered list).
    HEARTBEAT_TIMEOUT_SECONDS: '86400',
    // The events section's webhook receiver listens on 127.0.0.1; no other section registers a webhook.
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  };
  const redisKeyPrefix = `opsdeck-bench:${randomBytes(5).toString('hex')}:`;
  return {
    common,
    edgeOff: { ...common, RATE_LIMITS_ENABLED: 'false', REDIS_URL: '' },
    edgeOn: {
      ...common,
      RATE_LIMITS_ENABLED: 'true',
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: redisKeyPrefix,
      RATE_LIMITS: JSON.stringify({ tiers: { authenticated: GENEROUS, admin: GENEROUS } }),
    },
    redisUrl,
    redisKeyPrefix,
  };
}

async function call(url: string, path: string, body: unknown, token?: string): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json().catch(() => undefined) };
}

/** Logs the bench's administrator in and makes the team the seeded agents belong to (the admin is its member). */
export async function signInAndMakeTeam(url: string): Promise<{ token: string; teamId: string }> {
  const login = await call(url, '/api/v1/auth/login', ADMIN);
  const token = (login.json as { data?: { access_token?: string } } | undefined)?.data?.access_token;
  if (login.status !== 200 || !token) throw new Error(`Opsdeck: POST /api/v1/auth/login answered ${login.status}: ${JSON.stringify(login.json)}`);
  const team = await call(url, '/api/v1/teams', { name: 'Bench' }, token);
  const teamId = (team.json as { data?: { id?: string } } | undefined)?.data?.id;
  if (team.status !== 201 || !teamId) throw new Error(`Opsdeck: POST /api/v1/teams answered ${team.status}: ${JSON.stringify(team.json)}`);
  return { token, teamId };
}

function connect(url: string): Redis {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on('error', () => {});
  return redis;
}

/** Redis's version, or undefined when it does not answer. */
export async function redisVersion(url: string): Promise<string | undefined> {
  const redis = connect(url);
  try {
    await redis.connect();
    const info = await redis.info('server');
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** Removes the run's keys (buckets and cache entries would expire anyway); how many there were. */
export async function dropRedisKeys(url: string, prefix: string): Promise<number> {
  const redis = connect(url);
  try {
    await redis.connect();
    let removed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) removed += await redis.unlink(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    redis.disconnect();
  }
}
