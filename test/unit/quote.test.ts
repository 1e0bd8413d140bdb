import { describe, expect, it } from 'vitest';
import { qualified, quoteIdent, quoteLiteral } from '../../src/sql/quote.js';

describe('quoteIdent', () => {
  it.each([
    ['accounts', '"accounts"'],
    ['', '""'],
    ['Mixed Case', '"Mixed Case"'],
    ['a"b', '"a""b"'],
    ['"', '""""'],
    ['""', '""""""'],
    ["it's", '"it\'s"'],
    ['x"; DROP TABLE t; --', '"x""; DROP TABLE t; --"'],
    ['día', '"día"'],
  ])('%j -> %s', (name, quoted) => {
    expect(quoteIdent(name)).toBe(quoted);
  });

  it('refuses NUL', () => {
    expect(() => quoteIdent('a\u0000b')).toThrow(/NUL/);
    expect(() => quoteIdent('\u0000')).toThrow(/NUL/);
  });
});

describe('quoteLiteral', () => {
  it.each([
    ['abc', "'abc'"],
    ['', "''"],
    ["it's", "'it''s'"],
    ["''", "''''''"],
    ['"', `'"'`],
    ['back\\slash', "'back\\slash'"],
    ["x'; DROP TABLE t; --", "'x''; DROP TABLE t; --'"],
    ['line\nbreak', "'line\nbreak'"],
  ])('%j -> %s', (value, quoted) => {
    expect(quoteLiteral(value)).toBe(quoted);
  });

  it('refuses NUL', () => {
    expect(() => quoteLiteral('a\u0000b')).toThrow(/NUL/);
  });
});

describe('qualified', () => {
  it('quotes both parts', () => {
    expect(qualified('public', 'accounts')).toBe('"public"."accounts"');
    expect(qualified('my"schema', 'a.b')).toBe('"my""schema"."a.b"');
  });

  it('refuses NUL in either part', () => {
    expect(() => qualified('a\u0000', 't')).toThrow(/NUL/);
    expect(() => qualified('s', 't\u0000')).toThrow(/NUL/);
  });
});
