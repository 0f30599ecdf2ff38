import * as OpenApiValidator from 'express-openapi-validator';
import type { RequestHandler } from 'express';
import { spec } from '../contract.ts';
import { UUID } from './schema-check.ts';

/**
 * express-openapi-validator's middleware chain, which the pipeline runs as its `validate` step inside the
 * operation's own route (so the validator takes Express's match instead of matching the path again; see
 * patches/). Requests are always validated against the bundled contract (unknown query parameters refused);
 * responses too when `validateResponses` is on (development and tests). Security is the pipeline's own
 * authenticate step, and no operation takes multipart bodies, so those two parts of the chain are off.
 */
export function openApiValidator(validateResponses: boolean): RequestHandler[] {
  return OpenApiValidator.middleware({
    // A copy: the validator changes the document it is given as it prepares it (the rest of the server reads the
    // contract too). The contract is linted in CI (`npm run spec:lint`), so it is not checked against the OpenAPI
    // meta-schema again at every start.
    apiSpec: structuredClone(spec) as never,
    validateApiSpec: false,
    validateRequests: { allowUnknownQueryParameters: false, coerceTypes: true, allErrors: true },
    validateResponses: validateResponses ? { removeAdditional: false } : false,
    validateSecurity: false,
    fileUploader: false,
    validateFormats: true,
    // `uuid` without the `urn:uuid:` prefix, which Ajv would otherwise accept and PostgreSQL would refuse.
    formats: { uuid: { type: 'string', validate: (value: string) => UUID.test(value) } },
    ignoreUndocumented: false,
  }) as unknown as RequestHandler[];
}
