export { createOpsdeckClient, type OpsdeckClient, type OpsdeckClientOptions } from './client.ts';
export { OpsdeckError, unwrap, type Unwrapped } from './errors.ts';
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
