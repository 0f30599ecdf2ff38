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
export { pages, paginate, type ListInit, type ListItem, type ListPage, type ListPath } from './pagination.ts';
export type { Fetch, RetryOptions } from './retry.ts';
export type { OpsdeckAuth, OpsdeckSession, SessionOptions } from './session.ts';
export type {
  Agent,
  AgentCreate,
  AgentFields,
  AgentPatch,
  AgentReplace,
  AgentStatus,
  components,
  CursorPagination,
  ErrorCode,
  ErrorDetail,
  ErrorEnvelope,
  Health,
  Meta,
  OffsetPagination,
  operations,
  Pagination,
  paths,
  Platform,
  Schema,
  TokenPair,
  VersionInfo,
} from './types.ts';
