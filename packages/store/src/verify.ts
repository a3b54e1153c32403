/**
 * Full integrity verification of an open store, at once: drains the streamed walk (walk.ts),
 * which stops at the first problem and names its height, what is wrong and the store key
 * (EhrError STORE_CORRUPT), or the damaged file (STORE_DAMAGED).
 */
import type { Store } from './store.ts';
import { type VerifyReport, type WalkOptions, type WalkProgress, walkStore } from './walk.ts';

export type { VerifyReport } from './walk.ts';

export async function verifyStore(
  store: Store,
  onProgress?: (p: WalkProgress) => void,
  opts: WalkOptions = {},
): Promise<VerifyReport> {
  const walk = walkStore(store.db, store.genesis, opts);
  for (;;) {
    const step = await walk.next();
    if (step.done) return step.value;
    onProgress?.(step.value);
  }
}
