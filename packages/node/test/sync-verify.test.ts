import type { Entry } from '@ehr/consensus';
import { encodeConfChange } from '@ehr/consensus';
import { EhrError, generateSecretKey, publicKeyOf, toHex } from '@ehr/core';
import { genesisBlockHash, genesisStateHash, genesisWrites, MapState } from '@ehr/ledger';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkEntries, executeBlocks, type SyncCursor } from '../src/sync-verify.ts';
import { buildLog, resign, type TestLog, tamperTx } from './log.ts';

let log: TestLog;
beforeAll(async () => {
  log = await buildLog(12);
});

const start = (): SyncCursor => ({
  index: 1,
  term: 0,
  height: 0,
  hash: genesisBlockHash(log.genesis),
  voters: [toHex(publicKeyOf(log.validator))],
  termVoters: new Map(),
  termProposer: new Map(),
});

function genesisState(): MapState {
  const s = new MapState();
  s.applyWrites(genesisWrites(log.genesis));
  return s;
}

/** Checks and executes `entries` in batches from genesis; returns the final state hash. */
async function verifyAll(entries: Entry[], batch = 5): Promise<string> {
  const state = genesisState();
  let cursor = start();
  let stateHash = genesisStateHash(log.genesis);
  for (let i = 0; i < entries.length; i += batch) {
    const checked = checkEntries(entries.slice(i, i + batch), cursor);
    const run = await executeBlocks(state, checked.blocks, stateHash);
    for (const b of checked.blocks) state.applyWrites(run.results.get(toHex(b.hash))!.writes);
    stateHash = run.stateHash;
    cursor = checked.next;
  }
  return toHex(stateHash);
}

const blockAt = (k: number) => log.entries.filter((e) => e.type === 'block')[k]!.index;
const replaced = (index: number, e: Entry) => log.entries.map((x) => (x.index === index ? e : x));

describe('sync verification', () => {
  it('accepts a genuine log in batches (two terms) and reproduces every state hash', async () => {
    expect(log.entries.filter((e) => e.type === 'noop')).toHaveLength(2);
    expect(await verifyAll(log.entries)).toBe(toHex(log.tip.stateHash));
  });

  it('refuses a block whose transactions were altered (header and signature intact)', async () => {
    const i = blockAt(4);
    await expect(verifyAll(replaced(i, tamperTx(log.entries[i - 1]!)))).rejects.toThrow(
      new RegExp(`served entry ${i} refused: .*txRoot`),
    );
  });

  it("refuses a block that the validator signed with a state hash its transactions don't give", async () => {
    // The last block: a changed header changes its hash, so a later block would not link.
    const i = blockAt(11);
    const lie = resign(
      log.entries[i - 1]!,
      (h) => ({ ...h, stateHash: new Uint8Array(32).fill(9) }),
      log.validator,
    );
    const err = await verifyAll(replaced(i, lie)).catch((e: unknown) => e as EhrError);
    expect(err).toBeInstanceOf(EhrError);
    expect((err as EhrError).code).toBe('SYNC_BAD_ENTRY');
    expect((err as EhrError).message).toMatch(
      new RegExp(`served entry ${i} refused: .*state hash .* differs from the header's`),
    );
  });

  it('refuses a block signed by someone who is not a validator', () => {
    const i = blockAt(2);
    const forged = resign(log.entries[i - 1]!, (h) => h, generateSecretKey());
    expect(() => checkEntries(replaced(i, forged), start())).toThrow(/not a validator/);
  });

  it('refuses a bad signature, a broken link, a wrong height, a wrong term and gaps', () => {
    const i = blockAt(3);
    const e = log.entries[i - 1]!;
    const badSig = { ...e, data: e.data.slice() };
    badSig.data[badSig.data.length - 5]! ^= 0x01;
    expect(() => checkEntries(replaced(i, badSig), start())).toThrow(/signature|decode/);
    const unlinked = resign(e, (h) => ({ ...h, prevHash: new Uint8Array(32) }), log.validator);
    expect(() => checkEntries(replaced(i, unlinked), start())).toThrow(/does not link/);
    const high = resign(e, (h) => ({ ...h, height: h.height + 1 }), log.validator);
    expect(() => checkEntries(replaced(i, high), start())).toThrow(/does not follow/);
    expect(() => checkEntries(replaced(i, { ...e, term: e.term + 1 }), start())).toThrow(
      /names term/,
    );
    expect(() =>
      checkEntries(
        log.entries.filter((x) => x.index !== i),
        start(),
      ),
    ).toThrow(new RegExp(`expected index ${i}`));
    const backwards = log.entries.map((x) => (x.index === 1 ? { ...x, term: 5 } : x));
    expect(() => checkEntries(backwards, start())).toThrow(/below the previous/);
  });

  it('one term has one proposer; a removed voter signs nothing after its removal', () => {
    const other = generateSecretKey();
    const voters = [toHex(publicKeyOf(log.validator)), toHex(publicKeyOf(other))];
    const i = blockAt(2);
    const byOther = resign(log.entries[i - 1]!, (h) => h, other);
    // `other` is a voter, but term 1 already had blocks from the validator.
    expect(() => checkEntries(replaced(i, byOther), { ...start(), voters })).toThrow(
      /already has another proposer/,
    );
    // Removed in term 1, `other` cannot lead term 2 (a term begun without it).
    const removal: Entry = {
      index: 0,
      term: 1,
      type: 'config',
      data: encodeConfChange({ op: 'remove', node: voters[1]! }),
    };
    const firstT2 = log.entries.findIndex((e) => e.term === 2);
    const withRemoval = [
      ...log.entries.slice(0, firstT2),
      removal,
      ...log.entries.slice(firstT2),
    ].map((e, k) => ({ ...e, index: k + 1 }));
    const t2Block = withRemoval.find((e) => e.term === 2 && e.type === 'block')!;
    const led = withRemoval.map((e) => (e === t2Block ? resign(e, (h) => h, other) : e));
    expect(() => checkEntries(led, { ...start(), voters })).toThrow(/not a validator/);
  });

  it('refuses a no-op with data and a config entry that does not decode', () => {
    const noopAt = log.entries.find((e) => e.type === 'noop')!.index;
    expect(() =>
      checkEntries(
        replaced(noopAt, { ...log.entries[noopAt - 1]!, data: new Uint8Array([1]) }),
        start(),
      ),
    ).toThrow(/no-op entry carries data/);
    expect(() =>
      checkEntries(
        replaced(noopAt, {
          ...log.entries[noopAt - 1]!,
          type: 'config',
          data: new Uint8Array([1]),
        }),
        start(),
      ),
    ).toThrow(/config change does not decode/);
  });
});
