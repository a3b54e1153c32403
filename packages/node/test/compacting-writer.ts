/**
 * Child process for the crash-during-compaction test: a single validator on the store in
 * argv[2] (keys from argv[3], argv[4]) compacting every 2 entries behind a tail of 2, committing
 * transactions one by one and printing each acknowledged hash, until it is killed.
 */
import { fromHex, publicKeyOf, toHex } from '@ehr/core';
import { nextNonce } from '@ehr/ledger';
import { Store } from '@ehr/store';
import { boot, fixedGenesis, hospital } from './validator.ts';

const [dir, adminHex, keyHex] = process.argv.slice(2);
if (!dir || !adminHex || !keyHex)
  throw new Error('usage: compacting-writer.ts <dir> <admin> <key>');
const admin = fromHex(adminHex);
const key = fromHex(keyHex);
const genesis = fixedGenesis(admin, key);
const store = await Store.open(dir, genesis);
const node = await boot(store, genesis, key);
for (let nonce = await nextNonce(store.state, toHex(publicKeyOf(admin))); ; nonce++) {
  const r = await node.txs.submit(hospital(admin, nonce, genesis.chainId), [], 'commit', 5000);
  if (r.status.status === 'committed') process.stdout.write(`ack ${r.hash}\n`);
}
