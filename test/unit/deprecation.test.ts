// Deprecation is read from any operation's x- fields, not written for listAgents: made-up operations
// get the same headers, and declarations the server could not honour fail start-up.
import { describe, expect, it } from 'vitest';
import type { OperationInfo } from '../../server/contract.ts';
import { deprecationHeaders, deprecationOf } from '../../server/http/deprecation.ts';
import { operationTable } from '../../server/http/operation-table.ts';

const op = (operationId: string, path: string, extra: Record<string, unknown> = {}): OperationInfo => ({
  operationId,
  method: 'get',
  path,
  operation: { operationId, responses: {}, ...extra } as never,
});

const getWidgetV2 = op('getWidgetV2', '/api/v2/widgets/{widget_id}');
const others = new Map([[getWidgetV2.operationId, getWidgetV2]]);
const deprecated = (extra: Record<string, unknown>) =>
  op('getWidget', '/api/v1/widgets/{widget_id}', { deprecated: true, 'x-deprecated-at': '2026-01-01T00:00:00Z', ...extra });

describe('deprecation from the contract', () => {
  it('knows the deprecated operations of the bundled spec', () => {
    expect(operationTable.get('listAgents')?.deprecation?.successor?.operationId).toBe('listAgentsV2');
    expect(operationTable.get('listAgentsV2')?.deprecation).toBeUndefined();
  });

  it('works for any operation: the successor path is filled from the request', () => {
    const widget = deprecationOf(deprecated({ 'x-sunset': '2026-12-31T23:59:59Z', 'x-successor': 'getWidgetV2' }), others)!;
    expect(deprecationHeaders(widget, { widget_id: 'w 1' })).toEqual({
      Deprecation: '@1767225600',
      Sunset: 'Thu, 31 Dec 2026 23:59:59 GMT',
      Link: '</api/v2/widgets/w%201>; rel="successor-version"',
    });
    // Without a sunset or a successor, only what is declared is sent.
    expect(deprecationHeaders(deprecationOf(deprecated({}), others)!)).toEqual({ Deprecation: '@1767225600' });
    expect(deprecationOf(op('getWidget', '/api/v1/widgets/{widget_id}'), others)).toBeUndefined();
  });

  it('refuses declarations it cannot honour', () => {
    expect(() => deprecationOf(op('getWidget', '/w', { deprecated: true, 'x-sunset': '2026-12-31T23:59:59Z' }), others)).toThrow(/x-deprecated-at/);
    expect(() => deprecationOf(deprecated({ 'x-sunset': 'next summer' }), others)).toThrow(/x-sunset "next summer"/);
    expect(() => deprecationOf(deprecated({ 'x-successor': 'getGadget' }), others)).toThrow(/x-successor "getGadget"/);
    expect(() => deprecationOf(op('listWidgets', '/api/v1/widgets', { deprecated: true, 'x-deprecated-at': '2026-01-01T00:00:00Z', 'x-successor': 'getWidgetV2' }), others)).toThrow(
      /path parameters it lacks: widget_id/,
    );
  });
});
