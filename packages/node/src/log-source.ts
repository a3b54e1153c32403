/**
 * What a member serves of its consensus log to one catching up: applied entries from the log
 * while it holds them, and, below the index it compacted to, the same entries rebuilt from the
 * block store - a block entry is the stored block with the payload bodies it carried that are
 * still held (an erased body is gone, exactly as erasure rewrote the log entry), a config entry
 * its stub's data, a no-op nothing. The one catching up verifies everything in full
 * (sync-verify.ts), whichever way it was served. One entry is read at a time.
 */
import type { Entry } from '@ehr/consensus';
import { toHex } from '@ehr/core';
import type { EntryStub, Store } from '@ehr/store';
import { encodeBlockEntry } from './block-entry.ts';

/** Entries from..to in order; stops early at the first one neither the log nor a stub holds. */
export async function* servedEntries(
  store: Store,
  from: number,
  to: number,
): AsyncGenerator<Entry> {
  for (let i = from; i <= to; i++) {
    const held = await store.raft.entry(i);
    if (held) {
      yield held;
      continue;
    }
    const stub = await store.raft.stub(i);
    const rebuilt = stub ? await rebuildEntry(store, stub) : undefined;
    if (!rebuilt) return;
    yield rebuilt;
  }
}

/** The entry a stub stands for, from the block store (undefined: the block is not there). */
export async function rebuildEntry(
  store: Pick<Store, 'blockBytes' | 'payload'>,
  stub: EntryStub,
): Promise<Entry | undefined> {
  const base = { index: stub.index, term: stub.term };
  if (stub.type === 'noop') return { ...base, type: 'noop', data: new Uint8Array(0) };
  if (stub.type === 'config')
    return { ...base, type: 'config', data: stub.data ?? new Uint8Array(0) };
  if (stub.height === undefined) return undefined;
  const block = await store.blockBytes(stub.height);
  if (!block) return undefined;
  const bodies: Uint8Array[] = [];
  for (const h of stub.payloads ?? []) {
    const body = await store.payload(toHex(h));
    if (body) bodies.push(body);
  }
  return { ...base, type: 'block', data: encodeBlockEntry(block, bodies) };
}
