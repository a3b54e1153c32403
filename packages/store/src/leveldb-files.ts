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

/**
 * A file's bytes, or undefined when it is gone: the directory may belong to an open database,
 * whose compactions delete files between the listing and the read (a file that vanished is not
 * damaged; reporting its ENOENT hid the real refusal).
 */
function readIfPresent(file: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

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
  const b = readIfPresent(file);
  if (!b) return [];
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

function varint(b: Uint8Array, at: { pos: number }): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (at.pos >= b.length) throw new Error('varint runs past the end');
    const byte = b[at.pos++]!;
    result += (byte & 0x7f) * mul;
    if (byte < 0x80) return result;
    mul *= 128;
  }
  throw new Error('varint too long');
}

/** Snappy's raw format, enough to read a table's index block. */
function unsnappy(src: Uint8Array): Uint8Array {
  const at = { pos: 0 };
  const out = new Uint8Array(varint(src, at));
  let o = 0;
  while (at.pos < src.length) {
    const tag = src[at.pos++]!;
    let len: number;
    let offset = 0;
    switch (tag & 3) {
      case 0: {
        len = (tag >>> 2) + 1;
        if (len > 60) {
          const n = len - 60;
          len = 0;
          for (let i = 0; i < n; i++) len |= src[at.pos++]! << (8 * i);
          len = (len >>> 0) + 1;
        }
        if (at.pos + len > src.length || o + len > out.length) throw new Error('bad literal');
        out.set(src.subarray(at.pos, at.pos + len), o);
        at.pos += len;
        o += len;
        continue;
      }
      case 1:
        len = ((tag >>> 2) & 7) + 4;
        offset = ((tag >>> 5) << 8) | src[at.pos++]!;
        break;
      case 2:
        len = (tag >>> 2) + 1;
        offset = src[at.pos]! | (src[at.pos + 1]! << 8);
        at.pos += 2;
        break;
      default:
        len = (tag >>> 2) + 1;
        offset =
          (src[at.pos]! | (src[at.pos + 1]! << 8) | (src[at.pos + 2]! << 16)) +
          src[at.pos + 3]! * 0x1000000;
        at.pos += 4;
    }
    if (offset === 0 || offset > o || o + len > out.length) throw new Error('bad copy');
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset]!;
  }
  if (o !== out.length) throw new Error('short output');
  return out;
}

/** A block's contents after its checksum is verified (and decompressed), or why not. */
function readBlock(b: Uint8Array, offset: number, size: number, what: string): Uint8Array {
  if (offset + size + 5 > b.length) throw new Error(`${what} runs past the end of the file`);
  const contents = b.subarray(offset, offset + size + 1);
  const masked = new DataView(b.buffer, b.byteOffset + offset + size + 1, 4).getUint32(0, true);
  if (crc32c(contents) !== unmask(masked)) throw new Error(`${what} checksum mismatch`);
  const type = b[offset + size]!;
  const raw = b.subarray(offset, offset + size);
  if (type === 0) return raw;
  if (type === 1) return unsnappy(raw);
  throw new Error(`${what} has unknown compression ${type}`);
}

const TABLE_MAGIC = 0xdb4775248b80fb57n;

function checkTable(file: string): string | undefined {
  const b = readIfPresent(file);
  if (!b) return undefined;
  if (b.length < 48)
    return `the file is ${b.length} bytes, shorter than a table footer (truncated)`;
  const footer = b.subarray(b.length - 48);
  const magic = new DataView(footer.buffer, footer.byteOffset + 40, 8).getBigUint64(0, true);
  if (magic !== TABLE_MAGIC) return 'the table footer is missing or altered (truncated?)';
  try {
    const at = { pos: 0 };
    const metaOffset = varint(footer, at);
    const metaSize = varint(footer, at);
    const indexOffset = varint(footer, at);
    const indexSize = varint(footer, at);
    readBlock(b, metaOffset, metaSize, 'the metaindex block');
    const index = readBlock(b, indexOffset, indexSize, 'the index block');
    const restarts = new DataView(index.buffer, index.byteOffset).getUint32(index.length - 4, true);
    const end = index.length - 4 - 4 * restarts;
    const p = { pos: 0 };
    let n = 0;
    while (p.pos < end) {
      varint(index, p); // shared key bytes
      const nonShared = varint(index, p);
      const valueLen = varint(index, p);
      p.pos += nonShared;
      const v = index.subarray(p.pos, p.pos + valueLen);
      p.pos += valueLen;
      const h = { pos: 0 };
      const off = varint(v, h);
      readBlock(b, off, varint(v, h), `data block ${n++} (at byte ${off})`);
    }
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/** Checks every block checksum of every table file (`*.ldb`, `*.sst`) in a LevelDB directory. */
export function findDamagedTables(dir: string): { file: string; what: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+\.(ldb|sst)$/.test(n))
    .sort()
    .flatMap((n) => {
      const what = checkTable(join(dir, n));
      return what ? [{ file: join(dir, n), what }] : [];
    });
}
