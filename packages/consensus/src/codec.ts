/**
 * Wire and log encodings (canonical, from @ehr/core). Messages come from the network, so
 * decoding checks every field's shape and refuses anything else.
 */
import {
  decode,
  EhrError,
  EncodingError,
  encode,
  expectArray,
  expectBoolean,
  expectBytes,
  expectInteger,
  expectMap,
  expectString,
  type Value,
} from '@ehr/core';
import {
  type ConfChange,
  type Entry,
  MAX_LOG_POSITION,
  type Membership,
  type Message,
  type Snapshot,
} from './types.ts';

/**
 * A term, index or commit within min..MAX_LOG_POSITION: anything beyond is refused here, before
 * the engine sees it (CONSENSUS_OUT_OF_RANGE; integers past 2^53-1 the decoder refuses itself).
 */
function position(v: Value | undefined, path: string, min = 0): number {
  const n = expectInteger(v, path, min);
  if (n > MAX_LOG_POSITION) {
    throw new EhrError(
      'CONSENSUS_OUT_OF_RANGE',
      `${path}: ${n} is beyond the largest accepted ${MAX_LOG_POSITION}`,
      { path, value: n, max: MAX_LOG_POSITION },
    );
  }
  return n;
}

const MESSAGE_TYPES = [
  'prevote',
  'prevoteResp',
  'vote',
  'voteResp',
  'append',
  'appendResp',
  'snapshot',
  'timeoutNow',
] as const;
const ENTRY_TYPES = ['noop', 'block', 'config'] as const;
const CONF_OPS = ['addLearner', 'promote', 'remove'] as const;

function oneOf<T extends string>(v: Value | undefined, path: string, allowed: readonly T[]): T {
  const s = expectString(v, path);
  if (!(allowed as readonly string[]).includes(s))
    throw new EncodingError(`${path}: unknown value ${s}`, { path });
  return s as T;
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encode({ op: cc.op, node: cc.node });
}

export function decodeConfChange(b: Uint8Array): ConfChange {
  const m = expectMap(decode(b), 'conf');
  return {
    op: oneOf(m['op'], 'conf.op', CONF_OPS),
    node: expectString(m['node'], 'conf.node', 1, 128),
  };
}

const entryValue = (e: Entry): Value => [e.index, e.term, e.type, e.data];

function entryFrom(v: Value, path: string): Entry {
  const a = expectArray(v, path);
  if (a.length !== 4) throw new EncodingError(`${path}: expected 4 fields`, { path });
  return {
    index: position(a[0], `${path}.index`, 1),
    term: position(a[1], `${path}.term`),
    type: oneOf(a[2], `${path}.type`, ENTRY_TYPES),
    data: expectBytes(a[3], `${path}.data`),
  };
}

/** Log entries as catch-up sync serves them (same shape as in append messages). */
export function encodeEntries(entries: Entry[]): Uint8Array {
  return encode(entries.map(entryValue));
}

export function decodeEntries(b: Uint8Array): Entry[] {
  return expectArray(decode(b), 'entries').map((e, i) => entryFrom(e, `entries[${i}]`));
}

const membershipValue = (m: Membership): Value => ({
  voters: m.voters,
  learners: m.learners,
  removed: m.removed,
});

function membershipFrom(v: Value | undefined, path: string): Membership {
  const m = expectMap(v, path);
  const ids = (k: string) =>
    expectArray(m[k], `${path}.${k}`).map((x, i) => expectString(x, `${path}.${k}[${i}]`, 1, 128));
  return { voters: ids('voters'), learners: ids('learners'), removed: ids('removed') };
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  return encode({
    index: s.index,
    term: s.term,
    membership: membershipValue(s.membership),
    lastBlockHash: s.lastBlockHash,
    data: s.data,
  });
}

function snapshotFrom(v: Value | undefined, path: string): Snapshot {
  const m = expectMap(v, path);
  return {
    index: position(m['index'], `${path}.index`),
    term: position(m['term'], `${path}.term`),
    membership: membershipFrom(m['membership'], `${path}.membership`),
    lastBlockHash: expectBytes(m['lastBlockHash'], `${path}.lastBlockHash`, 32),
    data: expectBytes(m['data'], `${path}.data`),
  };
}

export function decodeSnapshot(b: Uint8Array): Snapshot {
  return snapshotFrom(decode(b), 'snapshot');
}

export function encodeMessage(m: Message): Uint8Array {
  return encode({
    t: m.type,
    f: m.from,
    o: m.to,
    T: m.term,
    i: m.index,
    l: m.logTerm,
    e: m.entries.map(entryValue),
    c: m.commit,
    r: m.reject,
    hi: m.hintIndex,
    ht: m.hintTerm,
    x: m.transfer,
    s: m.snapshot
      ? {
          index: m.snapshot.index,
          term: m.snapshot.term,
          membership: membershipValue(m.snapshot.membership),
          lastBlockHash: m.snapshot.lastBlockHash,
          data: m.snapshot.data,
        }
      : null,
  });
}

/**
 * Decodes a consensus message from the network. Besides each field's shape and range, the
 * entries of an append must follow its index one by one with terms that never fall and never
 * pass the message's term: the engine relies on that and a sender cannot be trusted with it.
 */
export function decodeMessage(b: Uint8Array): Message {
  const m = expectMap(decode(b), 'msg');
  const msg: Message = {
    type: oneOf(m['t'], 'msg.type', MESSAGE_TYPES),
    from: expectString(m['f'], 'msg.from', 1, 128),
    to: expectString(m['o'], 'msg.to', 1, 128),
    term: position(m['T'], 'msg.term'),
    index: position(m['i'], 'msg.index'),
    logTerm: position(m['l'], 'msg.logTerm'),
    entries: expectArray(m['e'], 'msg.entries').map((e, i) => entryFrom(e, `msg.entries[${i}]`)),
    commit: position(m['c'], 'msg.commit'),
    reject: expectBoolean(m['r'], 'msg.reject'),
    hintIndex: position(m['hi'], 'msg.hintIndex'),
    hintTerm: position(m['ht'], 'msg.hintTerm'),
    transfer: expectBoolean(m['x'], 'msg.transfer'),
    snapshot: m['s'] === null ? null : snapshotFrom(m['s'], 'msg.snapshot'),
  };
  let prevTerm = msg.logTerm;
  for (const [i, e] of msg.entries.entries()) {
    if (e.index !== msg.index + 1 + i || e.term < prevTerm || e.term > msg.term) {
      throw new EncodingError(
        `msg.entries[${i}]: entry ${e.index} (term ${e.term}) does not follow index ${msg.index + i} (term ${prevTerm}) within term ${msg.term}`,
        { path: `msg.entries[${i}]` },
      );
    }
    prevTerm = e.term;
  }
  return msg;
}
