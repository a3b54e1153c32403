/**
 * Turns what LevelDB says about a damaged store (`Corruption: corrupted compressed block
 * contents`, `IO error: .../000005.ldb: Invalid argument`) into a refusal that names the data
 * directory, the damaged file, what is wrong with it and how to recover. LevelDB names the file
 * only sometimes, so the table and log files are checked here (block by block) to find it.
 */
import { EhrError, isEhrError } from '@ehr/core';
import { fileInLevelError, findDamagedTables, scanWriteAheadLogs } from './leveldb-files.ts';
import { resyncAdvice } from './raft-marker.ts';

/** The damaged files in `dir` as one sentence, or undefined when every checksum passes. */
export function damagedFiles(dir: string): string | undefined {
  const found = [
    ...findDamagedTables(dir).map((t) => `${t.file}: ${t.what}`),
    ...scanWriteAheadLogs(dir).damage.map((d) => `${d.file} at byte ${d.offset}: ${d.what}`),
  ];
  return found.length > 0
    ? `damaged file${found.length > 1 ? 's' : ''}: ${found.join('; ')}`
    : undefined;
}

/** A refusal for an error LevelDB raised while opening or reading the store in `dir`. */
export function storeDamaged(dir: string, err: unknown, doing: string): EhrError {
  if (isEhrError(err)) return err;
  const e = err as { message?: string; code?: string; cause?: { message?: string } };
  const said = e.cause?.message ?? e.message ?? String(err);
  const named = fileInLevelError(said);
  const files = damagedFiles(dir);
  const where = files ?? (named ? `damaged file: ${named}` : 'no single damaged file was found');
  return new EhrError(
    'STORE_DAMAGED',
    `the store at ${dir} is damaged and cannot be ${doing}: ${where} (LevelDB: ${said}). ${resyncAdvice(dir)}.`,
    { dir, ...(named ? { file: named } : {}), level: said },
  );
}
