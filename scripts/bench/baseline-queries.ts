// What both baselines run: the SQL Opsdeck's Kysely repository compiles to for getAgent and for an
// offset page of listAgents (page + count, in parallel as AgentService.list does), scoped to the caller's
// team as Opsdeck scopes them (`team_id in (<the caller's teams>)`; the bench's caller is in one team),
// and the same row mapping (RFC 3339 UTC times). Kept apart so the two baselines cannot drift from each
// other. The baselines do not authenticate: they are handed the team. (Opsdeck also looks the caller up
// per request, and caches the count, in Redis with the edge on, in its memory without.)
import pg from 'pg';

const COLUMNS =
  '"id", "team_id", "hostname", host(ip_address) as "ip_address", "platform", "os_version", "agent_version", "status", "tags", "last_seen", "created_at", "updated_at"';

export const FIND_AGENT_SQL = `select ${COLUMNS} from "agents" where "team_id" = $1 and "id" = $2`;
export const LIST_AGENTS_SQL = `select ${COLUMNS} from "agents" where "team_id" = $1 order by "created_at" desc, "id" desc limit $2 offset $3`;
export const COUNT_AGENTS_SQL = 'select count(*)::int as "total" from "agents" where "team_id" = $1';

export interface AgentRow {
  id: string;
  team_id: string;
  hostname: string;
  ip_address: string;
  platform: string;
  os_version: string | null;
  agent_version: string | null;
  status: string;
  tags: string[];
  last_seen: Date | null;
  created_at: Date;
  updated_at: Date;
}

export function toAgent(row: AgentRow) {
  return {
    id: row.id,
    team_id: row.team_id,
    hostname: row.hostname,
    ip_address: row.ip_address,
    platform: row.platform,
    os_version: row.os_version,
    agent_version: row.agent_version,
    status: row.status,
    tags: row.tags,
    last_seen: row.last_seen === null ? null : row.last_seen.toISOString(),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export type Agent = ReturnType<typeof toAgent>;

export function openPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {});
  return pool;
}

export async function findAgent(pool: pg.Pool, teamId: string, id: string): Promise<Agent | undefined> {
  const { rows } = await pool.query<AgentRow>(FIND_AGENT_SQL, [teamId, id]);
  return rows[0] ? toAgent(rows[0]) : undefined;
}

export interface AgentPage {
  data: Agent[];
  pagination: { page: number; per_page: number; total: number; total_pages: number; has_next: boolean; has_prev: boolean };
}

export async function listAgents(pool: pg.Pool, teamId: string, limit: number, offset: number): Promise<AgentPage> {
  const [page, count] = await Promise.all([
    pool.query<AgentRow>(LIST_AGENTS_SQL, [teamId, limit, offset]),
    pool.query<{ total: number }>(COUNT_AGENTS_SQL, [teamId]),
  ]);
  const total = count.rows[0]?.total ?? 0;
  return {
    data: page.rows.map(toAgent),
    pagination: {
      page: Math.floor(offset / limit) + 1,
      per_page: limit,
      total,
      total_pages: Math.ceil(total / limit),
      has_next: offset + limit < total,
      has_prev: offset > 0,
    },
  };
}

/** `limit` 1..100 (default 50) and `offset` ≥ 0 (default 0); undefined when a value is not an integer in range. */
export function pageParams(limitRaw: unknown, offsetRaw: unknown): { limit: number; offset: number } | undefined {
  const limit = limitRaw === undefined ? 50 : Number(limitRaw);
  const offset = offsetRaw === undefined ? 0 : Number(offsetRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100 || !Number.isInteger(offset) || offset < 0) return undefined;
  return { limit, offset };
}

/** The team a baseline serves (the bench's seeded team). */
export function requireTeam(teamId: string | undefined): string {
  if (!teamId) throw new Error('a baseline needs the team of the seeded agents');
  return teamId;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A malformed id would make PostgreSQL fail the cast; both baselines answer 404 for it, as a hand-written API would. */
export const isUuid = (id: string): boolean => UUID.test(id);
