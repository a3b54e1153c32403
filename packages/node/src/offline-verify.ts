/**
 * `ehr node verify --dir D`: the full integrity walk (the scrubber's, unpaced) of a data
 * directory no node is running on, with progress for the caller to show.
 */
import { openForCheck, type VerifyReport, type WalkProgress, walkStore } from '@ehr/store';

export type { VerifyReport, WalkProgress } from '@ehr/store';

export async function verifyDataDir(
  dir: string,
  onProgress?: (p: WalkProgress) => void,
): Promise<VerifyReport & { chainId: string }> {
  const { db, genesis } = await openForCheck(dir);
  try {
    const walk = walkStore(db, genesis);
    for (;;) {
      const step = await walk.next();
      if (step.done) return { ...step.value, chainId: genesis.chainId };
      onProgress?.(step.value);
    }
  } finally {
    await db.close();
  }
}
