/**
 * Recording reads on chain: concurrent reads are serialized onto this node's nonces, each one an
 * access.record transaction that commits; a read of something unknown is refused by the rules.
 */
import { decodeTx, generateSecretKey, publicKeyOf, toHex } from '@ehr/core';
import { makeGenesis } from '@ehr/ledger';
import { afterEach, describe, expect, it } from 'vitest';
import { patientSignup } from '../../../test/harness/load.ts';
import { AccessRecorder } from '../src/access-recorder.ts';
import { type OneNode, oneNode, until } from './one-node.ts';

const nodes: OneNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

describe('AccessRecorder', () => {
  it('records twenty concurrent reads, one transaction each on consecutive nonces, all committed', async () => {
    const key = generateSecretKey();
    const genesis = makeGenesis({
      chainId: 'access-test',
      genesisTime: Date.now() - 1000,
      admins: [publicKeyOf(generateSecretKey())],
      validators: [publicKeyOf(key)],
    });
    const n = await oneNode(genesis, key);
    nodes.push(n);
    await until(() => n.daemon.consensus.status().canPropose);
    const patient = patientSignup(genesis.chainId);
    const signup = await n.txs.submit(patient.tx, [patient.body], 'commit', 5000);
    expect(signup.status.status).toBe('committed');
    const id = toHex(decodeTx(patient.tx).author);
    const rec = new AccessRecorder(n.txs, genesis.chainId, key);
    const hashes = await Promise.all(Array.from({ length: 20 }, () => rec.record(id, id, 'TREAT')));
    expect(new Set(hashes).size).toBe(20);
    await until(() => n.txs.mempool.size === 0);
    const statuses = await Promise.all(hashes.map((h) => n.txs.txStatus(h)));
    expect(statuses.every((s) => s?.status === 'committed' && s.ok)).toBe(true);
    // Free text is not a purpose: refused by the rules, answered at once.
    const bad = await rec.record(id, id, 'because I was curious');
    expect((await n.txs.txStatus(bad))!).toMatchObject({ status: 'rejected', code: 'MALFORMED' });
  }, 30_000);
});
