// Checks every answer a client receives against the bundled contract: the status must be one the
// operation declares, and the body must match that status's schema. Installed as openapi-fetch
// middleware, so the same check judges the Prism mock and the real server.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { isIP } from 'node:net';
import type { Middleware } from 'openapi-fetch';
import { operationsById, resolveRef, spec } from '../../server/contract.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addFormat('ip', { type: 'string', validate: (value: string) => isIP(value) !== 0 });
ajv.addSchema(spec as object, 'openapi.json');

const pointer = (...parts: Array<string | number>): string =>
  parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

const validators = new Map<string, ValidateFunction>();

/** The JSON pointer of a declared response: where it is written, or the component its `$ref` names. */
function responsePointer(path: string, method: string, status: string, declared: unknown): string {
  const ref = (declared as { $ref?: string }).$ref;
  return ref?.startsWith('#/') ? ref.slice(2) : pointer('paths', path, method, 'responses', status);
}

function validatorFor(responseAt: string, mediaType: string): ValidateFunction {
  const ref = `openapi.json#/${responseAt}/${pointer('content', mediaType, 'schema')}`;
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    validators.set(ref, validate);
  }
  return validate;
}

export interface Violation {
  request: string;
  status: number;
  problem: string;
}

export class ContractChecker {
  readonly violations: Violation[] = [];
  readonly checked: string[] = [];

  readonly middleware: Middleware = {
    onResponse: async ({ request, response, schemaPath }) => {
      await this.check(request.method, schemaPath, response.clone());
      return undefined;
    },
  };

  async check(method: string, schemaPath: string, response: Response): Promise<void> {
    const lower = method.toLowerCase();
    const info = [...operationsById.values()].find((o) => o.path === schemaPath && o.method === lower);
    const label = `${method} ${schemaPath}`;
    if (!info) return void this.violations.push({ request: label, status: response.status, problem: 'no such operation in the spec' });
    this.checked.push(`${info.operationId} ${response.status}`);
    const written = info.operation.responses?.[String(response.status)];
    const declared = resolveRef(written) as { content?: Record<string, unknown> } | undefined;
    if (!declared) {
      return void this.violations.push({ request: label, status: response.status, problem: `status ${response.status} is not declared` });
    }
    const text = await response.text();
    if (!declared.content) {
      if (text !== '') this.violations.push({ request: label, status: response.status, problem: 'a body where the spec declares none' });
      return;
    }
    const mediaType = Object.keys(declared.content)[0]!;
    if (!(response.headers.get('content-type') ?? '').startsWith(mediaType)) {
      this.violations.push({ request: label, status: response.status, problem: `content-type ${response.headers.get('content-type')}, not ${mediaType}` });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return void this.violations.push({ request: label, status: response.status, problem: 'body is not JSON' });
    }
    const validate = validatorFor(responsePointer(info.path, info.method, String(response.status), written), mediaType);
    if (!validate(body)) {
      this.violations.push({ request: label, status: response.status, problem: ajv.errorsText(validate.errors, { separator: '; ' }) });
    }
  }
}
