import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@ehr/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Db } from '../src/db.ts';
import { entryBytes, StateRepo } from '../src/state-repo.ts';

let dir: string;
let db: Db;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ehr-cache-'));
  db = await Db.open(dir);
});
afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const commit = (repo: StateRepo, writes: [string, string | null][]) => {
  const ops = StateRepo.ops(writes);
  return repo.committing(ops, () => db.batch(ops, true));
};

describe('state read cache', () => {
  it('serves committed values, including deletions and absent keys', async () => {
    const repo = new StateRepo(db);
    expect(await repo.get('a')).toBeUndefined();
    await commit(repo, [['a', 'one']]);
    expect(await repo.get('a')).toBe('one');
    await commit(repo, [['a', 'two']]);
    expect(await repo.get('a')).toBe('two');
    await commit(repo, [['a', null]]);
    expect(await repo.get('a')).toBeUndefined();
    // What the cache says is what a fresh reader of the disk says.
    expect(await new StateRepo(db).get('a')).toBeUndefined();
  });

  it('does not keep a value read before a commit that finished first', async () => {
    // A disk whose reads are answered when the test says so: the read sees the old value,
    // the commit lands meanwhile, and the stale answer must not be cached.
    const disk = new Map<string, Uint8Array>();
    const held: (() => void)[] = [];
    const slow = {
      get: (k: Uint8Array) => {
        const v = disk.get(Buffer.from(k).toString('hex'));
        return new Promise((r) => held.push(() => r(v)));
      },
      batch: async (ops: { type: string; key: Uint8Array; value?: Uint8Array }[]) => {
        for (const o of ops) disk.set(Buffer.from(o.key).toString('hex'), o.value!);
      },
    };
    const repo = new StateRepo(slow as unknown as Db);
    const oldOps = StateRepo.ops([['k', 'old']]);
    await repo.committing(oldOps, () => slow.batch(oldOps));
    const other = new StateRepo(slow as unknown as Db);
    const reading = other.get('k');
    const newOps = StateRepo.ops([['k', 'new']]);
    await other.committing(newOps, () => slow.batch(newOps));
    expect(await other.get('k')).toBe('new');
    // Now the first read returns the value it saw before the commit.
    held.shift()!();
    await reading;
    expect(await other.get('k')).toBe('new');
  });

  it('hands out copies: mutating a returned value does not change the next read', async () => {
    const repo = new StateRepo(db);
    await commit(repo, [['m', { n: 1 } as never]]);
    const v = (await repo.get('m')) as { n: number };
    v.n = 99;
    expect(await repo.get('m')).toEqual({ n: 1 });
  });

  it('stays bounded', async () => {
    // Room for three of these entries in bytes.
    const repo = new StateRepo(db, 3 * entryBytes('a', encode('1')));
    await commit(repo, [
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
      ['d', '4'],
    ]);
    for (const k of ['a', 'b', 'c', 'd']) expect(await repo.get(k)).toBeDefined();
    expect((repo as unknown as { cache: Map<string, unknown> }).cache.size).toBe(3);
  });

  it('forgets the keys of a batch that failed', async () => {
    const repo = new StateRepo(db);
    await commit(repo, [['x', 'before']]);
    await expect(
      repo.committing(StateRepo.ops([['x', 'after']]), async () => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(await repo.get('x')).toBe('before');
  });
});

describe('state read cache bound', () => {
  it('holds at most its bound in bytes, however many keys are read and written', async () => {
    const bound = 64 * 1024;
    const repo = new StateRepo(db, bound);
    let peak = 0;
    // 2,000 keys of ~300 bytes: ~1 MB through a 64 KiB cache.
    for (let i = 0; i < 2000; i += 50) {
      await commit(
        repo,
        Array.from({ length: 50 }, (_, j) => [`k/${i + j}`, 'v'.repeat(300)] as [string, string]),
      );
      peak = Math.max(peak, repo.cacheBytes);
    }
    for (let i = 0; i < 2000; i++) {
      expect(await repo.get(`k/${i}`)).toBe('v'.repeat(300));
      peak = Math.max(peak, repo.cacheBytes);
    }
    expect(peak).toBeLessThanOrEqual(bound);
    expect(peak).toBeGreaterThan(bound / 2);
    expect(repo.cacheEntries).toBeLessThan(2000);
    // An entry larger than the whole cache is read through, never kept.
    await commit(repo, [['big', 'x'.repeat(bound)]]);
    expect(await repo.get('big')).toBe('x'.repeat(bound));
    expect(repo.cacheBytes).toBeLessThanOrEqual(bound);
    // No cache at all.
    const none = new StateRepo(db, 0);
    expect(await none.get('k/1')).toBe('v'.repeat(300));
    expect(none.cacheBytes).toBe(0);
  });

  it('refuses a negative or fractional bound', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => new StateRepo(db, bad)).toThrow(/whole number of bytes/);
  });
});
