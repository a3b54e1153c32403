/** Human output: aligned tables, short keys, readable times. `--json` bypasses all of this. */

export type Cell = string | number | boolean | null | undefined;

/** An aligned text table; an empty list says so instead of printing a lone header. */
export function table(headers: string[], rows: Cell[][], empty = '(none)'): string {
  if (rows.length === 0) return empty;
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n');
}

/** Key/value lines: `label   value`. */
export function fields(pairs: [string, Cell][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs
    .map(([k, v]) => `${k.padEnd(w)}  ${v === null || v === undefined ? '-' : String(v)}`)
    .join('\n');
}

export const short = (hex: string | null | undefined, n = 12): string =>
  !hex ? '-' : hex.length > n ? `${hex.slice(0, n)}…` : hex;

/** UTC, to the second: `2026-01-02 13:04:05`. */
export const when = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
