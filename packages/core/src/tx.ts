/**
 * The transaction envelope: who (author key), where (chain id), in which order (per-account
 * nonce), what (kind + payload), signed over its canonical encoding with a domain tag.
 */
import { concatBytes, utf8 } from './bytes.ts';
import { asyncCryptoBackend } from './crypto-async.ts';
import { decode, EncodingError, encode, type Value, type ValueMap } from './encoding.ts';
import { sha256 } from './hash.ts';
import { expectBytes, expectInteger, expectKeys, expectMap, expectString } from './shape.ts';
import { PUBLIC_KEY_LENGTH, publicKeyOf, SIGNATURE_LENGTH, sign, verify } from './signature.ts';

/** Version byte prefixed to every encoded transaction and block; bump to evolve the format. */
export const CODEC_VERSION = 1;
const TX_SIGN_TAG = utf8('ehr-ledger/tx/v1\0');
export const MAX_KIND_LENGTH = 64;
export const MAX_CHAIN_ID_LENGTH = 64;

export interface TxBody {
  chainId: string;
  /** Ed25519 public key of the author. */
  author: Uint8Array;
  /** Per-account sequence number, starting at 0; prevents replay. */
  nonce: number;
  /** Transaction kind, e.g. `hospital.register`. */
  kind: string;
  payload: ValueMap;
  /**
   * Deadline: the latest block time (ms since the epoch) at which the transaction may be
   * included. Past it the ledger refuses it on every node, so a client's timeout is final.
   * Absent only in transactions signed before deadlines existed (still valid on old chains;
   * nodes no longer admit new ones without it).
   */
  expires?: number;
}

export interface SignedTx extends TxBody {
  signature: Uint8Array;
}

function bodyValue(tx: TxBody): ValueMap {
  // `expires` is encoded only when present, so a transaction signed before deadlines existed
  // keeps its bytes, signature and hash.
  return {
    chainId: tx.chainId,
    author: tx.author,
    nonce: tx.nonce,
    kind: tx.kind,
    payload: tx.payload,
    ...(tx.expires !== undefined ? { expires: tx.expires } : {}),
  };
}

/** The bytes an author signs. */
export function txSigningBytes(tx: TxBody): Uint8Array {
  return concatBytes(TX_SIGN_TAG, encode(bodyValue(tx)));
}

export function signTx(body: TxBody, secretKey: Uint8Array): SignedTx {
  const author = publicKeyOf(secretKey);
  const withAuthor = { ...body, author };
  return { ...withAuthor, signature: sign(txSigningBytes(withAuthor), secretKey) };
}

/** signTx through the async backend (Web Crypto's Ed25519 in a browser that has it): same bytes. */
export async function signTxAsync(body: TxBody, secretKey: Uint8Array): Promise<SignedTx> {
  const b = asyncCryptoBackend();
  if (!b) return signTx(body, secretKey);
  const author = publicKeyOf(secretKey);
  const withAuthor = { ...body, author };
  return { ...withAuthor, signature: await b.sign(txSigningBytes(withAuthor), secretKey) };
}

export function verifyTxSignature(tx: SignedTx): boolean {
  return verify(tx.signature, txSigningBytes(tx), tx.author);
}

export function encodeTx(tx: SignedTx): Uint8Array {
  return concatBytes(
    new Uint8Array([CODEC_VERSION]),
    encode({ ...bodyValue(tx), signature: tx.signature }),
  );
}

/** Decodes and shape-checks a transaction; throws EncodingError naming what is wrong. */
export function decodeTx(bytes: Uint8Array): SignedTx {
  if (bytes.length === 0) throw new EncodingError('empty transaction');
  if (bytes[0] !== CODEC_VERSION) {
    throw new EncodingError(`unsupported transaction version ${bytes[0]}`, { offset: 0 });
  }
  return txFromValue(decode(bytes.subarray(1)));
}

export function txFromValue(v: Value): SignedTx {
  const m = expectMap(v, 'tx');
  expectKeys(m, ['author', 'chainId', 'kind', 'nonce', 'payload', 'signature'], 'tx', ['expires']);
  const chainId = expectString(m['chainId'], 'tx.chainId', 1, MAX_CHAIN_ID_LENGTH);
  const author = expectBytes(m['author'], 'tx.author', PUBLIC_KEY_LENGTH);
  const nonce = expectInteger(m['nonce'], 'tx.nonce', 0);
  const kind = expectString(m['kind'], 'tx.kind', 1, MAX_KIND_LENGTH);
  const payload = expectMap(m['payload'], 'tx.payload');
  const signature = expectBytes(m['signature'], 'tx.signature', SIGNATURE_LENGTH);
  const tx: SignedTx = { chainId, author, nonce, kind, payload, signature };
  if (m['expires'] !== undefined) tx.expires = expectInteger(m['expires'], 'tx.expires', 0);
  return tx;
}

/** Transaction hash: SHA-256 of the canonical encoding (signature included). */
export function txHash(encodedTx: Uint8Array): Uint8Array {
  return sha256(encodedTx);
}
