import { describe, expect, it } from 'vitest';
import {
  decode,
  EncodingError,
  encode,
  fromHex,
  MAX_DEPTH,
  toHex,
  type Value,
} from '../src/index.ts';

describe('canonical encoding', () => {
  it('round-trips a map with sorted keys', () => {
    const v = { b: 1, a: 'x', c: new Uint8Array([1, 2]), d: [true, false, null, -5] };
    expect(decode(encode(v))).toEqual(v);
    expect(toHex(encode({ b: 1, a: 2 }))).toBe('a2616102616201');
  });
  it('rejects a non-minimal head', () => {
    expect(() => decode(fromHex('1805'))).toThrow(/non-minimal/);
  });
  it('names the path of what cannot be encoded', () => {
    const err = (() => {
      try {
        encode({ a: [1, { b: 1.5 }] });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(EncodingError);
    expect(err).toMatchObject({ code: 'ENCODING_INVALID', data: { path: '$.a[1].b' } });
    expect(() => encode([undefined as unknown as Value])).toThrow(/not encodable/);
  });
  it('short ASCII, long and non-ASCII text encode as UTF-8 alike, keys in canonical order', () => {
    const long = 'x'.repeat(200);
    const v = { é: 'ü', [long]: long, b: 'plain', aa: '\u{1F600}', a: '' };
    const bytes = encode(v);
    expect(decode(bytes)).toEqual(v);
    // Keys sort by encoded bytes: shorter heads first, then bytewise.
    expect(Object.keys(decode(bytes) as object)).toEqual(['a', 'b', 'aa', 'é', long]);
    expect(toHex(encode('é'))).toBe('62c3a9');
    expect(toHex(encode('ab'))).toBe('626162');
    // A lone surrogate is written as U+FFFD, as TextEncoder does.
    expect(toHex(encode('\ud800'))).toBe('63efbfbd');
    // Invalid UTF-8 in a short text string is still refused.
    expect(() => decode(fromHex('62c328'))).toThrow(/invalid UTF-8/);
    expect(() => decode(fromHex('a162c32801'))).toThrow(/invalid UTF-8 in map key/);
  });
});

describe('nesting depth (no input sets the recursion depth)', () => {
  // `n` arrays around a null: the null sits n levels down.
  const nested = (n: number) => {
    let v: Value = null;
    for (let i = 0; i < n; i++) v = [v];
    return v;
  };
  const nestedBytes = (n: number, open: number[]) =>
    new Uint8Array([...Array.from({ length: n }, () => open).flat(), 0xf6]);

  it('encodes and decodes exactly MAX_DEPTH levels, and refuses one more both ways', () => {
    const ok = nested(MAX_DEPTH);
    expect(decode(encode(ok))).toEqual(ok);
    expect(() => encode(nested(MAX_DEPTH + 1))).toThrow(EncodingError);
    expect(() => encode(nested(MAX_DEPTH + 1))).toThrow(/nesting deeper than 32/);
    expect(() => decode(nestedBytes(MAX_DEPTH + 1, [0x81]))).toThrow(/nesting deeper than 32/);
    expect(decode(nestedBytes(MAX_DEPTH, [0x81]))).toEqual(ok);
  });

  it('answers a coded error, not a stack overflow, for 100,000 levels of arrays or maps', () => {
    expect(() => encode(nested(100_000))).toThrow(EncodingError);
    let m: Value = null;
    for (let i = 0; i < 100_000; i++) m = { a: m };
    expect(() => encode(m)).toThrow(EncodingError);
    expect(() => decode(nestedBytes(100_000, [0x81]))).toThrow(EncodingError);
    // {"a": {"a": ...}}: a1 (map of 1) 61 61 (key "a")
    expect(() => decode(nestedBytes(100_000, [0xa1, 0x61, 0x61]))).toThrow(EncodingError);
  });

  it('refuses a value that contains itself', () => {
    const loop: Value[] = [];
    loop.push(loop);
    expect(() => encode(loop)).toThrow(/nesting deeper than 32/);
  });
});

describe('large byte strings (document bodies)', () => {
  it('encode a multi-MiB body followed by small fields exactly, and decode it back', () => {
    for (const n of [65_535, 65_536, 3 * 1024 * 1024 + 7, 8 * 1024 * 1024]) {
      const body = new Uint8Array(n);
      for (let i = 0; i < n; i += 4093) body[i] = i & 0xff;
      // Keys sort after the body's key: small writes follow the large one.
      const value = { b: body, c: 1, d: 'x'.repeat(300), e: [1, 2, 3], f: new Uint8Array(70_000) };
      const bytes = encode(value);
      const again = encode(value);
      expect(bytes).toEqual(again);
      const d = decode(bytes) as { b: Uint8Array; c: number; d: string; f: Uint8Array };
      expect(d.b).toEqual(body);
      expect(d.c).toBe(1);
      expect(d.d).toBe('x'.repeat(300));
      expect(d.f.length).toBe(70_000);
      // The result is independent of any other encoding's buffer.
      bytes[bytes.length - 1]! ^= 1;
      expect(again[again.length - 1]).not.toBe(bytes[bytes.length - 1]);
    }
  });
});
