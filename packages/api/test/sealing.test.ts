/**
 * Client-side sealing: what the role client puts on chain opens for exactly the readers it was
 * meant for, re-wrapping shares a body without re-encrypting it, and content survives encoding.
 */
import {
  decodeSealed,
  decodeWrappedKey,
  generateKeyPair,
  isEhrError,
  sha256,
  toHex,
  utf8,
} from '@ehr/core';
import { describe, expect, it } from 'vitest';
import {
  type Content,
  contentSummary,
  decodeContent,
  encodeContent,
  openBody,
  rewrapKey,
  sealForReaders,
  unwrapFor,
  wrappedKeyRecipient,
} from '../src/index.ts';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isEhrError(err) ? err.code : `not an EhrError: ${(err as Error).message}`;
  }
  return undefined;
};

describe('sealForReaders', () => {
  it('opens for each reader, and the body hash and size are what goes on chain', () => {
    const patient = generateKeyPair();
    const hospital = generateKeyPair();
    const s = sealForReaders(utf8('chest pain since Monday'), [
      patient.publicKey,
      hospital.publicKey,
    ]);
    expect(toHex(s.payloadHash)).toBe(toHex(sha256(s.body)));
    expect(s.payloadSize).toBe(s.body.length);
    expect(s.wrappedKeys.map(wrappedKeyRecipient)).toEqual([
      toHex(patient.publicKey),
      toHex(hospital.publicKey),
    ]);
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    expect(text(openBody(s.body, s.wrappedKeys[0]!, patient.secretKey))).toBe(
      'chest pain since Monday',
    );
    expect(text(openBody(s.body, s.wrappedKeys[1]!, hospital.secretKey))).toBe(
      'chest pain since Monday',
    );
    // The body names no readers: who may read is on chain, not in the body.
    expect(decodeSealed(s.body).keys).toEqual([]);
    // Wrapped keys stay well under the genesis default limits.maxWrappedKeyBytes (256).
    for (const k of s.wrappedKeys) expect(k.length).toBeLessThan(256);
  });

  it('refuses the wrong key with a message naming whose key it is, and a tampered body', () => {
    const patient = generateKeyPair();
    const stranger = generateKeyPair();
    const s = sealForReaders(utf8('x'), [patient.publicKey]);
    expect(code(() => openBody(s.body, s.wrappedKeys[0]!, stranger.secretKey))).toBe(
      'SEAL_WRONG_KEY',
    );
    const tampered = s.body.slice();
    tampered[tampered.length - 1]! ^= 1;
    expect(code(() => openBody(tampered, s.wrappedKeys[0]!, patient.secretKey))).toBe(
      'SEAL_OPEN_FAILED',
    );
    expect(code(() => openBody(utf8('not sealed'), s.wrappedKeys[0]!, patient.secretKey))).toBe(
      'SEAL_OPEN_FAILED',
    );
    expect(code(() => unwrapFor(utf8('not a key'), patient.secretKey))).toBe('SEAL_OPEN_FAILED');
    expect(code(() => sealForReaders(utf8('x'), []))).toBe('SEAL_NO_RECIPIENTS');
  });

  it('seals the same plaintext under fresh data keys and nonces each time', () => {
    const p = generateKeyPair();
    const a = sealForReaders(utf8('same'), [p.publicKey]);
    const b = sealForReaders(utf8('same'), [p.publicKey]);
    expect(toHex(a.payloadHash)).not.toBe(toHex(b.payloadHash));
  });
});

describe('rewrapKey (sharing an existing record with a hospital)', () => {
  it('gives the hospital the same data key without touching the body', () => {
    const patient = generateKeyPair();
    const city = generateKeyPair();
    const river = generateKeyPair();
    const s = sealForReaders(utf8('rash on the left arm'), [patient.publicKey]);
    const forCity = rewrapKey(s.wrappedKeys[0]!, patient.secretKey, city.publicKey);
    expect(toHex(decodeWrappedKey(forCity).recipient)).toBe(toHex(city.publicKey));
    expect(new TextDecoder().decode(openBody(s.body, forCity, city.secretKey))).toBe(
      'rash on the left arm',
    );
    expect(toHex(unwrapFor(forCity, city.secretKey))).toBe(
      toHex(unwrapFor(s.wrappedKeys[0]!, patient.secretKey)),
    );
    // Only a current reader can share, and a key for one hospital does not open for another.
    expect(code(() => rewrapKey(s.wrappedKeys[0]!, city.secretKey, river.publicKey))).toBe(
      'SEAL_WRONG_KEY',
    );
    expect(code(() => openBody(s.body, forCity, river.secretKey))).toBe('SEAL_WRONG_KEY');
  });
});

describe('content encoding', () => {
  const cases: Content[] = [
    { type: 'text', text: 'palpitations at night, ünïcödé' },
    {
      type: 'file',
      name: 'scan.pdf',
      mediaType: 'application/pdf',
      data: new Uint8Array([0, 1, 2, 255]),
    },
    { type: 'json', value: { name: 'Alice', born: '1990-04-01', allergies: ['penicillin'] } },
  ];
  it.each(cases)('round-trips $type through a sealed body', (c) => {
    const p = generateKeyPair();
    const s = sealForReaders(encodeContent(c), [p.publicKey]);
    expect(decodeContent(openBody(s.body, s.wrappedKeys[0]!, p.secretKey))).toEqual(c);
  });

  it('encodes canonically and shows unknown bodies as plain bytes', () => {
    expect(toHex(encodeContent(cases[2]!))).toBe(toHex(encodeContent(cases[2]!)));
    const raw = utf8('sealed by another client');
    expect(decodeContent(raw)).toEqual({ type: 'bytes', data: raw });
    expect(contentSummary({ type: 'bytes', data: raw })).toBe('24 bytes in an unknown format');
    expect(contentSummary(cases[1]!)).toBe('file scan.pdf (application/pdf, 4 bytes)');
  });
});
