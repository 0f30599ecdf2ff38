// Registers one route per operation of the spec, bound to its handler by operationId.
import { Router, type Request, type Response } from 'express';
import { operationsById } from '../contract.ts';
import { sendSuccess } from './envelope.ts';
import type { HandlerMap, OperationId } from './operation-types.ts';

type AnyHandler = (input: { params: unknown; query: unknown; body: unknown; ctx: Request['ctx'] }) => Promise<{
  status: number;
  headers?: Record<string, string>;
  body?: object;
}>;

/** `/api/v1/agents/{agent_id}` → `/api/v1/agents/:agent_id` */
export const expressPath = (specPath: string): string => specPath.replace(/\{([^}]+)\}/g, ':$1');

/** Fails start-up when the handler map and the spec's operations are not the same set. */
export function assertHandlersMatchSpec(handlers: Record<string, unknown>): void {
  const inSpec = new Set(operationsById.keys());
  const bound = new Set(Object.keys(handlers));
  const missing = [...inSpec].filter((id) => !bound.has(id));
  const extra = [...bound].filter((id) => !inSpec.has(id));
  if (missing.length || extra.length) {
    throw new Error(
      `handlers do not match the spec: ${missing.length ? `no handler for ${missing.join(', ')}` : ''}` +
        `${missing.length && extra.length ? '; ' : ''}${extra.length ? `no operation for ${extra.join(', ')}` : ''}`,
    );
  }
}

export function bindOperations(handlers: HandlerMap): Router {
  assertHandlersMatchSpec(handlers);
  const router = Router();
  for (const [operationId, info] of operationsById) {
    const handler = handlers[operationId as OperationId] as unknown as AnyHandler;
    router[info.method](expressPath(info.path), async (req: Request, res: Response) => {
      const result = await handler({ params: req.params, query: req.query, body: req.body, ctx: req.ctx });
      const teamId = (result.body as { data?: { team_id?: unknown } } | undefined)?.data?.team_id;
      if (typeof teamId === 'string') req.ctx.resourceTeamId = teamId;
      for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
      sendSuccess(res, req.ctx, result.status, result.body);
    });
  }
  return router;
}
