/**
 * The message that carries a transaction with its bodies between nodes (gossip and forwarding):
 * `{ tx, payloads }`, bodies keyed by their SHA-256 on arrival.
 */
import {
  decode,
  encode,
  expectArray,
  expectBytes,
  expectKeys,
  expectMap,
  sha256,
  toHex,
} from '@ehr/core';

export function encodeTxMessage(tx: Uint8Array, payloads: Uint8Array[]): Uint8Array {
  return encode({ tx, payloads });
}

export function decodeTxMessage(bytes: Uint8Array): {
  tx: Uint8Array;
  payloads: Map<string, Uint8Array>;
} {
  const m = expectMap(decode(bytes), 'msg');
  expectKeys(m, ['payloads', 'tx'], 'msg');
  const payloads = new Map<string, Uint8Array>();
  for (const [i, p] of expectArray(m['payloads'], 'msg.payloads').entries()) {
    const body = expectBytes(p, `msg.payloads[${i}]`);
    payloads.set(toHex(sha256(body)), body);
  }
  return { tx: expectBytes(m['tx'], 'msg.tx'), payloads };
}
