/** Shape checks for decoded values; each failure names the field and what was expected. */
import { EncodingError, type Value, type ValueMap } from './encoding.ts';

export function expectMap(v: Value | undefined, path: string): ValueMap {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    throw new EncodingError(`${path}: expected a map`, { path });
  }
  return v;
}

/** Exactly these keys, no more; optional ones may be absent. */
export function expectKeys(
  m: ValueMap,
  required: readonly string[],
  path: string,
  optional: readonly string[] = [],
): void {
  for (const k of required) {
    if (m[k] === undefined)
      throw new EncodingError(`${path}.${k}: missing`, { path: `${path}.${k}` });
  }
  for (const k of Object.keys(m)) {
    if (!required.includes(k) && !optional.includes(k)) {
      throw new EncodingError(`${path}.${k}: unknown field`, { path: `${path}.${k}` });
    }
  }
}

export function expectString(v: Value | undefined, path: string, min = 0, max = 1 << 20): string {
  if (typeof v !== 'string') throw new EncodingError(`${path}: expected a string`, { path });
  if (v.length < min || v.length > max) {
    throw new EncodingError(`${path}: length must be ${min}..${max}, got ${v.length}`, { path });
  }
  return v;
}

export function expectInteger(v: Value | undefined, path: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new EncodingError(`${path}: expected an integer >= ${min}`, { path });
  }
  return v;
}

export function expectBytes(v: Value | undefined, path: string, length?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new EncodingError(`${path}: expected bytes`, { path });
  if (length !== undefined && v.length !== length) {
    throw new EncodingError(`${path}: expected ${length} bytes, got ${v.length}`, { path });
  }
  return v;
}

export function expectArray(v: Value | undefined, path: string): Value[] {
  if (!Array.isArray(v)) throw new EncodingError(`${path}: expected an array`, { path });
  return v;
}

export function expectBoolean(v: Value | undefined, path: string): boolean {
  if (typeof v !== 'boolean') throw new EncodingError(`${path}: expected a boolean`, { path });
  return v;
}
