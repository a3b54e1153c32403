import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareBytes,
  decode,
  decodeTx,
  encode,
  encodeTx,
  fromHex,
  generateSecretKey,
  publicKeyOf,
  signTx,
  toHex,
  txHash,
  type Value,
  verifyTxSignature,
} from '../src/index.ts';

const value: fc.Arbitrary<Value> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger().map((n) => (Object.is(n, -0) ? 0 : n)),
    fc.string(),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 5, noNullPrototype: true }),
  ),
})).v as fc.Arbitrary<Value>;

describe('canonical encoding (properties)', () => {
  it('decode(encode(x)) = x', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(decode(encode(v))).toEqual(v);
      }),
      { numRuns: 500 },
    );
  });

  it('distinct values give distinct bytes', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const ea = encode(a);
        const eb = encode(b);
        if (compareBytes(ea, eb) === 0) expect(decode(ea)).toEqual(decode(eb));
        else expect(decode(ea)).not.toEqual(decode(eb));
      }),
      { numRuns: 500 },
    );
  });

  it('re-encoding any decodable byte string reproduces it exactly (no second encoding)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        let v: Value;
        try {
          v = decode(bytes);
        } catch {
          return;
        }
        expect(toHex(encode(v))).toBe(toHex(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects non-canonical forms with a reason', () => {
    const cases: [string, RegExp][] = [
      ['1817', /non-minimal/], // 23 in two bytes
      ['190010', /non-minimal/],
      ['a2616201616101', /out of canonical order/], // {b:1, a:1}
      ['a2616101616101', /out of canonical order or duplicated/],
      ['0000', /trailing/],
      ['9f00ff', /indefinite/],
      ['f93c00', /float/],
      ['c11a00', /tags/],
      ['62c328', /UTF-8/],
      ['a10101', /map keys must be text/],
      ['5a00010000', /end of input/],
      ['1bffffffffffffffff', /beyond 2\^53/],
    ];
    for (const [hex, why] of cases) expect(() => decode(fromHex(hex)), hex).toThrow(why);
  });

  it('any single-bit change to a signed transaction is rejected', () => {
    const sk = generateSecretKey();
    const tx = encodeTx(
      signTx(
        {
          chainId: 'c',
          author: publicKeyOf(sk),
          nonce: 3,
          kind: 'hospital.register',
          payload: { id: 'x', n: 5 },
        },
        sk,
      ),
    );
    const h = toHex(txHash(tx));
    for (let bit = 0; bit < tx.length * 8; bit++) {
      const b = tx.slice();
      b[bit >> 3]! ^= 1 << (bit & 7);
      let accepted = false;
      try {
        const d = decodeTx(b);
        accepted = verifyTxSignature(d) && toHex(txHash(encodeTx(d))) === h;
      } catch {
        accepted = false;
      }
      expect(accepted, `bit ${bit}`).toBe(false);
    }
  });
});

describe('map keys read through the decoder intern table', () => {
  // Keys up to 24 bytes come from a direct-mapped table of 509 slots: many distinct keys share
  // slots, so a table that trusted its hash (or length) would hand back another key's string.
  const key = fc.oneof(
    fc.string({ minLength: 0, maxLength: 26 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.constantFrom('__proto__', 'constructor', 'toString', 'a'.repeat(24), 'a'.repeat(25)),
  );

  it('decode(encode(x)) = x for maps of many short keys, decoded one after another', () => {
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(key, fc.nat(), { maxKeys: 40, noNullPrototype: true }), {
          minLength: 1,
          maxLength: 8,
        }),
        (maps) => {
          for (const m of maps) expect(decode(encode(m))).toEqual(m);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keys that share a slot and a length stay distinct', () => {
    // 2,000 distinct 6-byte keys over 509 slots: collisions are certain.
    const keys = Array.from({ length: 2000 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    const m = Object.fromEntries(keys.map((k, i) => [k, i]));
    for (let round = 0; round < 2; round++) {
      const back = decode(encode(m)) as Record<string, number>;
      expect(Object.keys(back)).toEqual([...keys].sort());
      for (const k of keys) expect(back[k]).toBe(m[k]);
    }
  });

  it('a key with invalid UTF-8 is still refused after a valid key filled its slot', () => {
    const ok = encode({ ab: 1 });
    expect(decode(ok)).toEqual({ ab: 1 });
    const bad = Uint8Array.from(ok);
    bad[2] = 0xff; // the key's first byte: 0xff 'b' is not UTF-8
    expect(() => decode(bad)).toThrow(/UTF-8/);
  });
});
