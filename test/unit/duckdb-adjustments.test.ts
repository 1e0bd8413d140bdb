import { describe, expect, it } from 'vitest';
import { LoadAdjustments } from '../../src/normalize/adjustments.js';

describe('the load adjustments of a DuckDB load (typed, keyed set)', () => {
  it('holds each adjustment once, by kind, table and column', () => {
    const set = new LoadAdjustments();
    expect(set.has({ kind: 'text', table: 't', column: 'c' })).toBe(false);
    set.add({ kind: 'text', table: 't', column: 'c' });
    set.add({ kind: 'text', table: 't', column: 'c' });
    expect(set.has({ kind: 'text', table: 't', column: 'c' })).toBe(true);
    expect(set.has({ kind: 'text', table: 't', column: 'd' })).toBe(false);
    expect(set.has({ kind: 'line-limit', table: 't' })).toBe(false);
    set.add({ kind: 'line-limit', table: 't' });
    expect(set.has({ kind: 'line-limit', table: 't' })).toBe(true);
    expect(set.has({ kind: 'line-limit', table: 'u' })).toBe(false);
  });

  it('does not confuse names that a string key joined with NUL would (a column named like the line limit)', () => {
    const set = new LoadAdjustments();
    set.add({ kind: 'text', table: 't', column: '\u0000max_line_size' });
    expect(set.has({ kind: 'line-limit', table: 't' })).toBe(false);
    set.add({ kind: 'text', table: 'a\u0000b', column: 'c' });
    expect(set.has({ kind: 'text', table: 'a', column: 'b\u0000c' })).toBe(false);
  });
});
