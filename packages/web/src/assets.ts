/**
 * Where the built portal lives (Node side: the gateway serves this directory at `/`). Build it
 * with `pnpm --filter @ehr/web build`; tests and `run up` build it when it is missing or stale.
 */
import { join } from 'node:path';

export const PORTAL_DIST: string = join(import.meta.dirname, '..', 'dist');
