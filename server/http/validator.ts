import * as OpenApiValidator from 'express-openapi-validator';
import type { RequestHandler } from 'express';
import { spec } from '../contract.ts';
import { contractFormats, withStringRule } from './contract-rules.ts';

/**
 * express-openapi-validator's middleware chain, which the pipeline runs as its `validate` step inside the
 * operation's own route (so the validator takes Express's match instead of matching the path again; see
 * patches/). Requests are always validated against the bundled contract (unknown query parameters refused);
 * responses too when `validateResponses` is on (development and tests). Security is the pipeline's own
 * authenticate step, and no operation takes multipart bodies, so those two parts of the chain are off.
 *
 * Path, query and header parameters arrive as text and are coerced to their declared types (the validator
 * always does so); a JSON body is taken as it is: a value of the wrong JSON type (`"name": false`,
 * `"expires_in_hours": "24"`) is refused, never converted. Formats are checked in full (contract-rules.ts: a
 * date-time must be a real instant), and every string is held to the contract's string rule (no U+0000).
 */
export function openApiValidator(validateResponses: boolean): RequestHandler[] {
  // The validator's patch (patches/) resolves `#/…` references in a document it does not walk for `$id`s: the
  // contract uses none (test/unit/validator.test.ts checks it, rather than every start).
  return OpenApiValidator.middleware({
    // A copy: the validator changes the document it is given as it prepares it (the rest of the server reads the
    // contract too); the copy carries the string rule. The contract is linted in CI (`npm run spec:lint`), so it is
    // not checked against the OpenAPI meta-schema again at every start.
    apiSpec: withStringRule(structuredClone(spec)) as never,
    validateApiSpec: false,
    validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false, allErrors: true },
    validateResponses: validateResponses ? { removeAdditional: false } : false,
    validateSecurity: false,
    fileUploader: false,
    validateFormats: true,
    ajvFormats: { mode: 'full' },
    formats: contractFormats,
    ignoreUndocumented: false,
  }) as unknown as RequestHandler[];
}
