// Redis Cluster: REDIS_URL names one when its scheme is `redis+cluster://` (or `rediss+cluster://` for TLS),
// followed by one or more seed nodes, e.g. `redis+cluster://:secret@10.0.0.1:6379,10.0.0.2:6379`; the client
// (ioredis's Cluster) learns the rest of the cluster from them. Every command Opsdeck sends works on a cluster:
// each Lua script and each MULTI names keys of one hash slot (the keys that must live together share a hash tag,
// `{…}`), and the event bus uses sharded pub/sub (events/cluster-event-bus.ts).
import type { Cluster, ClusterOptions, Redis } from 'ioredis';

/** One Redis server or a Redis Cluster: the commands Opsdeck uses are the same on both. */
export type RedisClient = Redis | Cluster;

export interface ClusterAddress {
  nodes: { host: string; port: number }[];
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
}

const SCHEME = /^(rediss?)\+cluster:\/\//i;

export function isClusterUrl(url: string): boolean {
  return SCHEME.test(url);
}

/** The seed nodes and credentials of a `redis+cluster://` URL; throws on a malformed one (the message names no secret). */
export function parseClusterUrl(url: string): ClusterAddress {
  const scheme = SCHEME.exec(url);
  if (!scheme) throw new Error('a Redis Cluster URL starts with redis+cluster:// or rediss+cluster://');
  let rest = url.slice(scheme[0].length).replace(/\/.*$/, '');
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const credentials = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = credentials.indexOf(':');
    const user = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials);
    username = colon >= 0 && user ? user : undefined;
    password = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) : user || undefined;
  }
  const nodes = rest.split(',').map((node) => {
    const match = /^(\[[0-9a-f:.]+\]|[^:\s[\]]+)(?::(\d{1,5}))?$/i.exec(node.trim());
    const port = Number(match?.[2] ?? 6379);
    if (!match || port < 1 || port > 65535) throw new Error(`a Redis Cluster seed node must be host[:port], not "${node}"`);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
  return { nodes, username, password, tls: scheme[1]!.toLowerCase() === 'rediss' };
}

/** Whether a connection is to a cluster (its commands are routed to the node of each key's hash slot). */
export function isCluster(redis: RedisClient): redis is Cluster {
  return redis.isCluster;
}

/**
 * A cluster client with the same behaviour as the single-server one (redis/client.ts): commands fail fast while
 * the cluster is away (no offline queue, one retry), and it keeps reconnecting in the background.
 */
export async function connectCluster(url: string, timeoutMs: number): Promise<Cluster> {
  const address = parseClusterUrl(url);
  const { Cluster: ClusterClient } = await import('ioredis');
  const options: ClusterOptions = {
    enableOfflineQueue: false,
    // As redis/client.ts: the commands of concurrent requests share one write (per node).
    enableAutoPipelining: true,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    slotsRefreshTimeout: timeoutMs,
    redisOptions: {
      username: address.username,
      password: address.password,
      ...(address.tls ? { tls: {} } : {}),
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 1,
    },
  };
  return new ClusterClient(address.nodes, options);
}
