// The contract's types, generated from spec/, and short names for the ones callers handle most.
import type { components, operations, paths } from '../../generated/openapi.d.ts';

export type { components, operations, paths };

type Schemas = components['schemas'];

/** Any schema of the contract by name, e.g. `Schema<'AgentCreate'>`. */
export type Schema<Name extends keyof Schemas> = Schemas[Name];

export type Agent = Schemas['Agent'];
/** An agent as a list returns it: only `id` is sure to be present when `fields` trims the items. */
export type AgentFields = Schemas['AgentFields'];
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
