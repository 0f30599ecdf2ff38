// The express-openapi-validator patch (patches/) resolves `#/…` references without walking the document for
// `$id`s or anchors, so the contract must use none: checked here once, not at every start of the server.
import { describe, expect, it } from 'vitest';
import { spec } from '../../server/contract.ts';

describe('the contract the validator is given', () => {
  it('uses no $id, $anchor or $dynamicAnchor', () => {
    expect(JSON.stringify(spec)).not.toMatch(/"\$(id|anchor|dynamicAnchor)"/);
  });
});
