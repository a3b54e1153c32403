/**
 * Property: for random mixes of valid and invalid transactions, (1) applying the same block twice,
 * on separate copies of the state, gives identical receipts, writes and state hash; (2) a block
 * the leader builds applies on a follower to exactly the leader's writes and state hash; (3) only
 * transactions with nonceConsumed advance nonces.
 */
import { sha256, toHex, txHash } from '@ehr/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyBlock, BlockBuilder, MapState, nextNonce, type TxResult } from '../src/index.ts';
import { body, ref, reportPayload, TestChain, world, wrapped } from './helpers.ts';

const base = await world(new TestChain());
const { chain, admin, alice, bob, heart, river } = base;
const people = { alice, bob, heart, river, admin };
type Who = keyof typeof people;

const action = fc.record({
  who: fc.constantFrom<Who>('alice', 'bob', 'heart', 'river', 'admin'),
  /** Mostly the role the kind needs; sometimes the random `who`. */
  rightRole: fc.constantFrom(true, true, true, false),
  what: fc.constantFrom('submit', 'grant', 'revoke', 'prescribe', 'erase', 'hospital', 'garbage'),
  n: fc.integer({ min: 0, max: 5 }),
  nonceSkew: fc.constantFrom(0, 0, 0, 0, 1),
});

type Action = { who: Who; rightRole: boolean; what: string; n: number; nonceSkew: number };

function author(a: Action): Who {
  if (!a.rightRole) return a.who;
  if (a.what === 'prescribe') return a.n % 2 === 0 ? 'heart' : 'river';
  if (a.what === 'hospital') return 'admin';
  return a.n % 3 === 0 ? 'bob' : 'alice';
}

function build(actions: Action[]) {
  const nonces = new Map<string, number>();
  const txs: Uint8Array[] = [];
  const bodies = new Map<string, Uint8Array>();
  const submitted: string[] = [];
  actions.forEach((a, i) => {
    const who = people[author(a)];
    const nonce = (nonces.get(who.hex) ?? 1) + a.nonceSkew; // everyone used nonce 0 in world()
    if (a.nonceSkew === 0) nonces.set(who.hex, nonce + 1);
    const hospital = a.n % 2 === 0 ? 'city-general' : 'river-clinic';
    let tx: Uint8Array;
    switch (a.what) {
      case 'submit': {
        const r = reportPayload(`${i}-${a.n}`, hospital, 'cardiology');
        bodies.set(toHex(sha256(r.body)), r.body);
        tx = chain.tx(who, 'record.submit', r.payload, nonce);
        submitted.push(toHex(txHash(tx)));
        break;
      }
      case 'grant':
        tx = chain.tx(
          who,
          'consent.grant',
          { hospital, scope: 'all', expiresAt: chain.time + a.n * 1000 + 1 },
          nonce,
        );
        break;
      case 'revoke':
        tx = chain.tx(who, 'consent.revoke', { hospital }, nonce);
        break;
      case 'prescribe': {
        const b = body(`rx ${i}`);
        bodies.set(toHex(sha256(b)), b);
        const record = submitted[a.n % Math.max(1, submitted.length)] ?? 'e'.repeat(64);
        tx = chain.tx(
          who,
          'prescription.write',
          { record, ...ref(b), patientKey: wrapped('p'), hospitalKey: wrapped('h') },
          nonce,
        );
        break;
      }
      case 'erase': {
        const hashes = [...bodies.keys()];
        const h = hashes[a.n % Math.max(1, hashes.length)] ?? '00'.repeat(32);
        tx = chain.tx(
          who,
          'payload.erase',
          { payloadHash: Uint8Array.from(Buffer.from(h, 'hex')) },
          nonce,
        );
        break;
      }
      case 'hospital':
        tx = chain.tx(who, 'hospital.update', { id: hospital, contact: `c${a.n}` }, nonce);
        break;
      default:
        tx = new Uint8Array([1, a.n]);
    }
    txs.push(tx);
  });
  return { txs, bodies };
}

describe('determinism', () => {
  it('same block, same result; leader-built blocks apply identically on followers', async () => {
    const seen = { ok: 0, failed: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 12 }), async (actions) => {
        const { txs, bodies } = build(actions);
        const block = { header: chain.header(txs), txs, signature: new Uint8Array(64) };
        const opts = { prevStateHash: chain.prevStateHash, checkStateHash: false };
        const a = await applyBlock(new MapState(chain.state.map), block, bodies, opts);
        const b = await applyBlock(new MapState(chain.state.map), block, bodies, opts);
        expect(b.receipts).toEqual(a.receipts);
        for (const r of a.receipts) seen[r.ok ? 'ok' : 'failed']++;
        expect(b.writes).toEqual(a.writes);
        expect(toHex(b.stateHash)).toBe(toHex(a.stateHash));
        const after = new MapState(chain.state.map);
        after.applyWrites(a.writes);
        for (const p of Object.values(people)) {
          const consumed = a.receipts.filter((r) => r.author === p.hex && r.nonceConsumed).length;
          expect(await nextNonce(after, p.hex)).toBe(
            (await nextNonce(chain.state, p.hex)) + consumed,
          );
        }

        const leader = await BlockBuilder.open(chain.state, {
          height: chain.height + 1,
          time: block.header.time,
          payloads: bodies,
        });
        const results: (TxResult | 'full')[] = [];
        for (const tx of txs) results.push(await leader.add(tx));
        const built = leader.finish(chain.prevStateHash);
        const header = chain.header(leader.txs, built.stateHash, block.header.time);
        const follower = await applyBlock(
          new MapState(chain.state.map),
          { header, txs: leader.txs, signature: new Uint8Array(64) },
          bodies,
          {
            prevStateHash: chain.prevStateHash,
          },
        );
        expect(follower.writes).toEqual(built.writes);
        expect(toHex(follower.stateHash)).toBe(toHex(built.stateHash));
        expect(follower.receipts).toEqual(built.receipts);
        // What the leader kept applied, or was refused by the rules after authentication (a
        // final, nonce-using failure); nothing that failed authentication got in.
        expect(follower.receipts.every((r) => r.nonceConsumed)).toBe(true);
      }),
      { numRuns: 40, seed: 4242 },
    );
    // The mixes exercised both outcomes.
    expect(seen.ok).toBeGreaterThan(20);
    expect(seen.failed).toBeGreaterThan(20);
  });
});

describe('compareKeys', () => {
  it('orders exactly as the UTF-8 bytes do, surrogates and lone surrogates included', async () => {
    const { compareKeys, compareKeysByBytes } = await import('../src/state.ts');
    const { seededRandom } = await import('@ehr/core');
    const rand = seededRandom(5);
    const units = [
      0x2f, 0x61, 0x7a, 0xe9, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffd,
      0xffff,
    ];
    const key = () =>
      Array.from({ length: 1 + Math.floor(rand() * 4) }, () =>
        String.fromCharCode(units[Math.floor(rand() * units.length)]!),
      ).join('');
    const sign = (x: number) => Math.sign(x);
    for (let i = 0; i < 20_000; i++) {
      const a = key();
      const b = rand() < 0.3 ? a + key() : key();
      expect(sign(compareKeys(a, b)), JSON.stringify([a, b])).toBe(sign(compareKeysByBytes(a, b)));
      expect(sign(compareKeys(b, a))).toBe(sign(compareKeysByBytes(b, a)));
    }
    expect(compareKeys('member/ab', 'member/ab')).toBe(0);
    expect(compareKeys('a/', 'a/b')).toBeLessThan(0);
  });
});
