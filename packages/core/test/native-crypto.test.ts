/**
 * The native (node:crypto) backends of the client's crypto against noble, byte for byte: X25519
 * public keys and shared secrets, Ed25519 public keys and signatures, sealing across backends;
 * and hostile inputs (low-order points, non-canonical encodings, all-zero keys, wrong lengths)
 * refused alike, with the same error codes where sealing reports one.
 */
import { randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  asyncCryptoBackend,
  concatBytes,
  decodeTx,
  encodeTx,
  ephemeralSharedWebCrypto,
  fromHex,
  generateSecretKey,
  isEhrError,
  nativeX25519,
  nobleX25519,
  open,
  publicKeyNative,
  publicKeyOf,
  publicKeyOfNoble,
  SMALL_ORDER_ENCODINGS,
  seal,
  sign,
  signNative,
  signNoble,
  signTx,
  signTxAsync,
  signWithWebCrypto,
  toHex,
  unwrapDataKey,
  useAsyncCryptoBackend,
  useX25519Backend,
  utf8,
  webCryptoBackend,
  webCryptoSupport,
  wrapDataKey,
  wrapDataKeyAsync,
  x25519Backend,
  x25519PublicKeyNative,
  x25519SharedSecretNative,
  x25519SharedSecretWebCrypto,
} from '../src/index.ts';

const rand = (n: number) => new Uint8Array(randomBytes(n));
const P = 2n ** 255n - 19n;
const le = (n: bigint): Uint8Array => {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return b;
};

/** What a call did: its bytes (hex), or that it threw (with the EhrError code, if any). */
function outcome(fn: () => Uint8Array): string {
  try {
    return toHex(fn());
  } catch (err) {
    return isEhrError(err) ? `code:${err.code}` : 'threw';
  }
}

const nodeAsync = asyncCryptoBackend();
afterEach(() => {
  useX25519Backend(nativeX25519);
  useAsyncCryptoBackend(nodeAsync);
});

/** What an async call did: its bytes (hex), or that it threw (with the EhrError code, if any). */
async function outcomeAsync(fn: () => Promise<Uint8Array>): Promise<string> {
  try {
    return toHex(await fn());
  } catch (err) {
    return isEhrError(err) ? `code:${err.code}` : 'threw';
  }
}

/** Low-order u coordinates on curve25519 and its twist (RFC 7748 / libsodium's list). */
const LOW_ORDER_U = [
  le(0n),
  le(1n),
  fromHex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'),
  fromHex('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157'),
  le(P - 1n),
  le(P), // non-canonical 0
  le(P + 1n), // non-canonical 1
];
const withTopBit = (u: Uint8Array) => {
  const v = u.slice();
  v[31]! |= 0x80;
  return v;
};

describe('X25519: native equals noble', () => {
  it('the Node entry installs the native backend', () => {
    expect(x25519Backend()).toBe('native');
  });

  it('public keys and shared secrets are identical for 300 random keys (top bit random too)', () => {
    for (let i = 0; i < 300; i++) {
      const a = rand(32);
      const b = rand(32);
      const pubB = x25519.getPublicKey(b);
      expect(toHex(x25519PublicKeyNative(a))).toBe(toHex(x25519.getPublicKey(a)));
      expect(toHex(x25519SharedSecretNative(a, pubB))).toBe(toHex(x25519.getSharedSecret(a, pubB)));
      // An arbitrary 32-byte u (on the curve or its twist, top bit set or not): same bytes.
      const u = rand(32);
      expect(outcome(() => x25519SharedSecretNative(a, u))).toBe(
        outcome(() => x25519.getSharedSecret(a, u)),
      );
    }
  });

  it('RFC 7748 section 5.2 vector', () => {
    const k = fromHex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4');
    const u = fromHex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c');
    const want = 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552';
    expect(toHex(x25519SharedSecretNative(k, u))).toBe(want);
    expect(toHex(nobleX25519.sharedSecret(k, u))).toBe(want);
  });

  it('every low-order u (also with the top bit set) is refused by both', () => {
    const s = rand(32);
    for (const u of [...LOW_ORDER_U, ...LOW_ORDER_U.map(withTopBit)]) {
      expect(
        outcome(() => nobleX25519.sharedSecret(s, u)),
        toHex(u),
      ).toBe('threw');
      expect(
        outcome(() => nativeX25519.sharedSecret(s, u)),
        toHex(u),
      ).toBe('threw');
    }
  });

  it('non-canonical u (p+2 .. 2^255-1) reduce mod p alike', () => {
    const s = rand(32);
    for (let d = 2n; d < 19n; d++) {
      const u = le(P + d);
      const a = outcome(() => nobleX25519.sharedSecret(s, u));
      expect(
        outcome(() => nativeX25519.sharedSecret(s, u)),
        `p+${d}`,
      ).toBe(a);
      // ... and equal the canonical d.
      expect(outcome(() => nobleX25519.sharedSecret(s, le(d)))).toBe(a);
    }
  });

  it('all-zero and all-ones secret keys are clamped alike', () => {
    const u = x25519.getPublicKey(rand(32));
    for (const s of [new Uint8Array(32), new Uint8Array(32).fill(0xff)]) {
      expect(toHex(x25519PublicKeyNative(s))).toBe(toHex(x25519.getPublicKey(s)));
      expect(toHex(x25519SharedSecretNative(s, u))).toBe(toHex(x25519.getSharedSecret(s, u)));
    }
  });

  it('wrong lengths are refused by both', () => {
    const u = x25519.getPublicKey(rand(32));
    for (const n of [0, 1, 31, 33, 64]) {
      for (const b of [nobleX25519, nativeX25519]) {
        expect(
          outcome(() => b.sharedSecret(rand(n), u)),
          `${b.name} secret ${n}`,
        ).toBe('threw');
        expect(
          outcome(() => b.sharedSecret(rand(32), rand(n))),
          `${b.name} u ${n}`,
        ).toBe('threw');
        expect(
          outcome(() => b.publicKey(rand(n))),
          `${b.name} pub ${n}`,
        ).toBe('threw');
      }
    }
  });
});

describe('Ed25519 public keys and signatures: native equals noble', () => {
  it('300 random keys: same public key, same signature', () => {
    for (let i = 0; i < 300; i++) {
      const sk = rand(32);
      const msg = rand(i);
      expect(toHex(publicKeyNative(sk))).toBe(toHex(publicKeyOfNoble(sk)));
      expect(toHex(publicKeyOf(sk))).toBe(toHex(publicKeyOfNoble(sk)));
      expect(toHex(signNative(msg, sk))).toBe(toHex(signNoble(msg, sk)));
    }
  });

  it('all-zero and all-ones secret keys', () => {
    for (const sk of [new Uint8Array(32), new Uint8Array(32).fill(0xff)]) {
      expect(toHex(publicKeyNative(sk))).toBe(toHex(publicKeyOfNoble(sk)));
      expect(toHex(signNative(utf8('m'), sk))).toBe(toHex(signNoble(utf8('m'), sk)));
    }
  });

  it('wrong-length secret keys are refused by both', () => {
    for (const n of [0, 16, 31, 33, 64]) {
      const sk = rand(n);
      expect(
        outcome(() => publicKeyNative(sk)),
        `native ${n}`,
      ).toBe('threw');
      expect(
        outcome(() => publicKeyOfNoble(sk)),
        `noble ${n}`,
      ).toBe('threw');
      expect(
        outcome(() => signNative(utf8('m'), sk)),
        `native sign ${n}`,
      ).toBe('threw');
      expect(
        outcome(() => signNoble(utf8('m'), sk)),
        `noble sign ${n}`,
      ).toBe('threw');
    }
  });

  it('a secret key array changed in place signs with its new bytes (no stale cached key)', () => {
    const sk = generateSecretKey();
    const msg = utf8('same message');
    const first = sign(msg, sk);
    expect(toHex(first)).toBe(toHex(signNoble(msg, sk)));
    sk.set(rand(32));
    const second = sign(msg, sk);
    expect(toHex(second)).toBe(toHex(signNoble(msg, sk)));
    expect(toHex(second)).not.toBe(toHex(first));
    expect(toHex(publicKeyOf(sk))).toBe(toHex(publicKeyOfNoble(sk)));
  });
});

describe('sealing: same results with either X25519 backend', () => {
  const text = utf8('Troponin 0.02 ng/mL; ECG normal sinus rhythm.');

  it('sealed by one backend, opened by the other (50 random reader pairs)', () => {
    for (let i = 0; i < 50; i++) {
      const a = generateSecretKey();
      const b = generateSecretKey();
      const readers = [publicKeyOf(a), publicKeyOf(b)];
      useX25519Backend(i % 2 ? nobleX25519 : nativeX25519);
      const s = seal(text, readers);
      useX25519Backend(i % 2 ? nativeX25519 : nobleX25519);
      expect(open(s, a)).toEqual(text);
      expect(open(s, b)).toEqual(text);
    }
  });

  /** wrapDataKey's outcome (code) for a hostile reader key under one backend. */
  const wrapCode = (b: typeof nobleX25519, reader: Uint8Array): string => {
    useX25519Backend(b);
    return outcome(() => wrapDataKey(rand(32), reader).wrapped);
  };

  it('small-order, non-canonical and off-curve reader keys: SEAL_BAD_RECIPIENT on both', () => {
    const hostile = [
      ...[...SMALL_ORDER_ENCODINGS].map(fromHex),
      le(P), // y = p: non-canonical
      le(P + 1n),
      new Uint8Array(32).fill(0xff),
      new Uint8Array(31),
      new Uint8Array(33),
    ];
    // An off-curve y: most random encodings are not points (about half).
    for (let found = 0; found < 5; ) {
      const y = rand(32);
      if (wrapCode(nobleX25519, y) === 'code:SEAL_BAD_RECIPIENT') {
        hostile.push(y);
        found++;
      }
    }
    for (const k of hostile) {
      const n = wrapCode(nobleX25519, k);
      expect(n, toHex(k)).toBe('code:SEAL_BAD_RECIPIENT');
      expect(wrapCode(nativeX25519, k), toHex(k)).toBe(n);
    }
  });

  it('a wrapped key with a low-order or wrong-length ephemeral: SEAL_OPEN_FAILED on both', () => {
    const sk = generateSecretKey();
    const good = wrapDataKey(rand(32), publicKeyOf(sk));
    const bad = [
      ...LOW_ORDER_U,
      ...LOW_ORDER_U.map(withTopBit),
      new Uint8Array(31),
      concatBytes(good.ephemeral, new Uint8Array(1)),
    ];
    for (const ephemeral of bad) {
      for (const b of [nobleX25519, nativeX25519]) {
        useX25519Backend(b);
        expect(
          outcome(() => unwrapDataKey({ ...good, ephemeral }, sk)),
          b.name,
        ).toBe('code:SEAL_OPEN_FAILED');
      }
    }
    for (const b of [nobleX25519, nativeX25519]) {
      useX25519Backend(b);
      expect(unwrapDataKey(good, sk)).toHaveLength(32);
    }
  });
});

describe("Web Crypto (the browser's path), on Node's Web Crypto: equals noble", () => {
  it('Node installs its native async backend; Web Crypto has X25519 and Ed25519 here', async () => {
    expect(nodeAsync?.name).toBe('native');
    expect(await webCryptoSupport()).toEqual({ x25519: true, ed25519: true });
  });

  it('100 random keys: X25519 shared secrets and Ed25519 signatures byte for byte', async () => {
    for (let i = 0; i < 100; i++) {
      const a = rand(32);
      const u = i % 2 ? x25519.getPublicKey(rand(32)) : rand(32);
      expect(await outcomeAsync(() => x25519SharedSecretWebCrypto(a, u))).toBe(
        outcome(() => x25519.getSharedSecret(a, u)),
      );
      const sk = rand(32);
      const msg = rand(i * 3);
      expect(toHex(await signWithWebCrypto(msg, sk))).toBe(toHex(signNoble(msg, sk)));
    }
  });

  it('low-order, non-canonical and wrong-length inputs: refused or computed as noble does', async () => {
    const s = rand(32);
    for (const u of [...LOW_ORDER_U, ...LOW_ORDER_U.map(withTopBit)]) {
      expect(await outcomeAsync(() => x25519SharedSecretWebCrypto(s, u)), toHex(u)).toBe('threw');
      expect(await outcomeAsync(async () => (await ephemeralSharedWebCrypto(u)).shared)).toBe(
        'threw',
      );
    }
    for (let d = 2n; d < 19n; d++) {
      const u = le(P + d);
      expect(await outcomeAsync(() => x25519SharedSecretWebCrypto(s, u)), `p+${d}`).toBe(
        outcome(() => x25519.getSharedSecret(s, u)),
      );
    }
    for (const sk of [new Uint8Array(32), new Uint8Array(32).fill(0xff)]) {
      const u = x25519.getPublicKey(rand(32));
      expect(toHex(await x25519SharedSecretWebCrypto(sk, u))).toBe(
        toHex(x25519.getSharedSecret(sk, u)),
      );
      expect(toHex(await signWithWebCrypto(utf8('m'), sk))).toBe(toHex(signNoble(utf8('m'), sk)));
    }
    for (const n of [0, 31, 33]) {
      expect(await outcomeAsync(() => x25519SharedSecretWebCrypto(rand(n), rand(32)))).toBe(
        'threw',
      );
      expect(await outcomeAsync(() => x25519SharedSecretWebCrypto(rand(32), rand(n)))).toBe(
        'threw',
      );
      expect(await outcomeAsync(() => signWithWebCrypto(utf8('m'), rand(n)))).toBe('threw');
    }
  });

  it("an ephemeral pair made inside Web Crypto agrees with noble's X25519 (ECDH both ways)", async () => {
    for (let i = 0; i < 30; i++) {
      const recipient = rand(32);
      const { ephemeral, shared } = await ephemeralSharedWebCrypto(x25519.getPublicKey(recipient));
      expect(toHex(shared)).toBe(toHex(x25519.getSharedSecret(recipient, ephemeral)));
    }
  });

  it('sealing and signing through it: opens with noble, same tx bytes, same refusals', async () => {
    useAsyncCryptoBackend(webCryptoBackend);
    useX25519Backend(nobleX25519);
    const sk = generateSecretKey();
    const dataKey = rand(32);
    const w = await wrapDataKeyAsync(dataKey, publicKeyOf(sk));
    expect(unwrapDataKey(w, sk)).toEqual(dataKey);
    for (const k of [...SMALL_ORDER_ENCODINGS].map(fromHex).concat([le(P), new Uint8Array(31)])) {
      expect(await outcomeAsync(async () => (await wrapDataKeyAsync(dataKey, k)).wrapped)).toBe(
        'code:SEAL_BAD_RECIPIENT',
      );
    }
    const body = {
      chainId: 'c',
      author: publicKeyOf(sk),
      nonce: 3,
      kind: 'record.submit',
      payload: { hospital: 'city' },
      expires: 1_900_000_000_000,
    };
    const viaWebCrypto = encodeTx(await signTxAsync(body, sk));
    expect(toHex(viaWebCrypto)).toBe(toHex(encodeTx(signTx(body, sk))));
    expect(decodeTx(viaWebCrypto).nonce).toBe(3);
  });
});

describe('SHA-256: node:crypto against noble', () => {
  it('gives the same digest for empty, odd-sized, multi-block and 8 MiB inputs, as a plain Uint8Array', async () => {
    const { sha256: nobleSha256 } = await import('@noble/hashes/sha2.js');
    const { sha256Native, sha256: installed } = await import('../src/index.ts');
    for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 8 * 1024 * 1024]) {
      const data = new Uint8Array(randomBytes(n));
      expect(sha256Native(data)).toEqual(nobleSha256(data));
      expect(installed(data)).toEqual(nobleSha256(data));
      expect(Object.getPrototypeOf(installed(data))).toBe(Uint8Array.prototype);
    }
    // A view into a larger buffer hashes only its own bytes.
    const big = new Uint8Array(randomBytes(100));
    expect(sha256Native(big.subarray(10, 20))).toEqual(nobleSha256(big.slice(10, 20)));
  });
});
