/**
 * The messages that carry transactions with their bodies between nodes. One transaction:
 * `{ tx, payloads }`, bodies keyed by their SHA-256 on arrival. Several (gossip coalesced per
 * event-loop turn, and forwarding to the leader): `{ txs: [one, one, ...] }`, each element the
 * encoding of one. Gossip carries either shape on the same topic.
 */
import {
  decode,
  EncodingError,
  encode,
  expectArray,
  expectBytes,
  expectKeys,
  expectMap,
  sha256,
  toHex,
  type Value,
} from '@ehr/core';

export interface TxMessage {
  tx: Uint8Array;
  payloads: Map<string, Uint8Array>;
}

export function encodeTxMessage(tx: Uint8Array, payloads: Uint8Array[]): Uint8Array {
  return encode({ tx, payloads });
}

export function decodeTxMessage(bytes: Uint8Array): TxMessage {
  return txMessageFrom(decode(bytes), 'msg');
}

function txMessageFrom(v: Value, path: string): TxMessage {
  const m = expectMap(v, path);
  expectKeys(m, ['payloads', 'tx'], path);
  const payloads = new Map<string, Uint8Array>();
  for (const [i, p] of expectArray(m['payloads'], `${path}.payloads`).entries()) {
    const body = expectBytes(p, `${path}.payloads[${i}]`);
    payloads.set(toHex(sha256(body)), body);
  }
  return { tx: expectBytes(m['tx'], `${path}.tx`), payloads };
}

/** Several encoded transaction messages in one (`{ txs }`). */
export function encodeTxBatch(messages: Uint8Array[]): Uint8Array {
  return encode({ txs: messages });
}

/**
 * A gossip message: one transaction or a batch of at most `max`. Throws EncodingError on
 * anything else; an element that does not decode is returned as its error, so one bad element
 * does not hide the others.
 */
export function decodeTxGossip(bytes: Uint8Array, max: number): (TxMessage | Error)[] {
  const m = expectMap(decode(bytes), 'msg');
  if (!('txs' in m)) return [txMessageFrom(m, 'msg')];
  expectKeys(m, ['txs'], 'msg');
  const items = expectArray(m['txs'], 'msg.txs');
  if (items.length === 0 || items.length > max) {
    throw new EncodingError(`a transaction batch holds 1 to ${max} messages, not ${items.length}`);
  }
  return items.map((raw, i) => {
    try {
      return decodeTxMessage(expectBytes(raw, `msg.txs[${i}]`));
    } catch (err) {
      return err as Error;
    }
  });
}
