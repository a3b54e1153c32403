/**
 * Erasure reaches the consensus log too: the log entries that carried bodies a block erases are
 * rewritten without them (same index, term and type), since the engine serves its log to
 * lagging followers and the store keeps it.
 */
import type { Entry } from '@ehr/consensus';
import { decodeBlockEntry, encodeBlockEntry } from './block-entry.ts';
import type { NodeStore } from './ports.ts';

/** The rewritten entries; a body erased in the block that brought it is in `current` itself. */
export async function redactionsFor(
  store: Pick<NodeStore, 'payloadEntryIndex' | 'raftEntries'>,
  erased: readonly string[],
  current: Entry,
): Promise<Entry[]> {
  const byIndex = new Map<number, Entry>([[current.index, current]]);
  for (const h of erased) {
    const i = await store.payloadEntryIndex(h);
    if (i === undefined || byIndex.has(i)) continue;
    const [stored] = await store.raftEntries(i, i);
    if (stored) byIndex.set(i, stored);
  }
  const out: Entry[] = [];
  for (const e of byIndex.values()) {
    if (e.type !== 'block') continue;
    const be = decodeBlockEntry(e.data);
    const kept = [...be.payloads].filter(([h]) => !erased.includes(h));
    if (kept.length === be.payloads.size) continue;
    out.push({
      ...e,
      data: encodeBlockEntry(
        be.blockBytes,
        kept.map(([, body]) => body),
      ),
    });
  }
  return out;
}
