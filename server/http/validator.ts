import { isIP } from 'node:net';
import * as OpenApiValidator from 'express-openapi-validator';
import type { RequestHandler } from 'express';
import { spec } from '../contract.ts';

/**
 * Requests are always validated against the bundled contract (unknown query parameters refused);
 * responses too when `validateResponses` is on (development and tests).
 */
export function openApiValidator(validateResponses: boolean): RequestHandler[] {
  return OpenApiValidator.middleware({
    apiSpec: spec as never,
    validateRequests: { allowUnknownQueryParameters: false, coerceTypes: true, allErrors: true },
    validateResponses: validateResponses ? { removeAdditional: false } : false,
    validateFormats: true,
    // `ip` is the spec's format for host addresses: IPv4 or IPv6.
    formats: { ip: { type: 'string', validate: (value: string) => isIP(value) !== 0 } },
    ignoreUndocumented: false,
  }) as unknown as RequestHandler[];
}
