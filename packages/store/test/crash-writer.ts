/**
 * Child process for the crash test: opens the store and commits blocks as fast as it can,
 * printing each committed height, until it is killed.
 */
import { publicKeyOf, toHex } from '@ehr/core';
import { nextNonce } from '@ehr/ledger';
import { Store } from '../src/store.ts';
import { commitNext, hospitalTx, testGenesis, testKeys } from './chain.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: crash-writer.ts <dir>');
const keys = testKeys(7);
const store = await Store.open(dir, testGenesis(keys));
const admin = toHex(publicKeyOf(keys.admin));
for (;;) {
  const nonce = await nextNonce(store.state, admin);
  const txs = Array.from({ length: 20 }, (_, i) =>
    hospitalTx(keys.admin, nonce + i, `h-${nonce + i}`),
  );
  const h = await commitNext(store, keys, txs);
  process.stdout.write(`committed ${h}\n`);
}
