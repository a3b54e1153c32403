import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  concatBytes,
  fromHex,
  generateSecretKey,
  publicKeyOf,
  SMALL_ORDER_ENCODINGS,
  sign,
  signNoble,
  toHex,
  verify,
  verifyNative,
  verifyNoble,
} from '../src/index.ts';

// RFC 8032 section 7.1
const RFC8032 = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    public: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const le = (n: bigint) => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
};
const leToBig = (b: Uint8Array) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);

/** Both backends must give the same answer; returns it. */
function agree(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  const a = verifyNoble(sig, msg, pub);
  const b = verifyNative(sig, msg, pub);
  expect(b, `backends disagree on sig ${toHex(sig)} key ${toHex(pub)}`).toBe(a);
  return a;
}

describe('Ed25519 (RFC 8032 vectors)', () => {
  for (const [i, v] of RFC8032.entries()) {
    it(`vector ${i + 1}: keys, signature bytes and verification`, () => {
      const secret = fromHex(v.secret);
      const msg = fromHex(v.message);
      expect(toHex(publicKeyOf(secret))).toBe(v.public);
      expect(toHex(sign(msg, secret))).toBe(v.signature);
      expect(toHex(signNoble(msg, secret))).toBe(v.signature);
      expect(agree(fromHex(v.signature), msg, fromHex(v.public))).toBe(true);
      expect(
        agree(fromHex(v.signature), concatBytes(msg, new Uint8Array([0])), fromHex(v.public)),
      ).toBe(false);
    });
  }
});

describe('Ed25519 strict rule: both backends accept and reject alike', () => {
  const secret = fromHex(RFC8032[1]!.secret);
  const pub = publicKeyOf(secret);
  const msg = fromHex('72');
  const good = sign(msg, secret);

  it('rejects S >= L (S + L is the classic malleated signature)', () => {
    const s = leToBig(good.subarray(32));
    const malleated = concatBytes(good.subarray(0, 32), le(s + L));
    expect(agree(malleated, msg, pub)).toBe(false);
    expect(agree(concatBytes(good.subarray(0, 32), le(L)), msg, pub)).toBe(false);
    expect(agree(concatBytes(good.subarray(0, 32), new Uint8Array(32).fill(0xff)), msg, pub)).toBe(
      false,
    );
  });

  it('the small-order list is exactly the small-order points', () => {
    for (const h of SMALL_ORDER_ENCODINGS) {
      expect(ed.Point.fromHex(h, true).isSmallOrder()).toBe(true);
    }
  });

  it('rejects every small-order public key and R, whatever the message', () => {
    for (const a of SMALL_ORDER_ENCODINGS) {
      for (const r of SMALL_ORDER_ENCODINGS) {
        for (const m of ['', '00', 'deadbeef']) {
          const sig = concatBytes(fromHex(r), new Uint8Array(32));
          expect(agree(sig, fromHex(m), fromHex(a))).toBe(false);
        }
      }
      // A valid-looking S with a small-order key.
      expect(agree(good, msg, fromHex(a))).toBe(false);
    }
    for (const r of SMALL_ORDER_ENCODINGS) {
      expect(agree(concatBytes(fromHex(r), good.subarray(32)), msg, pub)).toBe(false);
    }
  });

  it('rejects non-canonical encodings of A and R (y >= p)', () => {
    // y = p + 1 and y = p + 2 (with and without the sign bit).
    const p = 2n ** 255n - 19n;
    for (const y of [p, p + 1n, p + 2n, 2n ** 255n - 1n]) {
      const enc = le(y);
      expect(agree(good, msg, enc)).toBe(false);
      expect(agree(concatBytes(enc, good.subarray(32)), msg, pub)).toBe(false);
      enc[31]! |= 0x80;
      expect(agree(good, msg, enc)).toBe(false);
    }
  });

  it('mixed-order keys (A + T): cofactorless on both sides', () => {
    const torsion = ed.Point.fromHex(
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
      true,
    );
    let accepted = 0;
    for (let i = 0; i < 24; i++) {
      const sk = generateSecretKey();
      const ext = ed.utils.getExtendedPublicKey(sk);
      const a2 = ext.point.add(torsion).toBytes();
      const m = new Uint8Array([i]);
      const rScalar = ed.etc.mod(leToBig(sha512(concatBytes(sk, m))), L) || 1n;
      const R = ed.Point.BASE.multiply(rScalar).toBytes();
      const k = ed.etc.mod(leToBig(sha512(concatBytes(R, a2, m))), L);
      const S = ed.etc.mod(rScalar + k * ext.scalar, L);
      if (agree(concatBytes(R, le(S)), m, a2)) accepted++;
    }
    // Cofactorless verification accepts only when k = 0 mod 8: rarely.
    expect(accepted).toBeLessThan(12);
  });

  it('random signatures, keys and single-bit flips: the backends agree (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        fc.integer({ min: 0, max: 64 * 8 + 32 * 8 - 1 }),
        (m, bit) => {
          const sk = fromHex(RFC8032[0]!.secret);
          const pk = publicKeyOf(sk);
          const sig = sign(m, sk);
          expect(agree(sig, m, pk)).toBe(true);
          const s2 = sig.slice();
          const p2 = pk.slice();
          if (bit < 512) s2[bit >> 3]! ^= 1 << (bit & 7);
          else p2[(bit - 512) >> 3]! ^= 1 << (bit & 7);
          expect(agree(s2, m, p2)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (s, p) => {
          agree(s, new Uint8Array([1]), p);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('verify() is the native backend and rejects wrong lengths', () => {
    expect(verify(good, msg, pub)).toBe(true);
    expect(verify(good.subarray(1), msg, pub)).toBe(false);
    expect(verify(good, msg, pub.subarray(1))).toBe(false);
  });
});
