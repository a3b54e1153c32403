/**
 * Blocks: a signed header that commits (through the Merkle root) to the ordered transaction
 * hashes, and a body of encoded transactions. The block hash covers the header only, so a
 * light client needs headers and inclusion proofs, never whole bodies.
 */
import { concatBytes, equalBytes, utf8 } from './bytes.ts';
import { decode, EncodingError, encode, type Value, type ValueMap } from './encoding.ts';
import { HASH_LENGTH, sha256 } from './hash.ts';
import { merkleRoot } from './merkle.ts';
import {
  expectArray,
  expectBytes,
  expectInteger,
  expectKeys,
  expectMap,
  expectString,
} from './shape.ts';
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, sign, verify } from './signature.ts';
import { CODEC_VERSION, MAX_CHAIN_ID_LENGTH, txHash } from './tx.ts';

const BLOCK_SIGN_TAG = utf8('ehr-ledger/block/v1\0');
export const ZERO_HASH = new Uint8Array(HASH_LENGTH);

export interface BlockHeader {
  chainId: string;
  /** Genesis is height 0; the first proposed block is height 1. */
  height: number;
  /** Hash of the previous block's header (zero for genesis). */
  prevHash: Uint8Array;
  /** Consensus term the block was proposed in. */
  term: number;
  /** Public key of the proposing validator (the term's leader). */
  proposer: Uint8Array;
  /** Proposer's clock in ms since the epoch; rules take time from here, never from the node. */
  time: number;
  txCount: number;
  /** Merkle root over the transaction hashes, in block order. */
  txRoot: Uint8Array;
  /** State hash after applying this block. */
  stateHash: Uint8Array;
}

export interface Block {
  header: BlockHeader;
  /** Proposer's signature over the header hash. */
  signature: Uint8Array;
  /** Encoded transactions (see encodeTx), in order. */
  txs: Uint8Array[];
}

function headerValue(h: BlockHeader): ValueMap {
  return { ...h };
}

export function encodeHeader(h: BlockHeader): Uint8Array {
  return concatBytes(new Uint8Array([CODEC_VERSION]), encode(headerValue(h)));
}

export function blockHash(h: BlockHeader): Uint8Array {
  return sha256(encodeHeader(h));
}

export function blockSigningBytes(hash: Uint8Array): Uint8Array {
  return concatBytes(BLOCK_SIGN_TAG, hash);
}

export function signBlock(header: BlockHeader, txs: Uint8Array[], secretKey: Uint8Array): Block {
  return { header, txs, signature: sign(blockSigningBytes(blockHash(header)), secretKey) };
}

export function verifyBlockSignature(block: Block): boolean {
  return verify(block.signature, blockSigningBytes(blockHash(block.header)), block.header.proposer);
}

export function txRootOf(txs: Uint8Array[]): Uint8Array {
  return merkleRoot(txs.map(txHash));
}

/**
 * Structural checks a block must pass before anything else looks at it. `hashes`: the body's
 * transaction hashes, if the caller computed them (txHash of each, in order).
 */
export function checkBlockBody(
  block: Block,
  hashes: Uint8Array[] = block.txs.map(txHash),
): string | undefined {
  if (block.txs.length !== block.header.txCount) {
    return `txCount ${block.header.txCount} but body has ${block.txs.length} transactions`;
  }
  if (hashes.length !== block.txs.length) return 'one hash per transaction is required';
  if (!equalBytes(merkleRoot(hashes), block.header.txRoot)) return 'txRoot does not match body';
  return undefined;
}

export function encodeBlock(block: Block): Uint8Array {
  return concatBytes(
    new Uint8Array([CODEC_VERSION]),
    encode({ header: headerValue(block.header), signature: block.signature, txs: block.txs }),
  );
}

export function headerFromValue(v: Value | undefined, path = 'header'): BlockHeader {
  const m = expectMap(v ?? null, path);
  expectKeys(
    m,
    ['chainId', 'height', 'prevHash', 'proposer', 'stateHash', 'term', 'time', 'txCount', 'txRoot'],
    path,
  );
  return {
    chainId: expectString(m['chainId'], `${path}.chainId`, 1, MAX_CHAIN_ID_LENGTH),
    height: expectInteger(m['height'], `${path}.height`),
    prevHash: expectBytes(m['prevHash'], `${path}.prevHash`, HASH_LENGTH),
    term: expectInteger(m['term'], `${path}.term`),
    proposer: expectBytes(m['proposer'], `${path}.proposer`, PUBLIC_KEY_LENGTH),
    time: expectInteger(m['time'], `${path}.time`),
    txCount: expectInteger(m['txCount'], `${path}.txCount`),
    txRoot: expectBytes(m['txRoot'], `${path}.txRoot`, HASH_LENGTH),
    stateHash: expectBytes(m['stateHash'], `${path}.stateHash`, HASH_LENGTH),
  };
}

/** A header as encodeHeader wrote it (the store keeps one per block for lists of blocks). */
export function decodeHeader(bytes: Uint8Array): BlockHeader {
  if (bytes.length === 0) throw new EncodingError('empty block header');
  if (bytes[0] !== CODEC_VERSION) {
    throw new EncodingError(`unsupported block header version ${bytes[0]}`, { offset: 0 });
  }
  return headerFromValue(decode(bytes.subarray(1)), 'header');
}

export function decodeBlock(bytes: Uint8Array): Block {
  if (bytes.length === 0) throw new EncodingError('empty block');
  if (bytes[0] !== CODEC_VERSION) {
    throw new EncodingError(`unsupported block version ${bytes[0]}`, { offset: 0 });
  }
  const m = expectMap(decode(bytes.subarray(1)), 'block');
  expectKeys(m, ['header', 'signature', 'txs'], 'block');
  const txs = expectArray(m['txs'], 'block.txs').map((t, i) => expectBytes(t, `block.txs[${i}]`));
  return {
    header: headerFromValue(m['header'], 'block.header'),
    signature: expectBytes(m['signature'], 'block.signature', SIGNATURE_LENGTH),
    txs,
  };
}
