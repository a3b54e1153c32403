/**
 * Client-side sealing of health data, on top of @ehr/core's primitives. A body is encrypted once
 * with a fresh data key; that key is wrapped per reader and travels on chain (patientKey,
 * hospitalKeys, consent keys). The body itself names no readers (its `keys` list is empty): who
 * may read is on chain, so sharing later never changes the body or its hash.
 */
import {
  decode,
  decodeSealed,
  decodeWrappedKey,
  EhrError,
  encode,
  encodeSealed,
  encodeWrappedKey,
  equalBytes,
  openWithDataKey,
  publicKeyOf,
  randomBytes,
  sealWithDataKey,
  sha256,
  toHex,
  unwrapDataKey,
  type Value,
  type ValueMap,
  type WrappedKey,
  wrapDataKey,
  wrapDataKeyAsync,
} from '@ehr/core';

export interface SealedBody {
  /** The encoded sealed body, submitted beside the transaction. */
  body: Uint8Array;
  payloadHash: Uint8Array;
  payloadSize: number;
  /** One encoded wrapped key per reader, in the order the readers were given. */
  wrappedKeys: Uint8Array[];
}

/** Seals `plaintext` for the given readers (Ed25519 public keys: accounts or hospital keys). */
export function sealForReaders(plaintext: Uint8Array, readers: Uint8Array[]): SealedBody {
  if (readers.length === 0) {
    throw new EhrError('SEAL_NO_RECIPIENTS', 'a sealed payload needs at least one reader', {});
  }
  const dataKey = randomBytes(32);
  const sealed = sealWithDataKey(plaintext, dataKey, []);
  const body = encodeSealed(sealed);
  return {
    body,
    payloadHash: sha256(body),
    payloadSize: body.length,
    wrappedKeys: readers.map((r) => encodeWrappedKey(wrapDataKey(dataKey, r))),
  };
}

/**
 * sealForReaders with the data key wrapped through the async backend: Web Crypto's X25519 in a
 * browser that has it (noble otherwise), node:crypto under Node. Same format.
 */
export async function sealForReadersAsync(
  plaintext: Uint8Array,
  readers: Uint8Array[],
): Promise<SealedBody> {
  if (readers.length === 0) {
    throw new EhrError('SEAL_NO_RECIPIENTS', 'a sealed payload needs at least one reader', {});
  }
  const dataKey = randomBytes(32);
  const body = encodeSealed(sealWithDataKey(plaintext, dataKey, []));
  const wrapped = await Promise.all(readers.map((r) => wrapDataKeyAsync(dataKey, r)));
  return {
    body,
    payloadHash: sha256(body),
    payloadSize: body.length,
    wrappedKeys: wrapped.map(encodeWrappedKey),
  };
}

function decodeWrapped(wrappedKey: Uint8Array): WrappedKey {
  try {
    return decodeWrappedKey(wrappedKey);
  } catch {
    throw new EhrError('SEAL_OPEN_FAILED', 'the wrapped data key does not decode', {});
  }
}

/** Who an encoded wrapped key is for (hex). */
export function wrappedKeyRecipient(wrappedKey: Uint8Array): string {
  return toHex(decodeWrapped(wrappedKey).recipient);
}

/** The data key inside an encoded wrapped key, with a message that says whose key is needed. */
export function unwrapFor(wrappedKey: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const k = decodeWrapped(wrappedKey);
  const mine = publicKeyOf(secretKey);
  if (!equalBytes(k.recipient, mine)) {
    throw new EhrError(
      'SEAL_WRONG_KEY',
      `the data key is wrapped for ${toHex(k.recipient).slice(0, 16)}…, not for this key (${toHex(mine).slice(0, 16)}…)`,
      { recipient: toHex(k.recipient), key: toHex(mine) },
    );
  }
  return unwrapDataKey(k, secretKey);
}

/** Opens a sealed body with the reader's wrapped key and secret key. */
export function openBody(
  body: Uint8Array,
  wrappedKey: Uint8Array,
  secretKey: Uint8Array,
): Uint8Array {
  let sealed: ReturnType<typeof decodeSealed>;
  try {
    sealed = decodeSealed(body);
  } catch (err) {
    throw new EhrError(
      'SEAL_OPEN_FAILED',
      `the body is not a sealed payload: ${(err as Error).message}`,
      {},
    );
  }
  return openWithDataKey(sealed, unwrapFor(wrappedKey, secretKey));
}

/**
 * Shares an existing body with another reader: the same data key, wrapped for `recipient`.
 * Nothing is re-encrypted; only the holder of `secretKey` (a current reader) can do this.
 */
export function rewrapKey(
  wrappedKey: Uint8Array,
  secretKey: Uint8Array,
  recipient: Uint8Array,
): Uint8Array {
  return encodeWrappedKey(wrapDataKey(unwrapFor(wrappedKey, secretKey), recipient));
}

/** What a sealed body holds: free text, a file, or a JSON document (a profile). */
export type Content =
  | { type: 'text'; text: string }
  | { type: 'file'; name: string; mediaType: string; data: Uint8Array }
  | { type: 'json'; value: unknown }
  /** A body another client sealed in a format this one does not know: the plain bytes. */
  | { type: 'bytes'; data: Uint8Array };

const CONTENT_FORMAT = 'ehr-content/v1';

/** Canonical encoding of a content value, so the same content always seals the same plaintext. */
export function encodeContent(c: Content): Uint8Array {
  let m: ValueMap;
  switch (c.type) {
    case 'text':
      m = { format: CONTENT_FORMAT, type: 'text', text: c.text };
      break;
    case 'file':
      m = {
        format: CONTENT_FORMAT,
        type: 'file',
        name: c.name,
        mediaType: c.mediaType,
        data: c.data,
      };
      break;
    case 'json':
      m = { format: CONTENT_FORMAT, type: 'json', json: JSON.stringify(c.value) };
      break;
    case 'bytes':
      return c.data;
  }
  return encode(m);
}

export function decodeContent(b: Uint8Array): Content {
  let v: Value;
  try {
    v = decode(b);
  } catch {
    return { type: 'bytes', data: b };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    return { type: 'bytes', data: b };
  }
  const m = v as ValueMap;
  if (m['format'] !== CONTENT_FORMAT) return { type: 'bytes', data: b };
  if (m['type'] === 'text' && typeof m['text'] === 'string')
    return { type: 'text', text: m['text'] };
  if (
    m['type'] === 'file' &&
    typeof m['name'] === 'string' &&
    typeof m['mediaType'] === 'string' &&
    m['data'] instanceof Uint8Array
  ) {
    return { type: 'file', name: m['name'], mediaType: m['mediaType'], data: m['data'] };
  }
  if (m['type'] === 'json' && typeof m['json'] === 'string') {
    try {
      return { type: 'json', value: JSON.parse(m['json']) };
    } catch {
      return { type: 'bytes', data: b };
    }
  }
  return { type: 'bytes', data: b };
}

/** A one-line human rendering of content (text as is; files and JSON summarised). */
export function contentSummary(c: Content): string {
  switch (c.type) {
    case 'text':
      return c.text;
    case 'file':
      return `file ${c.name} (${c.mediaType}, ${c.data.length} bytes)`;
    case 'json':
      return JSON.stringify(c.value);
    case 'bytes':
      return `${c.data.length} bytes in an unknown format`;
  }
}
