/**
 * The raft marker: a small checksummed file beside LevelDB (`<dataDir>/RAFT-MARKER`) that records
 * the last consensus save this node made: its sequence number, the log's last index and term, and
 * the hard state (term, vote). LevelDB, when its write-ahead log (`*.log`) is damaged, truncated or
 * deleted, silently drops the writes it cannot read; a node that acknowledged log entries to a
 * leader and then forgets them can break Raft's safety. The same sequence number is written into
 * LevelDB in every consensus batch, so at start a LevelDB that is behind the marker has lost
 * acknowledged writes, and the node refuses to start.
 *
 * Cost: the marker is written after each synced consensus batch with one positioned write into a
 * file descriptor kept open (two alternating 256-byte slots, each with its own checksum, so a torn
 * write leaves the other intact) and is not fsynced per write: it survives a process crash (the
 * page cache keeps it) and is fsynced at close. After a power loss it may lag behind LevelDB (never
 * run ahead: it is written only once LevelDB's batch is on disk), which the start check allows.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { decode, EhrError, encode, expectInteger, expectMap, sha256 } from '@ehr/core';

export const MARKER_FILE = 'RAFT-MARKER';
const SLOT = 256;
const MAGIC = 0x52414654; // "RAFT"

export interface RaftPosition {
  /** Number of consensus saves made by this data directory (1, 2, ...). */
  seq: number;
  lastIndex: number;
  lastTerm: number;
  term: number;
  vote: string | null;
}

function encodeSlot(p: RaftPosition): Uint8Array {
  const body = encode({ ...p });
  if (body.length > SLOT - 40) throw new Error('raft marker record too large');
  const out = new Uint8Array(SLOT);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC);
  dv.setUint16(4, body.length);
  out.set(body, 6);
  out.set(sha256(out.subarray(0, 6 + body.length)).subarray(0, 32), 6 + body.length);
  return out;
}

function decodeSlot(b: Uint8Array): RaftPosition | undefined {
  if (b.length < SLOT) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0) !== MAGIC) return undefined;
  const len = dv.getUint16(4);
  if (6 + len + 32 > SLOT) return undefined;
  const sum = sha256(b.subarray(0, 6 + len));
  const stored = b.subarray(6 + len, 6 + len + 32);
  if (!sum.every((x, i) => x === stored[i])) return undefined;
  try {
    const m = expectMap(decode(b.subarray(6, 6 + len)), 'marker');
    const vote = m['vote'];
    return {
      seq: expectInteger(m['seq'], 'marker.seq'),
      lastIndex: expectInteger(m['lastIndex'], 'marker.lastIndex'),
      lastTerm: expectInteger(m['lastTerm'], 'marker.lastTerm'),
      term: expectInteger(m['term'], 'marker.term'),
      vote: typeof vote === 'string' ? vote : null,
    };
  } catch {
    return undefined;
  }
}

export type MarkerRead =
  | { state: 'absent' }
  | { state: 'damaged'; file: string }
  | { state: 'ok'; position: RaftPosition };

/** Reads the newest valid slot of the marker in `dir`. */
export function readMarker(dir: string): MarkerRead {
  const file = join(dir, MARKER_FILE);
  if (!existsSync(file)) return { state: 'absent' };
  const bytes = new Uint8Array(readFileSync(file));
  const slots = [bytes.subarray(0, SLOT), bytes.subarray(SLOT, 2 * SLOT)]
    .map(decodeSlot)
    .filter((p): p is RaftPosition => p !== undefined);
  if (slots.length === 0) return { state: 'damaged', file };
  return { state: 'ok', position: slots.reduce((a, b) => (b.seq > a.seq ? b : a)) };
}

export class RaftMarker {
  readonly file: string;
  private fd: number;
  private current: RaftPosition;

  private constructor(file: string, fd: number, current: RaftPosition) {
    this.file = file;
    this.fd = fd;
    this.current = current;
  }

  /** Opens the marker in `dir`, (re)writing it durably from `position` (the store's own). */
  static create(dir: string, position: RaftPosition): RaftMarker {
    const file = join(dir, MARKER_FILE);
    const tmp = `${file}.tmp`;
    const both = new Uint8Array(2 * SLOT);
    both.set(encodeSlot(position), 0);
    both.set(encodeSlot(position), SLOT);
    writeFileSync(tmp, both);
    const t = openSync(tmp, 'r+');
    fsyncSync(t);
    closeSync(t);
    renameSync(tmp, file);
    const d = openSync(dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
    return new RaftMarker(file, openSync(file, 'r+'), position);
  }

  get position(): RaftPosition {
    return this.current;
  }

  /** Records a save LevelDB has made durable (slot by sequence parity; no fsync, see above). */
  record(p: RaftPosition): void {
    if (this.fd < 0) return;
    writeSync(this.fd, encodeSlot(p), 0, SLOT, (p.seq % 2) * SLOT);
    this.current = p;
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      fsyncSync(this.fd);
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** What a refusal tells the operator to do (README, "Back up and restore"). */
export function resyncAdvice(dir: string): string {
  return `Stop the node, move ${dir} aside (keep it for inspection), and start the node again with an empty data directory, the same key and the same genesis: it resyncs the chain from its peers (README, "Back up and restore")`;
}

export function lostWritesError(
  dir: string,
  stored: RaftPosition,
  marker: RaftPosition,
  evidence: string,
): EhrError {
  return new EhrError(
    'STORE_LOST_WRITES',
    `the store at ${dir} lost consensus writes this node had acknowledged: LevelDB holds save #${stored.seq} (log to index ${stored.lastIndex}, term ${stored.lastTerm}; term ${stored.term}) but ${join(dir, MARKER_FILE)} records save #${marker.seq} (log to index ${marker.lastIndex}, term ${marker.lastTerm}; term ${marker.term}, vote ${marker.vote ?? 'none'}). ${evidence} Starting would let this node vote and acknowledge as if it had never promised them, which can break consensus safety. ${resyncAdvice(dir)}.`,
    { dir, file: join(dir, MARKER_FILE), stored: { ...stored }, marker: { ...marker } },
  );
}
