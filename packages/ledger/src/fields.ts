/**
 * Field checks for transaction payloads. Each failure is a MALFORMED rejection naming the field
 * (`payload.hospitalKeys.city-general`) and what it should be, so a client can fix its request.
 */
import { toHex, type Value, type ValueMap } from '@ehr/core';
import { RejectCode, reject } from './codes.ts';

/** Hospital ids and specializations: lowercase slugs, safe inside state keys. */
export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/;
/** Record, prescription, proposal and audit ids: transaction hashes as 64 lowercase hex. */
export const HEX_ID = /^[0-9a-f]{64}$/;

function malformed(path: string, expected: string): never {
  return reject(RejectCode.MALFORMED, `${path}: expected ${expected}`, { path });
}

export function map(v: Value | undefined, path: string): ValueMap {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    malformed(path, 'a map');
  }
  return v;
}

export function fields(
  m: ValueMap,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): void {
  for (const k of required) if (m[k] === undefined) malformed(`${path}.${k}`, 'a value (missing)');
  for (const k of Object.keys(m)) {
    if (m[k] !== undefined && !required.includes(k) && !optional.includes(k)) {
      reject(
        RejectCode.MALFORMED,
        `${path}.${k}: unknown field (allowed: ${[...required, ...optional].join(', ')})`,
        { path: `${path}.${k}` },
      );
    }
  }
}

export function text(v: Value | undefined, path: string, min: number, max: number): string {
  if (typeof v !== 'string' || v.length < min || v.length > max) {
    malformed(path, `text of ${min}..${max} characters`);
  }
  return v;
}

export function slug(v: Value | undefined, path: string): string {
  if (typeof v !== 'string' || !SLUG.test(v)) {
    malformed(path, 'a slug: 1-48 of a-z, 0-9 and "-", not starting or ending with "-"');
  }
  return v;
}

export function hexId(v: Value | undefined, path: string): string {
  if (typeof v !== 'string' || !HEX_ID.test(v))
    malformed(path, 'an id: 64 lowercase hex characters');
  return v;
}

export function int(v: Value | undefined, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    malformed(path, `an integer from ${min} to ${max}`);
  }
  return v;
}

export function bytes(v: Value | undefined, path: string, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length < min || v.length > max) {
    malformed(path, min === max ? `${min} bytes` : `${min}..${max} bytes`);
  }
  return v;
}

/** A 32-byte public key, returned as lowercase hex (the form used in state). */
export function publicKey(v: Value | undefined, path: string): string {
  return toHex(bytes(v, path, 32, 32));
}

export function oneOf<T extends string>(
  v: Value | undefined,
  path: string,
  options: readonly T[],
): T {
  if (typeof v !== 'string' || !options.includes(v as T)) {
    malformed(path, `one of ${options.map((o) => `"${o}"`).join(', ')}`);
  }
  return v as T;
}

export function list<T>(
  v: Value | undefined,
  path: string,
  min: number,
  max: number,
  item: (x: Value | undefined, p: string) => T,
  unique = true,
): T[] {
  if (!Array.isArray(v) || v.length < min || v.length > max) {
    malformed(path, `a list of ${min}..${max} items`);
  }
  const out = v.map((x, i) => item(x, `${path}[${i}]`));
  if (unique) {
    const seen = new Set<unknown>();
    out.forEach((x, i) => {
      const k = x instanceof Uint8Array ? toHex(x) : x;
      if (seen.has(k)) malformed(`${path}[${i}]`, 'an item not already listed');
      seen.add(k);
    });
  }
  return out;
}

/** A map from ids (checked by `key`) to values (checked by `item`), at most `max` entries. */
export function dict<T>(
  v: Value | undefined,
  path: string,
  max: number,
  key: (k: string, p: string) => string,
  item: (x: Value | undefined, p: string) => T,
): Map<string, T> {
  const m = map(v, path);
  const entries = Object.keys(m).filter((k) => m[k] !== undefined);
  if (entries.length > max) malformed(path, `at most ${max} entries`);
  const out = new Map<string, T>();
  for (const k of entries) out.set(key(k, `${path}.${k}`), item(m[k], `${path}.${k}`));
  return out;
}

export const slugKey = (k: string, p: string): string => slug(k, p);
export const hexIdKey = (k: string, p: string): string => hexId(k, p);
