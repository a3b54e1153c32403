/**
 * Pages: every list answers `{ items, cursor? }` for a bounded `limit` and an opaque `cursor`
 * (the place the previous page stopped). A list is one or more phases, each a range scan of one
 * index in a stable key order; the cursor names the list, the phase and the last key scanned, so
 * the next page is a range scan starting right after it: no page costs more than its own keys,
 * however long the chain. Writes appended to the chain land after the cursor (chronological
 * indexes) or in their key's place, so paging on while the chain grows lists nothing twice.
 *
 * A page scans at most `scanBudget(limit)` index entries: a filtered list (what a doctor may
 * open, proposals by status) may return fewer items than `limit`, even none, with a cursor to go
 * on. The list ends when a page has no cursor.
 *
 * Cursors are not secrets and need none: a cursor only moves the start of a scan inside the
 * caller's own prefix, and every item still passes the same checks (access rules included). A
 * cursor that does not decode, names another list, or points outside the list's prefix is refused
 * with INVALID_CURSOR; a limit outside 1..MAX_PAGE with INVALID_LIMIT.
 */
import { EhrError, fromBase64, fromUtf8, toBase64, utf8 } from '@ehr/core';

export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;
/** Longest cursor accepted (the gateway schema says the same). */
export const MAX_CURSOR_CHARS = 1024;

export type PageOpts = { limit?: number; cursor?: string };
export type Page<T> = { items: T[]; cursor?: string };

/** The limit of a page: DEFAULT_PAGE when absent, else an integer in 1..MAX_PAGE. */
export function pageLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new EhrError(
      'INVALID_LIMIT',
      `limit must be an integer from 1 to ${MAX_PAGE}, got ${String(limit).slice(0, 40)}; page through longer lists with the cursor each page returns`,
      { limit: String(limit).slice(0, 40), max: MAX_PAGE },
    );
  }
  return limit;
}

/** Index entries one page may scan. */
export const scanBudget = (limit: number): number => limit * 4 + 64;

const CURSOR_VERSION = 1;

export function encodeCursor(list: string, phase: number, keys: string[]): string {
  const json = JSON.stringify([CURSOR_VERSION, list, phase, ...keys]);
  return toBase64(utf8(json)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function badCursor(list: string, why: string): EhrError {
  return new EhrError(
    'INVALID_CURSOR',
    `cursor is not one this node gave for ${list}: ${why}; pass the cursor of the previous page unchanged, or none to start from the beginning`,
    { list },
  );
}

/** A decoded cursor: the phase and the keys it stopped at. */
export type At = { phase: number; keys: string[] };

/**
 * Decodes a cursor of `list` (undefined: the first page). Checks its form only; each phase checks
 * that the keys lie inside its own prefix (`within`).
 */
export function decodeCursor(list: string, cursor: unknown, phases: number): At | undefined {
  if (cursor === undefined) return undefined;
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_CHARS) {
    throw badCursor(list, `expected a string of 1..${MAX_CURSOR_CHARS} characters`);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw badCursor(list, 'it is not base64url');
  let parsed: unknown;
  try {
    const b64 = cursor.replace(/-/g, '+').replace(/_/g, '/');
    parsed = JSON.parse(fromUtf8(fromBase64(b64 + '='.repeat((4 - (b64.length % 4)) % 4))));
  } catch {
    throw badCursor(list, 'it does not decode');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length < 4 ||
    parsed.length > 8 ||
    parsed[0] !== CURSOR_VERSION ||
    !parsed.slice(3).every((k) => typeof k === 'string' && k.length <= 512)
  ) {
    throw badCursor(list, 'it does not have the form of a cursor');
  }
  if (parsed[1] !== list) throw badCursor(list, `it belongs to ${String(parsed[1]).slice(0, 40)}`);
  const phase = parsed[2];
  if (typeof phase !== 'number' || !Number.isInteger(phase) || phase < 0 || phase >= phases) {
    throw badCursor(list, 'its phase is out of range');
  }
  return { phase, keys: parsed.slice(3) as string[] };
}

/** Throws INVALID_CURSOR unless `key` lies under `prefix` (a cursor steering a scan elsewhere). */
export function within(list: string, key: string | undefined, prefix: string): string {
  if (key === undefined || !key.startsWith(prefix) || key.length === prefix.length) {
    throw badCursor(list, 'it points outside this list');
  }
  return key;
}

/** One position a phase scanned: where (cursor keys) and, if it qualifies, the item. */
export type Step<T> = { at: string[]; item?: T };
/** A phase: scans from the start, or strictly after `after` (keys it gave earlier). */
export type Phase<T> = (after: string[] | undefined) => AsyncIterable<Step<T>>;

/**
 * One page of a list made of `phases`, from `opts.cursor`: items in phase order, then scan order.
 */
export async function page<T>(list: string, phases: Phase<T>[], opts: PageOpts): Promise<Page<T>> {
  const limit = pageLimit(opts.limit);
  const start = decodeCursor(list, opts.cursor, phases.length);
  const budget = scanBudget(limit);
  const items: T[] = [];
  let scanned = 0;
  for (let p = start?.phase ?? 0; p < phases.length; p++) {
    const it = phases[p]!(p === start?.phase ? start.keys : undefined)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const n = await it.next();
        if (n.done) break;
        scanned++;
        if (n.value.item !== undefined) items.push(n.value.item);
        if (items.length >= limit || scanned >= budget) {
          const cursor = encodeCursor(list, p, n.value.at);
          // The last phase is over: nothing follows.
          if (p === phases.length - 1 && (await it.next()).done) return { items };
          return { items, cursor };
        }
      }
    } finally {
      await it.return?.();
    }
  }
  return { items };
}

/** Every item of a paged list (tools and tests; a gateway serves pages). */
export async function all<T>(fetch: (o: PageOpts) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const pg = await fetch({ limit: MAX_PAGE, ...(cursor ? { cursor } : {}) });
    out.push(...pg.items);
    cursor = pg.cursor;
  } while (cursor !== undefined);
  return out;
}
