/**
 * Records reads of health data on chain: one `access.record` transaction per read, signed by this
 * node (members may record accesses; the ledger keeps them per patient and per reader). Events
 * are serialized so each takes the next nonce after this node's pending ones.
 */
import { encodeTx, fromHex, isEhrError, publicKeyOf, signTx, toHex } from '@ehr/core';
import type { TxIntake } from './tx-intake.ts';

export class AccessRecorder {
  private readonly txs: Pick<TxIntake, 'nextNonceFor' | 'submit'>;
  private readonly chainId: string;
  private readonly secretKey: Uint8Array;
  private readonly node: string;
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    txs: Pick<TxIntake, 'nextNonceFor' | 'submit'>,
    chainId: string,
    secretKey: Uint8Array,
    now: () => number = Date.now,
  ) {
    this.txs = txs;
    this.chainId = chainId;
    this.secretKey = secretKey;
    this.node = toHex(publicKeyOf(secretKey));
    this.now = now;
  }

  /** Resolves with the audit transaction's hash once it is accepted into the mempool. */
  record(reader: string, target: string, purpose: string): Promise<string> {
    const run = this.queue.then(() => this.submit(reader, target, purpose));
    this.queue = run.catch(() => {});
    return run;
  }

  private async submit(reader: string, target: string, purpose: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const nonce = await this.txs.nextNonceFor(this.node);
      const tx = signTx(
        {
          chainId: this.chainId,
          author: publicKeyOf(this.secretKey),
          nonce,
          kind: 'access.record',
          payload: { reader: fromHex(reader), target, purpose, readAt: this.now() },
          expires: this.now() + 120_000,
        },
        this.secretKey,
      );
      try {
        const { hash } = await this.txs.submit(encodeTx(tx), [], 'async');
        return hash;
      } catch (err) {
        // A block may have moved the nonce on between reading and submitting: try again.
        if (
          attempt < 2 &&
          isEhrError(err) &&
          ['BAD_NONCE', 'NONCE_USED', 'NONCE_PENDING', 'DUPLICATE'].includes(err.code)
        )
          continue;
        throw err;
      }
    }
  }
}
