// Typed errors that services throw; the error middleware turns each into the error envelope.
// The HTTP status of a code comes from the spec's error catalogue, never from the throw site.
import { errorStatus, type ErrorCode } from '../contract.ts';
import type { components } from '../../generated/openapi.d.ts';

export type ErrorDetail = components['schemas']['ErrorDetail'];

/**
 * The `value` of a detail about a refused value, when it is worth echoing: a scalar, or a string that is short
 * and within the contract's own rules (no U+0000); else nothing.
 */
export function echoed(value: unknown): { value?: ErrorDetail['value'] } {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return { value };
  if (typeof value === 'string' && value.length <= 256 && !value.includes('\u0000')) return { value };
  return {};
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetail[]; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    const status = errorStatus.get(code);
    if (status === undefined) throw new Error(`error code ${code} is not in the spec's catalogue`);
    this.status = status;
    this.details = options.details;
    this.headers = options.headers;
  }
}

export const notFound = (what: string, id: string): ApiError => new ApiError('RES_NOT_FOUND', `${what} ${id} not found`);

/** A write whose If-Match held when checked, but whose row changed before it (a racing write won). */
export const movedOn = (what: string): ApiError =>
  new ApiError('RES_PRECONDITION_FAILED', `The ${what} changed since the version in If-Match; read it again`);

export const invalidParameter = (field: string, message: string, value?: unknown): ApiError =>
  new ApiError('VAL_INVALID_PARAMETER', `Invalid query parameter ${field}: ${message}`, {
    details: [{ field, message, ...(value === undefined ? {} : { value }) }],
  });
