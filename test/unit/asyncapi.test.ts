// The AsyncAPI document of the live WebSocket (generated/asyncapi.json): valid AsyncAPI 3.0.0 (the official JSON
// Schema of @asyncapi/specs, which the installed tooling brings; @asyncapi/parser is not installed), and written from
// the contract: one message per event type of the catalogue, whose `data` is the webhook's payload schema; the
// client and server messages of `openEventSocket`; every schema a copy of the contract's.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { spec } from '../../server/contract.ts';
import { asyncApiOf } from '../../scripts/asyncapi.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const require = createRequire(import.meta.url);
const generated = JSON.parse(readFileSync(new URL('../../generated/asyncapi.json', import.meta.url), 'utf8')) as Record<string, any>;
const contract = spec as unknown as Record<string, any>;

describe('the AsyncAPI document', () => {
  it('is valid AsyncAPI 3.0.0', () => {
    const schema = JSON.parse(readFileSync(require.resolve('@asyncapi/specs/schemas/3.0.0-without-$id.json'), 'utf8')) as object;
    const validate = addFormats(new Ajv({ strict: false, allErrors: true })).compile(schema);
    expect(validate(generated), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
    expect(generated.asyncapi).toBe('3.0.0');
    expect(generated.info.version).toBe(contract.info.version);
  });

  it('is what the generator writes from the contract as it is', () => {
    const { 'x-generated': _banner, ...document } = generated;
    expect(document).toEqual(JSON.parse(JSON.stringify(asyncApiOf(structuredClone(contract)))));
  });

  it('has the WebSocket operation as its channel, with every client and server message', () => {
    const channel = generated.channels.openEventSocket;
    expect(channel.address).toBe('/api/v1/events/ws');
    expect(contract.paths['/api/v1/events/ws'].get.operationId).toBe('openEventSocket');
    const kinds = (name: string) => contract.components.schemas[name].oneOf.map((b: any) => b.properties.type.const as string);
    for (const type of kinds('EventSocketClientMessage')) expect(generated.operations[`receive${type[0]!.toUpperCase()}${type.slice(1)}`]?.action).toBe('receive');
    for (const type of kinds('EventSocketServerMessage').filter((t: string) => t !== 'event')) expect(generated.components.messages[type]).toBeDefined();
    // Every message the channel lists is a component message, and every $ref of the document resolves.
    for (const message of Object.values<{ $ref: string }>(channel.messages)) expect(generated.components.messages[message.$ref.split('/').at(-1)!]).toBeDefined();
    const refs = JSON.stringify(generated).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const found of refs) {
      const pointer = JSON.parse(`{${found}}`).$ref.slice(2).split('/');
      expect(pointer.reduce((node: any, key: string) => node?.[key], generated), found).toBeDefined();
    }
  });

  it('has one event message per event type of the catalogue, with the webhook’s payload schema and the type’s channel', () => {
    const catalogue = contract.components.schemas.EventType.oneOf as Array<{ const: string; 'x-channel': string }>;
    expect(catalogue.length).toBeGreaterThan(0);
    for (const entry of catalogue) {
      const message = generated.components.messages[entry.const];
      expect(message, entry.const).toBeDefined();
      const [envelope, specific] = message.payload.allOf;
      expect(envelope).toEqual({ $ref: '#/components/schemas/EventSocketEvent' });
      expect(specific.properties.channel).toEqual({ const: entry['x-channel'] });
      const webhook = contract.webhooks[entry.const]?.post.requestBody.content['application/json'].schema;
      expect(specific.properties.data).toEqual(webhook ?? { $ref: '#/components/schemas/StreamEvent' });
    }
  });

  it('copies the contract’s schemas, not versions of its own', () => {
    for (const [name, schema] of Object.entries(generated.components.schemas)) {
      if (contract.components.schemas[name]) expect(schema, name).toEqual(contract.components.schemas[name]);
    }
    expect(generated.components.schemas.EventChannel.oneOf.map((c: any) => c.const)).toEqual(contract.components.schemas.EventChannel.oneOf.map((c: any) => c.const));
  });
});
