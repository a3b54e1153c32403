/**
 * Opening a data directory for an offline check (`ehr node verify`), without a node config: the
 * genesis is the one the store recorded when it was created. Refuses, like Store.open, a
 * write-ahead log damaged in its middle before LevelDB could skip it, and a directory another
 * process (a running node) holds. Writes nothing of its own (LevelDB may replay its log).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EhrError } from '@ehr/core';
import { type Genesis, parseGenesis } from '@ehr/ledger';
import { storeDamaged } from './damage.ts';
import { Db } from './db.ts';
import { scanWriteAheadLogs } from './leveldb-files.ts';
import { resyncAdvice } from './raft-marker.ts';
import { GENESIS } from './store.ts';

export async function openForCheck(dir: string): Promise<{ db: Db; genesis: Genesis }> {
  if (!existsSync(join(dir, 'CURRENT'))) {
    throw new EhrError(
      'STORE_NOT_FOUND',
      `${dir} is not a node's data directory (no LevelDB store in it): give the dataDir of the node config`,
      { dir },
    );
  }
  const inner = scanWriteAheadLogs(dir).damage.find((d) => !d.atTail);
  if (inner) {
    throw new EhrError(
      'STORE_LOG_DAMAGED',
      `the store at ${dir} has a damaged write-ahead log: ${inner.file} at byte ${inner.offset}: ${inner.what}, with readable records after it. ${resyncAdvice(dir)}.`,
      { dir, file: inner.file, offset: inner.offset, what: inner.what },
    );
  }
  const db = await Db.open(dir);
  try {
    const stored = await db.get(GENESIS);
    if (!stored)
      throw new EhrError(
        'STORE_CORRUPT',
        `the store at ${dir} has no genesis record: it is empty or lost its first writes. ${resyncAdvice(dir)}.`,
        { dir, height: 0, key: 'meta/genesis' },
      );
    return {
      db,
      genesis: parseGenesis(new TextDecoder().decode(stored), `${dir} (stored genesis)`),
    };
  } catch (err) {
    await db.close();
    throw storeDamaged(dir, err, 'opened');
  }
}
