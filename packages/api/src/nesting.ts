/**
 * Nesting checks that no input can turn into deep recursion: both walk with an explicit stack, so
 * a 1,000,000-level array costs a loop, never the call stack.
 */

/** Deepest a JSON-RPC message may nest (a request with signed params needs 4). */
export const MAX_JSON_DEPTH = 32;

/**
 * The path of the first value nested more than `limit` levels below `value` (`path` names
 * `value` itself), or null when it is shallow enough. The path names the field, not the
 * spot: it stops before the first array index and after four keys, so a message about it stays
 * short (`params.hash`, not `params.hash[0][0][0]...`).
 */
export function tooDeep(value: unknown, limit: number, path: string): string | null {
  // Arrays are walked in place and labels made only for the failing path: a body of millions
  // of small items must not cost millions of strings here.
  interface Frame {
    array: unknown[] | null;
    object: Record<string, unknown> | null;
    keys: string[];
    next: number;
  }
  const open = (v: unknown): Frame | null => {
    if (v === null || typeof v !== 'object') return null;
    if (Array.isArray(v)) return { array: v, object: null, keys: [], next: 0 };
    const object = v as Record<string, unknown>;
    return { array: null, object, keys: Object.keys(object), next: 0 };
  };
  const root = open(value);
  if (!root) return null;
  const stack: Frame[] = [root];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const size = top.array ? top.array.length : top.keys.length;
    if (top.next >= size) {
      stack.pop();
      continue;
    }
    const i = top.next++;
    const child = open(top.array ? top.array[i] : top.object![top.keys[i]!]);
    if (!child) continue;
    if (stack.length > limit) {
      let named = path;
      for (const [n, f] of stack.entries()) {
        if (f.array || n === 4) break;
        named += `.${f.keys[f.next - 1]}`;
      }
      return named;
    }
    stack.push(child);
  }
  return null;
}

/**
 * A short JSON preview of any value (at most `max` characters), safe for values nested however
 * deep: JSON.stringify recurses and throws on deep input, this stops after a few levels.
 */
export function preview(value: unknown, max = 40): string {
  let out = '';
  const walk = (v: unknown, depth: number): void => {
    if (out.length > max) return;
    if (v === undefined) {
      out += 'undefined';
    } else if (v === null || typeof v !== 'object') {
      const t = JSON.stringify(v);
      out += t === undefined ? String(v) : t;
    } else if (depth >= 4 && Object.keys(v).length > 0) {
      out += Array.isArray(v) ? '[...]' : '{...}';
    } else if (Array.isArray(v)) {
      out += '[';
      for (let i = 0; i < v.length && out.length <= max; i++) {
        if (i > 0) out += ',';
        walk(v[i], depth + 1);
      }
      out += ']';
    } else {
      out += '{';
      let first = true;
      for (const [k, x] of Object.entries(v)) {
        if (out.length > max) break;
        out += `${first ? '' : ','}${JSON.stringify(k)}:`;
        first = false;
        walk(x, depth + 1);
      }
      out += '}';
    }
  };
  walk(value, 0);
  return out.length > max ? `${out.slice(0, max - 3)}...` : out;
}
