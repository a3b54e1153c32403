/**
 * Overlay: buffered writes over a StateReader. Reads see the overlay's own writes first (a
 * deletion hides the base value), then fall through to the base. Nothing reaches the base: the
 * caller takes `writes()` (key-ordered) and hands them to the store in one batch.
 *
 * Overlays stack: the leader builds a block on an overlay over the blocks still in flight, and
 * each transaction runs in a child overlay that is merged only if the transaction succeeds, so a
 * rejected transaction never leaves half its writes behind.
 */
import type { Value } from '@ehr/core';
import { compareKeys, type State, type StateReader, type WriteSet } from './state.ts';

export class Overlay implements State {
  readonly base: StateReader;
  /** key -> value, or null for a deletion. */
  private readonly pending = new Map<string, Value | null>();

  constructor(base: StateReader) {
    this.base = base;
  }

  async get(key: string): Promise<Value | undefined> {
    const local = this.pending.get(key);
    if (local !== undefined) return local === null ? undefined : local;
    return this.base.get(key);
  }

  set(key: string, value: Value): void {
    this.pending.set(key, value);
  }

  delete(key: string): void {
    this.pending.set(key, null);
  }

  get size(): number {
    return this.pending.size;
  }

  /** A child overlay whose reads fall through to this one; `merge` it back to keep its writes. */
  child(): Overlay {
    return new Overlay(this);
  }

  /** Copies a child's writes into this overlay (the child must be layered on this overlay). */
  merge(child: Overlay): void {
    if (child.base !== this) throw new Error('Overlay.merge: not a child of this overlay');
    for (const [key, value] of child.pending) this.pending.set(key, value);
  }

  /** The buffered writes in key order (UTF-8 byte order), deletions as null. */
  writes(): WriteSet {
    const keys = [...this.pending.keys()].sort(compareKeys);
    return keys.map((k) => [k, this.pending.get(k) as Value | null]);
  }
}
