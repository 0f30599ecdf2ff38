// The one handler map: every operationId of the spec, each bound to its module's handler.
// Leaving one out, or answering with a status the spec does not declare, fails `npm run typecheck`.
import type { HandlerMap } from './http/operation-types.ts';
import { agentHandlers } from './modules/agents/agents.handlers.ts';
import { AgentService } from './modules/agents/agents.service.ts';
import { systemHandlers } from './modules/system/system.handlers.ts';
import type { AppDeps } from './app.ts';

export function createHandlers(deps: AppDeps): HandlerMap {
  return {
    ...agentHandlers(new AgentService(deps.database.db)),
    ...systemHandlers(deps.health, deps.database.backend, deps.startedAt),
  } satisfies HandlerMap;
}
