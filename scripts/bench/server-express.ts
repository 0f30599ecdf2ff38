// Child entry: baseline (b), a plain Express 5 app as most teams write it: express.json(), one route
// per endpoint, res.json(), a pg Pool of 10. Express defaults are kept (etag, x-powered-by).
import { createServer } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { findAgent, isUuid, listAgents, openPool, pageParams, requireTeam } from './baseline-queries.ts';
import { serveUnderBench } from './child-protocol.ts';
import { listenOnLoopback } from './listen.ts';

await serveUnderBench(async ({ databaseUrl, teamId }) => {
  const team = requireTeam(teamId);
  const pool = openPool(databaseUrl);
  const app = express();
  app.use(express.json());

  app.get('/api/v1/agents', async (req: Request, res: Response) => {
    const params = pageParams(req.query.limit, req.query.offset);
    if (!params) {
      res.status(400).json({ success: false, error: { code: 'VALIDATION_FAILED', message: 'bad limit or offset' } });
      return;
    }
    res.json({ success: true, ...(await listAgents(pool, team, params.limit, params.offset)) });
  });

  app.get('/api/v1/agents/:id', async (req: Request<{ id: string }>, res: Response) => {
    const agent = isUuid(req.params.id) ? await findAgent(pool, team, req.params.id) : undefined;
    if (!agent) {
      res.status(404).json({ success: false, error: { code: 'RES_NOT_FOUND', message: 'Agent not found' } });
      return;
    }
    res.json({ success: true, data: agent });
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ success: false, error: { code: 'INTERNAL', message: err instanceof Error ? err.message : 'Internal error' } });
  });

  const server = createServer(app);
  return listenOnLoopback(server, () => pool.end());
});
