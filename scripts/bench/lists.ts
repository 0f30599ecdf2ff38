// The list sections of the bench, run against Opsdeck only: cursor pages against offset pages at
// several depths of the fleet (a cursor page should cost the same at any depth; an offset page grows
// with it), EXPLAIN (ANALYZE, BUFFERS) of the very query Opsdeck runs for a page, and a filtered list.
//
// A cursor at depth d is made here rather than by walking d/50 pages: it names the last row of the page
// before (row d − 1 in `created_at desc, id desc` order, read with SQL), encoded with Opsdeck's own
// encodeCursor and bound to the query key AgentService.list gives the default list. Whether that key is
// right is not assumed: the cursor made for row 49 must equal, byte for byte, the next_cursor Opsdeck
// itself answers for the first page, and every page a made cursor opens must hold the same agents as the
// offset page at the same depth, starting with row d.
import { Kysely, PostgresDialect, type CompiledQuery } from 'kysely';
import pg from 'pg';
import type { Database } from '../../server/db/schema.ts';
import type { CursorPosition } from '../../server/db/keyset.ts';
import { encodeCursor, parseSort } from '../../server/http/pagination.ts';
import { listAgents, SORTABLE_FIELDS } from '../../server/modules/agents/agents.repository.ts';

/** Agents per page in every list section. */
export const PAGE_LIMIT = 50;
const LIST_PATH = '/api/v1/agents';
/** The sort of the default list, and the query key its cursors carry (AgentService.list: `[sort, filters]`, no filters here). */
const DEFAULT_SORT = 'created_at:desc';
const DEFAULT_LIST_QUERY_KEY = JSON.stringify([DEFAULT_SORT, {}]);

/** The filtered list the bench drives: three filters at once, one of them a substring search. */
export const FILTERED_LIST_PATH = `${LIST_PATH}?status=online&platform=linux&search=web&limit=${PAGE_LIMIT}`;

export interface DepthPlan {
  /** Rows before the page (the offset of the offset page). */
  depth: number;
  /** depth as a share of the fleet, in per cent. */
  percent: number;
  cursorPath: string;
  offsetPath: string;
  /** Where the page starts: the cursor of the row before (null for the first page). */
  after: CursorPosition | null;
}

/** 0, ~1 %, ~50 % and ~99 % of the fleet, each leaving a whole page after it; repeats dropped (small fleets). */
export function depthsOf(agents: number): number[] {
  const last = Math.max(0, agents - PAGE_LIMIT);
  return [...new Set([0, 0.01, 0.5, 0.99].map((share) => Math.min(last, Math.round(agents * share))))];
}

interface PositionRow {
  id: string;
  created_at: Date;
}

/** The row at `index` (0-based) of the team's agents in `created_at desc, id desc` order, and the one after it. */
async function rowsAt(client: pg.Client, teamId: string, index: number, count: number): Promise<PositionRow[]> {
  const { rows } = await client.query<PositionRow>(
    'select id, created_at from agents where team_id = $1 order by created_at desc, id desc offset $2 limit $3',
    [teamId, index, count],
  );
  return rows;
}

/** The cursor position of a row, as AgentService.list writes it for `created_at:desc` (the time as RFC 3339). */
const positionOf = (row: PositionRow): CursorPosition => ({ values: [row.created_at.toISOString()], id: row.id });

interface Page {
  data?: Array<{ id: string; status?: string; platform?: string; hostname?: string }>;
  pagination?: { next_cursor?: string | null; total?: number; mode?: string };
}

async function getPage(url: string, path: string, headers: Record<string, string>): Promise<Page> {
  const response = await fetch(`${url}${path}`, { headers });
  const body = (await response.json().catch(() => undefined)) as Page | undefined;
  if (response.status !== 200 || !body?.data) throw new Error(`Opsdeck: GET ${path} answered ${response.status}: ${JSON.stringify(body).slice(0, 500)}`);
  return body;
}

const ids = (page: Page): string[] => page.data!.map((agent) => agent.id);

/**
 * The cursor and offset paths at each depth, checked against Opsdeck (see the top of this file). The
 * checking GETs also bring every page into the server's and PostgreSQL's caches.
 */
export async function planDepths(o: { databaseUrl: string; url: string; teamId: string; agents: number; headers: Record<string, string> }): Promise<DepthPlan[]> {
  const client = new pg.Client({ connectionString: o.databaseUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    // The query key: a cursor made here for the last row of the first page is the one Opsdeck answers.
    const first = await getPage(o.url, `${LIST_PATH}?limit=${PAGE_LIMIT}&cursor=`, o.headers);
    if (o.agents > PAGE_LIMIT) {
      const [last] = await rowsAt(client, o.teamId, PAGE_LIMIT - 1, 1);
      const made = encodeCursor(DEFAULT_LIST_QUERY_KEY, positionOf(last!));
      if (first.pagination?.next_cursor !== made) {
        throw new Error(
          `the cursor the bench makes for row ${PAGE_LIMIT - 1} is not the one Opsdeck answers (${first.pagination?.next_cursor}); ` +
            'has AgentService.list changed the query key of its cursors?',
        );
      }
    }

    const plans: DepthPlan[] = [];
    for (const depth of depthsOf(o.agents)) {
      const rows = depth === 0 ? [undefined, ...(await rowsAt(client, o.teamId, 0, 1))] : await rowsAt(client, o.teamId, depth - 1, 2);
      const [before, start] = rows;
      if (!start) throw new Error(`no agent at depth ${depth}`);
      const after = before ? positionOf(before) : null;
      const plan: DepthPlan = {
        depth,
        percent: Math.round((depth / o.agents) * 1000) / 10,
        cursorPath: `${LIST_PATH}?limit=${PAGE_LIMIT}&cursor=${after ? encodeCursor(DEFAULT_LIST_QUERY_KEY, after) : ''}`,
        offsetPath: `${LIST_PATH}?limit=${PAGE_LIMIT}&offset=${depth}`,
        after,
      };
      const [byCursor, byOffset] = [await getPage(o.url, plan.cursorPath, o.headers), await getPage(o.url, plan.offsetPath, o.headers)];
      if (byCursor.pagination?.mode !== 'cursor' || byOffset.pagination?.mode !== 'offset') {
        throw new Error(`at depth ${depth} the pages answered modes ${byCursor.pagination?.mode} and ${byOffset.pagination?.mode}`);
      }
      if (ids(byCursor)[0] !== start.id || ids(byCursor).join() !== ids(byOffset).join() || ids(byCursor).length !== Math.min(PAGE_LIMIT, o.agents - depth)) {
        throw new Error(`at depth ${depth} the cursor page and the offset page differ, or do not start with row ${depth} (${start.id})`);
      }
      plans.push(plan);
    }
    return plans;
  } finally {
    await client.end().catch(() => {});
  }
}

export interface ExplainFigures {
  /** Which page: `cursor` or `offset`, and its depth. */
  mode: 'cursor' | 'offset';
  depth: number;
  /** Median over the runs of EXPLAIN ANALYZE's execution time. */
  execution_ms: number;
  planning_ms: number;
  /** Shared buffers the query touched (hit + read), of the median run. */
  shared_buffers: number;
  /** Rows the first scan down the plan produced (an offset page reads its offset too). */
  rows_read: number;
  /** The plan's spine, e.g. `Limit > Index Scan Backward (agents_team_created_at_idx)`. */
  plan: string;
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}
interface Explained {
  Plan: PlanNode;
  'Planning Time': number;
  'Execution Time': number;
}

function spine(node: PlanNode): string {
  const here = `${node['Node Type']}${node['Index Name'] ? ` (${node['Index Name']})` : ''}`;
  const child = node.Plans?.[0];
  return child ? `${here} > ${spine(child)}` : here;
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the page query Opsdeck's repository compiles (captured from Kysely as it
 * runs it, with its parameters), for the given pages; each run `runs` times, the median kept. The caller's
 * teams are the bench team (the bench's administrator belongs to no other).
 */
export async function explainPages(databaseUrl: string, teamId: string, pages: ReadonlyArray<{ mode: 'cursor' | 'offset'; plan: DepthPlan }>, runs = 5): Promise<ExplainFigures[]> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  pool.on('error', () => {});
  let captured: CompiledQuery | undefined;
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (event.level === 'query') captured = event.query;
    },
  });
  const keys = parseSort(DEFAULT_SORT, SORTABLE_FIELDS);
  const out: ExplainFigures[] = [];
  try {
    for (const { mode, plan } of pages) {
      captured = undefined;
      await listAgents(
        db,
        { teamIds: [teamId] },
        keys,
        mode === 'cursor' ? { mode, limit: PAGE_LIMIT, after: plan.after } : { mode, limit: PAGE_LIMIT, offset: plan.depth },
      );
      const query = captured as CompiledQuery | undefined;
      if (!query) throw new Error('Kysely did not log the page query');
      const explained: Explained[] = [];
      for (let i = 0; i < runs; i++) {
        const { rows } = await pool.query<{ 'QUERY PLAN': Explained[] }>(`explain (analyze, buffers, format json) ${query.sql}`, [...query.parameters]);
        explained.push(rows[0]!['QUERY PLAN'][0]!);
      }
      explained.sort((a, b) => a['Execution Time'] - b['Execution Time']);
      const median = explained[Math.floor(explained.length / 2)]!;
      // The first scan down the plan's spine: what it produced is what the page had to read.
      let scan: PlanNode = median.Plan;
      while (!scan['Node Type'].includes('Scan') && scan.Plans?.[0]) scan = scan.Plans[0];
      out.push({
        mode,
        depth: plan.depth,
        execution_ms: Math.round(median['Execution Time'] * 1000) / 1000,
        planning_ms: Math.round(median['Planning Time'] * 1000) / 1000,
        shared_buffers: (median.Plan['Shared Hit Blocks'] ?? 0) + (median.Plan['Shared Read Blocks'] ?? 0),
        rows_read: (scan['Actual Rows'] ?? 0) * (scan['Actual Loops'] ?? 1),
        plan: spine(median.Plan),
      });
    }
  } finally {
    await db.destroy();
  }
  return out;
}

/** One GET of the filtered list: every agent it answers matches the filters; how many match in all. */
export async function probeFilteredList(url: string, headers: Record<string, string>): Promise<number> {
  const page = await getPage(url, FILTERED_LIST_PATH, headers);
  const wrong = page.data!.find((a) => a.status !== 'online' || a.platform !== 'linux' || !a.hostname?.toLowerCase().includes('web'));
  if (wrong) throw new Error(`Opsdeck: GET ${FILTERED_LIST_PATH} answered an agent that does not match: ${JSON.stringify(wrong)}`);
  if (page.data!.length === 0) throw new Error(`Opsdeck: GET ${FILTERED_LIST_PATH} answered no agent, though the bench fleet holds some: ${JSON.stringify(page).slice(0, 500)}`);
  return page.pagination?.total ?? page.data!.length;
}
