export { createOpsdeckClient, type OpsdeckClient, type OpsdeckClientOptions } from './client.ts';
export { isPreconditionFailed, OpsdeckError, unwrap, type PreconditionFailed, type Unwrapped } from './errors.ts';
export {
  etagOf,
  getIfChanged,
  IDEMPOTENT_POST_PATHS,
  isReplayed,
  rateLimitOf,
  type ConditionalPath,
  type HasHeaders,
  type IdempotentPostPath,
  type IfChanged,
  type RateLimit,
} from './edge.ts';
export { EVENT_TYPES, SseParser, subscribeEvents, type EventSubscription, type SseMessage, type SubscribeEventsOptions } from './events.ts';
export { connectLive, LiveError, type ConnectLiveOptions, type LiveConnection } from './live.ts';
export { pages, paginate, PaginationLoopError, type ListInit, type ListItem, type ListPage, type ListPath } from './pagination.ts';
export type { Fetch, RetryOptions } from './retry.ts';
export { taskChildren, waitForTask, type WaitForTaskOptions } from './tasks.ts';
export {
  OpsdeckSignatureError,
  parseOpsdeckWebhook,
  verifyOpsdeckSignature,
  type HeadersLike,
  type VerifyOptions,
  type WebhookEventType,
  type WebhookPayload,
} from './webhooks.ts';
export type { LoginOptions, OpsdeckAuth, OpsdeckSession, SecondFactor, SessionOptions } from './session.ts';
export { MfaRequiredError } from './session.ts';
export type {
  Agent,
  AgentCreate,
  AgentEvent,
  AlertEvent,
  AgentFields,
  AgentListSummary,
  AgentV2,
  AgentPatch,
  AgentReplace,
  AgentStatus,
  components,
  CursorPagination,
  DeploymentEvent,
  ErrorCode,
  ErrorDetail,
  ErrorEnvelope,
  EventChannel,
  LiveClientMessage,
  LiveServerMessage,
  EventType,
  Health,
  Meta,
  OffsetPagination,
  operations,
  Pagination,
  paths,
  PipelineEvent,
  PipelineRunEvent,
  Platform,
  Schema,
  StreamEvent,
  TaskEvent,
  TokenPair,
  MfaChallenge,
  VersionInfo,
} from './types.ts';
