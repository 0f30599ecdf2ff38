// Checks every answer a client receives against the bundled contract: the status must be one the
// operation declares, and the body must match that status's schema. Installed as openapi-fetch
// middleware, so the same check judges the Prism mock and the real server. A `text/event-stream` answer
// has no end to wait for: its messages are checked as they come (each `data:` a StreamEvent, its `event:`
// the event's type), until the client closes the stream; `settled()` waits for that.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { isIP } from 'node:net';
import type { Middleware } from 'openapi-fetch';
import { SseParser } from '@opsdeck/sdk';
import { operationsById, resolveRef, spec } from '../../server/contract.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addFormat('ip', { type: 'string', validate: (value: string) => isIP(value) !== 0 });
// A file's bytes (`format: binary`) are whatever they are; read as text here, only their length is checked.
ajv.addFormat('binary', true);
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

const validateStreamEvent = ajv.compile({ $ref: 'openapi.json#/components/schemas/StreamEvent' });

export class ContractChecker {
  readonly violations: Violation[] = [];
  readonly checked: string[] = [];
  readonly #streams = new Set<Promise<void>>();

  /** Resolves once every stream seen so far has ended (closed by its client, or by the server). */
  async settled(): Promise<void> {
    await Promise.all([...this.#streams]);
  }

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
    if (declared.content && 'text/event-stream' in declared.content) return this.#checkStream(label, response);
    const text = await response.text();
    if (!declared.content) {
      if (text !== '') this.violations.push({ request: label, status: response.status, problem: 'a body where the spec declares none' });
      return;
    }
    // The declared media type the answer is in (`*/*`, a file's own type, takes any).
    const received = response.headers.get('content-type') ?? '';
    const mediaType = Object.keys(declared.content).find((type) => type === '*/*' || received.startsWith(type));
    if (!mediaType) {
      return void this.violations.push({ request: label, status: response.status, problem: `content-type ${received}, not ${Object.keys(declared.content).join(' or ')}` });
    }
    // A text answer (the metrics' `text/plain; version=0.0.4`) is its schema's string, as it is.
    const isJson = /[/+]json$/.test(mediaType.split(';')[0]!.trim());
    let body: unknown = text;
    if (isJson) {
      try {
        body = JSON.parse(text);
      } catch {
        return void this.violations.push({ request: label, status: response.status, problem: 'body is not JSON' });
      }
    }
    const validate = validatorFor(responsePointer(info.path, info.method, String(response.status), written), mediaType);
    if (!validate(body)) {
      this.violations.push({ request: label, status: response.status, problem: ajv.errorsText(validate.errors, { separator: '; ' }) });
    }
  }

  /** Checks a stream's content type now and its messages as they come, without waiting for its end. */
  #checkStream(label: string, response: Response): void {
    const violation = (problem: string) => this.violations.push({ request: label, status: response.status, problem });
    if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) violation(`content-type ${response.headers.get('content-type')}, not text/event-stream`);
    const reading = (async () => {
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          for (const item of parser.push(decoder.decode(value, { stream: true }))) {
            if (typeof item === 'number' || item.data === '') continue;
            let event: unknown;
            try {
              event = JSON.parse(item.data);
            } catch {
              violation(`a data line is not JSON: ${item.data.slice(0, 200)}`);
              continue;
            }
            if (!validateStreamEvent(event)) violation(`data is not a StreamEvent: ${ajv.errorsText(validateStreamEvent.errors, { separator: '; ' })}`);
            else if ((event as { event: string }).event !== item.event) violation(`event: ${item.event}, but the data's event is ${(event as { event: string }).event}`);
            if (!/^[0-9]{1,19}$/.test(item.lastEventId ?? '')) violation(`id: ${item.lastEventId ?? '(none)'} is not a stream position`);
          }
        }
      } catch {
        // the client closed the stream
      }
    })();
    this.#streams.add(reading);
    void reading.finally(() => this.#streams.delete(reading));
  }
}
