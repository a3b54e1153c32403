/**
 * The catch-up sync protocols (request/response over the host's versioned, length-prefixed
 * streams, members only): `sync-status` tells a member's committed position, `sync-log` serves
 * committed consensus log entries (index, term, type, data) from it, rebuilt from its block
 * store below the index its log was compacted to. A member serves only what it has applied, so
 * everything it serves is committed; replies are capped by count and bytes, and read entry by
 * entry up to the cap (nothing beyond one reply is held).
 */
import type { Entry } from '@ehr/consensus';
import { decodeEntries, encodeEntries } from '@ehr/consensus';
import { decode, encode, expectBytes, expectInteger, expectMap } from '@ehr/core';
import type { Network } from './ports.ts';

export const SYNC_STATUS_PROTOCOL = 'sync-status';
export const SYNC_LOG_PROTOCOL = 'sync-log';
export const MAX_SYNC_ENTRIES = 512;
export const MAX_SYNC_BYTES = 8 * 1024 * 1024;

/** A member's committed position: its last applied raft index and the block there. */
export interface SyncPosition {
  index: number;
  term: number;
  height: number;
  hash: Uint8Array;
}

export interface SyncSource {
  position(): Promise<SyncPosition>;
  /**
   * Applied entries from `from` on (a prefix of from..to), read as they are consumed: a reply
   * stops at its byte cap without reading further (below the compacted index they come rebuilt
   * from the block store: log-source.ts).
   */
  entries(from: number, to: number): AsyncIterable<Entry>;
  /** Entry data per reply (the node passes wireLimits().entryBytes; at least one entry). */
  maxBytes?: number;
}

export function encodePosition(p: SyncPosition): Uint8Array {
  return encode({ index: p.index, term: p.term, height: p.height, hash: p.hash });
}

export function decodePosition(b: Uint8Array): SyncPosition {
  const m = expectMap(decode(b), 'sync position');
  return {
    index: expectInteger(m['index'], 'position.index'),
    term: expectInteger(m['term'], 'position.term'),
    height: expectInteger(m['height'], 'position.height'),
    hash: expectBytes(m['hash'], 'position.hash', 32),
  };
}

/** Serves `from`..`to` (clipped to what is applied, MAX_SYNC_ENTRIES and MAX_SYNC_BYTES). */
export async function serveEntries(
  source: SyncSource,
  from: number,
  to: number,
  maxBytes = MAX_SYNC_BYTES,
): Promise<Entry[]> {
  const applied = (await source.position()).index;
  const last = Math.min(to, from + MAX_SYNC_ENTRIES - 1, applied);
  if (last < from) return [];
  const out: Entry[] = [];
  let bytes = 0;
  for await (const e of source.entries(from, last)) {
    // Always at least one entry, so a batch of large blocks still progresses.
    if (out.length > 0 && bytes + e.data.length > maxBytes) break;
    out.push(e);
    bytes += e.data.length;
    if (bytes >= maxBytes) break;
  }
  return out;
}

export function serveSync(network: Network, source: SyncSource): void {
  network.handle(SYNC_STATUS_PROTOCOL, async () => encodePosition(await source.position()));
  network.handle(SYNC_LOG_PROTOCOL, async (_from, bytes) => {
    const m = expectMap(decode(bytes), 'sync-log request');
    const from = expectInteger(m['from'], 'sync-log.from', 1);
    const to = expectInteger(m['to'], 'sync-log.to', from);
    return encodeEntries(await serveEntries(source, from, to, source.maxBytes));
  });
}

export async function fetchPosition(
  network: Pick<Network, 'request'>,
  peer: string,
  timeoutMs = 3000,
): Promise<SyncPosition> {
  return decodePosition(await network.request(peer, SYNC_STATUS_PROTOCOL, encode({}), timeoutMs));
}

/** Entries `from`..`to` (or a prefix) from `peer`; checks they are the ones asked for. */
export async function fetchEntries(
  network: Pick<Network, 'request'>,
  peer: string,
  from: number,
  to: number,
  timeoutMs = 15_000,
): Promise<Entry[]> {
  const entries = decodeEntries(
    await network.request(peer, SYNC_LOG_PROTOCOL, encode({ from, to }), timeoutMs),
  );
  entries.forEach((e, i) => {
    if (e.index !== from + i) {
      throw new Error(`sync-log reply holds index ${e.index} where ${from + i} belongs`);
    }
  });
  if (entries.length > to - from + 1) throw new Error('sync-log reply is longer than asked');
  return entries;
}
