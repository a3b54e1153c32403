/** How a committed transaction is shown. */
import type { TxOutcome } from '@ehr/api';

export function txLine(tx: TxOutcome, what = tx.kind): string {
  return tx.status === 'committed'
    ? `${what}: committed at height ${tx.height} (tx ${tx.hash})`
    : `${what}: submitted, pending (tx ${tx.hash}; check: ehr chain tx ${tx.hash})`;
}
