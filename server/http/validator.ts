import * as OpenApiValidator from 'express-openapi-validator';
import type { RequestHandler } from 'express';
import { spec } from '../contract.ts';
import { isIpAddress, UUID } from './schema-check.ts';

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
    // `ip` is the spec's format for host addresses (IPv4 or IPv6); `uuid` without the `urn:uuid:` prefix
    // Ajv would otherwise accept and PostgreSQL would refuse.
    formats: { ip: { type: 'string', validate: isIpAddress }, uuid: { type: 'string', validate: (value: string) => UUID.test(value) } },
    ignoreUndocumented: false,
  }) as unknown as RequestHandler[];
}
