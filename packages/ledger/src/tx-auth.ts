/**
 * The stateless half of a transaction's authentication: size, decoding, chain, signature. The
 * ledger runs it in every block; a node's mempool runs the same code at admission, so a
 * transaction is refused there for exactly the reasons a block would refuse it, with the same
 * codes. (The stateful half - deadline, duplicate, nonce - is in execute.ts.)
 */
import { decodeTx, type SignedTx, verifyTxSignature } from '@ehr/core';
import { RejectCode, Rejection } from './codes.ts';

export interface TxAuthLimits {
  chainId: string;
  maxTxBytes: number;
}

/** Decodes a transaction's bytes: core's decodeTx (tests pass one that counts its calls). */
export type TxDecoder = (bytes: Uint8Array) => SignedTx;

/**
 * Size, decoding and chain id; throws a Rejection naming what is wrong. `known.decoded`: these
 * bytes already decoded (by this node, e.g. at mempool admission): the size and chain checks
 * still run, the decoding does not. `known.decode`: the decoder to use otherwise.
 */
export function decodeForChain(
  bytes: Uint8Array,
  chain: TxAuthLimits,
  known: { decoded?: SignedTx | undefined; decode?: TxDecoder | undefined } = {},
): SignedTx {
  if (bytes.length > chain.maxTxBytes) {
    throw new Rejection(
      RejectCode.PAYLOAD_TOO_LARGE,
      `transaction is ${bytes.length} bytes; the limit is ${chain.maxTxBytes} (payload bodies travel apart, by hash)`,
      { size: bytes.length, limit: chain.maxTxBytes },
    );
  }
  let tx: SignedTx;
  try {
    tx = known.decoded ?? (known.decode ?? decodeTx)(bytes);
  } catch (err) {
    throw new Rejection(
      RejectCode.MALFORMED,
      `transaction does not decode: ${(err as Error).message}`,
      { reason: (err as Error).message },
    );
  }
  if (tx.chainId !== chain.chainId) {
    throw new Rejection(
      RejectCode.WRONG_CHAIN,
      `transaction is for chain "${tx.chainId}"; this chain is "${chain.chainId}"`,
      { expected: chain.chainId, got: tx.chainId },
    );
  }
  return tx;
}

/** The author's signature over the transaction; throws BAD_SIGNATURE. */
export function checkTxSignature(tx: SignedTx): void {
  if (!verifyTxSignature(tx)) {
    throw new Rejection(
      RejectCode.BAD_SIGNATURE,
      'the signature does not verify for the author key',
    );
  }
}
