// Child entry: baseline (a), bare node:http + a pg Pool of 10, hand-routed. The floor: what the two
// endpoints cost with no framework at all.
import { createServer, type ServerResponse } from 'node:http';
import { findAgent, isUuid, listAgents, openPool, pageParams, requireTeam } from './baseline-queries.ts';
import { serveUnderBench } from './child-protocol.ts';
import { listenOnLoopback } from './listen.ts';

const AGENT_PATH = '/api/v1/agents/';
const LIST_PATH = '/api/v1/agents';

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

const notFound = { success: false, error: { code: 'RES_NOT_FOUND', message: 'Not found' } };

await serveUnderBench(async ({ databaseUrl, teamId }) => {
  const team = requireTeam(teamId);
  const pool = openPool(databaseUrl);
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const handle = async (): Promise<void> => {
      if (req.method !== 'GET') return send(res, 405, { success: false, error: { code: 'METHOD_NOT_ALLOWED', message: 'GET only' } });
      if (path === LIST_PATH) {
        const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
        const params = pageParams(query.get('limit') ?? undefined, query.get('offset') ?? undefined);
        if (!params) return send(res, 400, { success: false, error: { code: 'VALIDATION_FAILED', message: 'bad limit or offset' } });
        return send(res, 200, { success: true, ...(await listAgents(pool, team, params.limit, params.offset)) });
      }
      if (path.startsWith(AGENT_PATH)) {
        const id = path.slice(AGENT_PATH.length);
        const agent = isUuid(id) ? await findAgent(pool, team, id) : undefined;
        return agent ? send(res, 200, { success: true, data: agent }) : send(res, 404, notFound);
      }
      send(res, 404, notFound);
    };
    handle().catch(() => {
      if (!res.headersSent) send(res, 500, { success: false, error: { code: 'INTERNAL', message: 'Internal error' } });
      else res.destroy();
    });
  });
  return listenOnLoopback(server, () => pool.end());
});
