// The contract's types, generated from spec/, and short names for the ones callers handle most.
import type { components, operations, paths } from '../../generated/openapi.d.ts';

export type { components, operations, paths };

type Schemas = components['schemas'];

/** Any schema of the contract by name, e.g. `Schema<'AgentCreate'>`. */
export type Schema<Name extends keyof Schemas> = Schemas[Name];

export type Agent = Schemas['Agent'];
/** An agent as a list returns it: only `id` is sure to be present when `fields` trims the items. */
export type AgentFields = Schemas['AgentFields'];
/** An agent as `/api/v2/agents` lists it: with its groups and health score. */
export type AgentV2 = Schemas['AgentV2'];
/** The summary of `/api/v2/agents`: the whole filtered fleet, not just the page. */
export type AgentListSummary = Schemas['AgentListSummary'];
export type AgentCreate = Schemas['AgentCreate'];
export type AgentReplace = Schemas['AgentReplace'];
export type AgentPatch = Schemas['AgentPatch'];
export type AgentStatus = Schemas['AgentStatus'];
export type Platform = Schemas['Platform'];
export type ErrorCode = Schemas['ErrorCode'];
export type ErrorDetail = Schemas['ErrorDetail'];
export type ErrorEnvelope = Schemas['ErrorEnvelope'];
export type Meta = Schemas['Meta'];
export type Pagination = Schemas['Pagination'];
export type OffsetPagination = Schemas['OffsetPagination'];
export type CursorPagination = Schemas['CursorPagination'];
export type VersionInfo = Schemas['VersionInfo'];
export type Health = Schemas['Health'];
/** An access token and a refresh token, as `login` and `refresh` answer them. */
export type TokenPair = Schemas['TokenPair'];
/** What `login` answers, inside `401 AUTH_MFA_REQUIRED`, for an account with a second factor: the token for `loginMfa`. */
export type MfaChallenge = Schemas['MfaChallenge'];
/** An event of the live stream (`subscribeEvents`): narrow on `event` to get its typed `data`. */
export type StreamEvent = Schemas['StreamEvent'];
/** `task.completed`, `task.failed`, `task.cancelled`: `data` is the task. */
export type TaskEvent = Schemas['TaskEvent'];
/** `alert.triggered`, `alert.acknowledged`, `alert.resolved`: `data` is the alert. */
export type AlertEvent = Schemas['AlertEvent'];
/** `deployment.created`, `deployment.rollback_requested` (with `reason`, `requested_by`), `deployment.finished`: `data` is the deployment. */
export type DeploymentEvent = Schemas['DeploymentEvent'];
/** `agent.enrolled`, `agent.offline`: `data` is the agent. */
export type AgentEvent = Schemas['AgentEvent'];
/** `pipeline.updated`: `data` is the pipeline. */
export type PipelineEvent = Schemas['PipelineEvent'];
/** `pipeline.run.started`, `pipeline.run.completed` (with its `status`): `data` is the run. */
export type PipelineRunEvent = Schemas['PipelineRunEvent'];
/** What happened; new types may come within a version (`subscribeEvents` skips those it does not know). */
export type EventType = Schemas['EventType'];
/** A channel of the live stream: `tasks`, `alerts`, `agents`, `deployments`, `pipelines`. */
export type EventChannel = Schemas['EventChannel'];
/** A message a client sends on the live WebSocket (`connectLive` sends them). */
export type LiveClientMessage = Schemas['EventSocketClientMessage'];
/** A message the server sends on the live WebSocket: narrow on `type`. */
export type LiveServerMessage = Schemas['EventSocketServerMessage'];
