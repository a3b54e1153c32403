/**
 * Transaction intake on a real store: gossip verdicts (what is relayed and what penalizes the
 * relay), forwarding to the leader after a wait, the leader's side of forwarding, and what a
 * block and the leader's refusals do to statuses.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decode,
  decodeTx,
  encode,
  encodeSealed,
  encodeTx,
  generateSecretKey,
  publicKeyOf,
  seal,
  sha256,
  signTx,
  toHex,
} from '@ehr/core';
import {
  BlockBuilder,
  genesisStateHash,
  genesisWrites,
  MapState,
  makeGenesis,
  type TxDecoder,
  wireLimits,
} from '@ehr/ledger';
import { Store } from '@ehr/store';
import { afterEach, describe, expect, it } from 'vitest';
import { patientSignup } from '../../../test/harness/load.ts';
import { storePort } from '../src/adapters.ts';
import { nodeMetrics } from '../src/metrics.ts';
import { GOSSIP_MAX_BODY_BYTES, TX_FORWARD, TX_TOPIC, TxIntake } from '../src/tx-intake.ts';
import {
  decodeTxGossip,
  decodeTxMessage,
  encodeTxBatch,
  encodeTxMessage,
  type TxMessage,
} from '../src/tx-message.ts';
import { capturingLogger } from './capture.ts';
import { hospitalTx } from './log.ts';
import { MemNet } from './mem-net.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const admin = generateSecretKey();
const genesis = makeGenesis({
  chainId: 'intake-test',
  genesisTime: Date.now() - 1000,
  admins: [publicKeyOf(admin)],
  validators: [publicKeyOf(generateSecretKey())],
});

/** core's decodeTx, calling `seen` on every call. */
function countDecodes(seen: () => void): TxDecoder {
  return (bytes) => {
    seen();
    return decodeTx(bytes);
  };
}

async function intake(
  opts: { leader?: string | null; now?: () => number; decodeTx?: TxDecoder } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'ehr-intake-'));
  const store = await Store.open(dir, genesis);
  const all = new Map<string, MemNet>();
  const net = new MemNet('me', all);
  const leaderNet = new MemNet('L', all);
  const { logger, lines } = capturingLogger();
  const metrics = nodeMetrics();
  let woken = 0;
  const wire = wireLimits(genesis.limits);
  const txs = new TxIntake({
    chainId: genesis.chainId,
    limits: {
      maxTxs: 1000,
      maxBytes: 64 << 20,
      maxPerAccount: 64,
      maxTxBytes: genesis.limits.maxTxBytes,
      maxBodyBytes: wire.txBodyBytes,
    },
    wire,
    store: storePort(store),
    network: net,
    leadership: () => ({ leader: opts.leader === undefined ? 'L' : opts.leader, leading: false }),
    wake: () => void woken++,
    halted: () => undefined,
    logger,
    metrics,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.decodeTx ? { decodeTx: opts.decodeTx } : {}),
  });
  txs.start();
  cleanup.push(async () => {
    txs.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const expires = () => Date.now() + 60_000;
  return { txs, net, leaderNet, admin, genesis, lines, metrics, woken: () => woken, expires };
}

describe('TxIntake', () => {
  it('gossip: admits and relays a valid transaction, ignores a repeat, rejects garbage and forgeries', async () => {
    const t = await intake();
    const validate = t.net.topics.get(TX_TOPIC)!;
    const tx = hospitalTx(t.admin, 0, t.expires(), t.genesis.chainId);
    expect(await validate('peer', encodeTxMessage(tx, []))).toBe('accept');
    expect(t.woken()).toBe(1);
    expect(t.txs.mempool.size).toBe(1);
    expect(await validate('peer', encodeTxMessage(tx, []))).toBe('ignore');
    const forged = tx.slice();
    forged[forged.length - 3]! ^= 0x80;
    expect(await validate('peer', encodeTxMessage(forged, []))).toBe('reject');
    expect(await validate('peer', new Uint8Array([0xff, 0xff, 0xff]))).toBe('reject');
    expect(await validate('peer', encode({ tx: 'not bytes', payloads: [] }))).toBe('reject');
    // A body no transaction references, at a real scan's size: refused, never held.
    const scan = new Uint8Array(2.5 * 1024 * 1024).fill(0x5a);
    const tx2 = hospitalTx(t.admin, 1, t.expires(), t.genesis.chainId);
    expect(await validate('peer', encodeTxMessage(tx2, [scan]))).not.toBe('accept');
    expect(t.txs.mempool.size).toBe(1);
  });

  it('forwards what waited here to the leader after a few seconds, once per interval, and the leader admits it', async () => {
    let now = Date.now();
    const t = await intake({ now: () => now });
    const leader = await intake();
    // The leader side: its intake's forward handler, reached through the transport.
    t.leaderNet.handle(TX_FORWARD, (from, bytes) =>
      leader.net.handlers.get(TX_FORWARD)!(from, bytes),
    );
    const tx = hospitalTx(t.admin, 0, now + 60_000, t.genesis.chainId);
    // Hostile entries in a forwarded batch are skipped one by one; a repeat is admitted once.
    const theirs = hospitalTx(t.admin, 1, Date.now() + 60_000, t.genesis.chainId);
    const reply = decode(
      await leader.net.handlers.get(TX_FORWARD)!(
        'me',
        encode({
          txs: [encodeTxMessage(theirs, []), new Uint8Array([1, 2]), encodeTxMessage(theirs, [])],
        }),
      ),
    ) as { admitted: number };
    expect(reply.admitted).toBe(1);
    expect(leader.txs.mempool.size).toBe(1);
    await t.txs.submit(tx, [], 'async');
    // Young: not forwarded yet.
    await new Promise((r) => setTimeout(r, 1200));
    expect(t.lines.some((l) => l['msg'] === 'forwarded pending transactions')).toBe(false);
    now += 3500;
    await new Promise((r) => setTimeout(r, 1200));
    const sent = t.lines.filter((l) => l['msg'] === 'forwarded pending transactions');
    expect(sent).toEqual([expect.objectContaining({ to: 'L', txs: 1 })]);
    // The leader holds it now.
    expect(leader.txs.mempool.has(sent.length ? t.txs.mempool.all().next().value!.hash : '')).toBe(
      true,
    );
    // Not again within the interval.
    await new Promise((r) => setTimeout(r, 1100));
    expect(t.lines.filter((l) => l['msg'] === 'forwarded pending transactions')).toHaveLength(1);
  }, 15_000);

  it('a transaction with large bodies is not gossiped but forwarded to the leader at once; a failed forward is logged and counted', async () => {
    const t = await intake();
    const leader = await intake();
    const patient = generateSecretKey();
    // A sealed profile of 200 KiB: over the gossip limit, within the genesis payload limit.
    const body = encodeSealed(seal(randomBytes(200 * 1024), [publicKeyOf(patient)]));
    expect(body.length).toBeGreaterThan(GOSSIP_MAX_BODY_BYTES);
    const signup = (nonceKey: Uint8Array) =>
      encodeTx(
        signTx(
          {
            chainId: t.genesis.chainId,
            author: publicKeyOf(patient),
            nonce: 0,
            kind: 'patient.register',
            expires: Date.now() + 60_000,
            payload: { profileHash: sha256(body), profileSize: body.length, profileKey: nonceKey },
          },
          patient,
        ),
      );
    // The leader does not answer yet: the forward fails, says so at warn, and is counted.
    const first = signup(new Uint8Array(80).fill(1));
    const r = await t.txs.submit(first, [body], 'async');
    expect(r.status).toMatchObject({ status: 'pending' });
    expect(t.net.published).toEqual([]);
    await new Promise((res) => setTimeout(res, 100));
    expect(t.lines).toContainEqual(
      expect.objectContaining({
        msg: 'forwarding pending transactions to the leader failed; retrying later',
        to: 'L',
        txs: 1,
      }),
    );
    expect(t.metrics.forwardFailures.get()).toBe(1);
    // Where the leader answers, it goes at once (no 3 s wait) and the leader holds it.
    const t2 = await intake();
    t2.leaderNet.handle(TX_FORWARD, (from, bytes) =>
      leader.net.handlers.get(TX_FORWARD)!(from, bytes),
    );
    const second = await t2.txs.submit(first, [body], 'async');
    await new Promise((res) => setTimeout(res, 100));
    expect(t2.net.published).toEqual([]);
    expect(leader.txs.mempool.has(second.hash)).toBe(true);
    // A small one is still gossiped, and not forwarded before its wait.
    const small = hospitalTx(t2.admin, 0, t2.expires(), t2.genesis.chainId);
    await t2.txs.submit(small, [], 'async');
    // Gossip goes out at the end of the event-loop turn (batched with whatever else came in).
    await new Promise((res) => setImmediate(res));
    expect(t2.net.published.map((p) => p.topic)).toEqual([TX_TOPIC]);
  });

  it('a block settles statuses and drops what used the same nonce; the leader refusals keep a valid deadline open', async () => {
    const t = await intake({ leader: null });
    const a = hospitalTx(t.admin, 0, t.expires(), t.genesis.chainId);
    const first = await t.txs.submit(a, [], 'async');
    expect(first.status).toMatchObject({ status: 'pending', final: false });
    await t.txs.settled({
      height: 1,
      time: Date.now(),
      txs: [
        {
          hash: first.hash,
          index: 0,
          ok: true,
          code: null,
          message: null,
          nonceOf: toHex(publicKeyOf(t.admin)),
        },
      ],
    });
    expect(t.txs.mempool.size).toBe(0);
    expect(t.txs.tracker.get(first.hash)).toMatchObject({
      status: 'committed',
      height: 1,
      index: 0,
    });
    const b = hospitalTx(t.admin, 1, t.expires(), t.genesis.chainId);
    const second = await t.txs.submit(b, [], 'async');
    t.txs.refused([{ hash: second.hash, code: 'CONSENT_MISSING', message: 'no consent' }]);
    expect(await t.txs.txStatus(second.hash)).toMatchObject({
      status: 'rejected',
      final: false,
      canCommitUntil: expect.any(Number),
    });
    t.txs.refused([{ hash: second.hash, code: 'BAD_SIGNATURE', message: 'forged' }]);
    expect(await t.txs.txStatus(second.hash)).toMatchObject({ status: 'rejected', final: true });
    expect(t.txs.mempool.size).toBe(0);
  });

  it('gossip batches: what is admitted in one turn goes out as one message; a batch admits each valid element, skips what is held without checking it again, and a bad element makes the relay suspect', async () => {
    const t = await intake({ leader: null });
    const submitted = [0, 1, 2].map((k) => hospitalTx(t.admin, k, t.expires(), t.genesis.chainId));
    await Promise.all(submitted.map((tx) => t.txs.submit(tx, [], 'async')));
    await new Promise((r) => setImmediate(r));
    expect(t.net.published).toHaveLength(1);
    const sent = decodeTxGossip(t.net.published[0]!.bytes, 256) as TxMessage[];
    expect(sent.map((m) => toHex(m.tx)).sort()).toEqual(submitted.map((tx) => toHex(tx)).sort());
    // Alone, a transaction keeps the one-transaction shape.
    await t.txs.submit(hospitalTx(t.admin, 3, t.expires(), t.genesis.chainId), [], 'async');
    await new Promise((r) => setImmediate(r));
    expect(t.net.published).toHaveLength(2);
    expect(decode(t.net.published[1]!.bytes)).toHaveProperty('tx');

    // Another node receives the batch.
    let decodes = 0;
    const other = await intake({ leader: null, decodeTx: countDecodes(() => decodes++) });
    const validate = other.net.topics.get(TX_TOPIC)!;
    const batch = encodeTxBatch(submitted.map((tx) => encodeTxMessage(tx, [])));
    expect(await validate('peer', batch)).toBe('accept');
    expect(other.txs.mempool.size).toBe(3);
    expect(decodes).toBe(3);
    // The same batch again (another relay): everything is held, nothing decoded again.
    expect(await validate('peer2', batch)).toBe('ignore');
    expect(decodes).toBe(3);
    // A forged element among valid ones: the valid one is admitted, the relay is suspect.
    const forged = hospitalTx(t.admin, 4, t.expires(), t.genesis.chainId);
    forged[forged.length - 3]! ^= 0x80;
    const fresh = hospitalTx(t.admin, 5, t.expires(), t.genesis.chainId);
    expect(
      await validate(
        'peer',
        encodeTxBatch([encodeTxMessage(forged, []), encodeTxMessage(fresh, [])]),
      ),
    ).toBe('reject');
    expect(other.txs.mempool.has(toHex(sha256(fresh)))).toBe(true);
    expect(other.txs.mempool.has(toHex(sha256(forged)))).toBe(false);
    // Malformed batches: empty, too many, an element that is not a message.
    expect(await validate('peer', encode({ txs: [] }))).toBe('reject');
    expect(
      await validate(
        'peer',
        encodeTxBatch(Array.from({ length: 257 }, () => batch.subarray(0, 4))),
      ),
    ).toBe('reject');
    expect(await validate('peer', encodeTxBatch([new Uint8Array([1, 2, 3])]))).toBe('reject');
    expect(await validate('peer', encode({ txs: [encodeTxMessage(fresh, [])], extra: 1 }))).toBe(
      'reject',
    );
    expect(other.txs.mempool.size).toBe(4);
  });

  it('the gossip message keeps bodies keyed by their hash', () => {
    const body = new Uint8Array([1, 2, 3]);
    const m = decodeTxMessage(encodeTxMessage(new Uint8Array([9]), [body]));
    expect([...m.payloads.values()]).toEqual([body]);
    expect(() =>
      decodeTxMessage(encode({ tx: new Uint8Array(1), payloads: [], extra: 1 })),
    ).toThrow();
  });
});

describe('TxIntake on a node that trails the leader', () => {
  it('asks the read barrier before refusing, and judges again on what it then holds', async () => {
    const patient = generateSecretKey();
    const signup = patientSignup(genesis.chainId, patient);
    // Two states: this node before and after applying the block with the patient's sign-up.
    const before = new MapState();
    before.applyWrites(genesisWrites(genesis));
    const after = new MapState();
    after.applyWrites(genesisWrites(genesis));
    const b = await BlockBuilder.open(after, { height: 1, time: Date.now() });
    expect(
      await b.add(signup.tx, new Map([[toHex(sha256(signup.body)), signup.body]])),
    ).toMatchObject({ ok: true });
    after.applyWrites(b.finish(genesisStateHash(genesis)).writes);
    let state = before;
    let asked = 0;
    const make = (caughtUp?: () => Promise<void>) =>
      new TxIntake({
        chainId: genesis.chainId,
        limits: {
          maxTxs: 100,
          maxBytes: 1 << 20,
          maxPerAccount: 8,
          maxTxBytes: genesis.limits.maxTxBytes,
        },
        wire: wireLimits(genesis.limits),
        store: {
          get state() {
            return state;
          },
          head: () => ({
            height: 0,
            hash: new Uint8Array(32),
            stateHash: new Uint8Array(32),
            time: Date.now() - 1000,
            applied: 0,
          }),
          receipt: async () => undefined,
        },
        network: new MemNet(`n${Math.random()}`, new Map()),
        leadership: () => ({ leader: null, leading: false }),
        wake: () => {},
        halted: () => undefined,
        ...(caughtUp ? { caughtUp } : {}),
        logger: capturingLogger().logger,
        metrics: nodeMetrics(),
      });
    // The patient revokes a consent it never gave: refused either way, but for the right
    // reason only once this node holds the sign-up another node acknowledged.
    const revoke = (nonce: number) =>
      encodeTx(
        signTx(
          {
            chainId: genesis.chainId,
            author: publicKeyOf(patient),
            nonce,
            kind: 'consent.revoke',
            expires: Date.now() + 60_000,
            payload: { hospital: 'city' },
          },
          patient,
        ),
      );
    // Signed with the nonce a stale node gave (0): refused as from an unknown account.
    const stale = await make().submit(revoke(0), [], 'async');
    expect(stale.status).toMatchObject({ status: 'rejected', code: 'UNKNOWN_ACCOUNT' });
    // Caught up first: the truth, that nonce 0 is used (final: the client signs again)...
    const fresh = make(async () => {
      asked++;
      state = after;
    });
    const used = await fresh.submit(revoke(0), [], 'async');
    expect(asked).toBe(1);
    expect(used.status).toMatchObject({ status: 'rejected', code: 'NONCE_USED', final: true });
    // ... and signed again with nonce 1, the refusal the patient should see.
    const again = await fresh.submit(revoke(1), [], 'async');
    expect(again.status).toMatchObject({ status: 'rejected', code: 'CONSENT_MISSING' });
    // What passes at once never waits for the barrier.
    state = before;
    const ok = make(async () => void asked++);
    await ok.submit(signup.tx, [signup.body], 'async');
    expect(asked).toBe(2);
  });
});
