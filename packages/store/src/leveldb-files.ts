/**
 * Checks LevelDB's write-ahead logs (`NNNNNN.log`) before LevelDB opens them. LevelDB as
 * classic-level opens it (no paranoid checks, and classic-level has no option for them) skips a
 * log record whose checksum fails and drops the rest of its 32 KiB block, then rewrites what it
 * could read into a table and deletes the log: the damage is silent and its evidence gone. Reading
 * the log format (leveldb doc/log_format.md) here first lets the store refuse with the file and
 * the offset while the file is still there.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c, unmask } from './crc32c.ts';

const BLOCK = 32 * 1024;
const HEADER = 7;
const FULL = 1;
const LAST = 4;

export interface LogDamage {
  file: string;
  offset: number;
  what: string;
  /** True when no readable record follows: a write torn by a crash or power loss looks so too. */
  atTail: boolean;
}

export interface LogScan {
  files: string[];
  damage: LogDamage[];
}

function scanLog(file: string): LogDamage[] {
  const b = new Uint8Array(readFileSync(file));
  const found: { offset: number; what: string }[] = [];
  let lastGood = -1;
  let pos = 0;
  while (pos < b.length) {
    const blockEnd = Math.min(b.length, (Math.floor(pos / BLOCK) + 1) * BLOCK);
    if (blockEnd - pos < HEADER) {
      pos = blockEnd; // trailer: fewer than 7 bytes left in the block, zero-filled
      continue;
    }
    const dv = new DataView(b.buffer, b.byteOffset + pos, HEADER);
    const masked = dv.getUint32(0, true);
    const len = dv.getUint16(4, true);
    const type = b[pos + 6]!;
    if (type === 0 && len === 0 && masked === 0) {
      pos = blockEnd; // preallocated zeros: LevelDB skips the rest of the block
      continue;
    }
    if (pos + HEADER + len > blockEnd) {
      if (blockEnd === b.length) {
        found.push({ offset: pos, what: 'the file ends inside a record (truncated)' });
        break;
      }
      found.push({ offset: pos, what: `bad record length ${len}` });
      pos = blockEnd;
      continue;
    }
    const payload = b.subarray(pos + HEADER, pos + HEADER + len);
    const crc = crc32c(payload, crc32c(new Uint8Array([type])));
    if (type < FULL || type > LAST) {
      found.push({ offset: pos, what: `unknown record type ${type}` });
      pos = blockEnd;
      continue;
    }
    if (crc !== unmask(masked)) {
      found.push({ offset: pos, what: 'checksum mismatch' });
      pos = blockEnd; // LevelDB drops the rest of the block
      continue;
    }
    lastGood = pos;
    pos += HEADER + len;
  }
  return found.map((d) => ({ ...d, file, atTail: d.offset > lastGood }));
}

/** Scans every write-ahead log in a LevelDB directory. */
export function scanWriteAheadLogs(dir: string): LogScan {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { files: [], damage: [] };
  }
  const files = names
    .filter((n) => /^\d+\.log$/.test(n))
    .sort()
    .map((n) => join(dir, n));
  return { files, damage: files.flatMap(scanLog) };
}

/** A LevelDB error names a file only sometimes; this finds it (`.../000005.ldb: ...`). */
export function fileInLevelError(message: string): string | undefined {
  return /([^\s:]*(?:\d{6}\.(?:ldb|sst|log)|MANIFEST-\d+|CURRENT))/.exec(message)?.[1];
}
