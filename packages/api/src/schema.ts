/**
 * A small JSON Schema subset for JSON-RPC params. The gateway validates params with it and
 * `rpc.discover` publishes the same objects in its OpenRPC document, so the two cannot drift.
 * Encoded bytes (hex, base64) are declared with `contentEncoding` and checked in one pass, never
 * with a regular expression: a body of several MiB would overflow a backtracking one.
 */
import { preview } from './nesting.ts';
import { base64Problem, isLowerHex } from '@ehr/core';

export type Schema =
  | {
      type: 'string';
      description?: string;
      pattern?: string;
      /** JSON Schema's name for the byte encoding: lowercase hex or standard padded base64. */
      contentEncoding?: 'base16' | 'base64';
      minLength?: number;
      maxLength?: number;
      enum?: string[];
    }
  | { type: 'integer'; description?: string; minimum?: number; maximum?: number }
  | { type: 'number'; description?: string; minimum?: number; maximum?: number }
  | { type: 'boolean'; description?: string }
  | { type: 'null'; description?: string }
  | { type: 'array'; description?: string; items: Schema; maxItems?: number }
  | {
      type: 'object';
      description?: string;
      properties: Record<string, Schema>;
      required?: string[];
      /** false: no other keys; a schema: every other key's value fits it; absent: anything. */
      additionalProperties?: false | Schema;
    }
  /** One of several shapes (results only: a value that may be null, a status of several kinds). */
  | { type?: undefined; anyOf: Schema[]; description?: string };

const HEX = (n: number) => `^[0-9a-f]{${n * 2}}$`;

export const s = {
  hex32: (description: string): Schema => ({ type: 'string', pattern: HEX(32), description }),
  hex: (description: string, maxLength?: number): Schema => ({
    type: 'string',
    contentEncoding: 'base16',
    ...(maxLength ? { maxLength } : {}),
    description,
  }),
  base64: (description: string, maxLength?: number): Schema => ({
    type: 'string',
    contentEncoding: 'base64',
    ...(maxLength ? { maxLength } : {}),
    description,
  }),
  slug: (description: string): Schema => ({
    type: 'string',
    pattern: '^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$',
    description,
  }),
  text: (description: string, maxLength = 500): Schema => ({
    type: 'string',
    minLength: 1,
    maxLength,
    description,
  }),
  int: (description: string, minimum: number, maximum: number): Schema => ({
    type: 'integer',
    minimum,
    maximum,
    description,
  }),
  oneOf: (description: string, values: string[]): Schema => ({
    type: 'string',
    enum: values,
    description,
  }),
  list: (description: string, items: Schema, maxItems: number): Schema => ({
    type: 'array',
    items,
    maxItems,
    description,
  }),
  object: (
    description: string,
    properties: Record<string, Schema>,
    required: string[] = [],
  ): Schema => ({ type: 'object', properties, required, additionalProperties: false, description }),
};

const describe = (sc: Schema): string => {
  switch (sc.type) {
    case undefined:
      return sc.anyOf.map(describe).join(' or ');
    case 'string':
      if (sc.enum) return `one of ${sc.enum.map((e) => JSON.stringify(e)).join(', ')}`;
      if (sc.pattern === HEX(32)) return '64 lowercase hex characters';
      if (sc.contentEncoding === 'base16') return 'lowercase hex (an even number of 0-9a-f)';
      if (sc.contentEncoding === 'base64')
        return 'standard base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4)';
      if (sc.pattern?.startsWith('^[a-z0-9]'))
        return 'a slug: 1-48 of a-z, 0-9 and "-", not starting or ending with "-"';
      return `a string${sc.minLength ? ` of ${sc.minLength}` : ''}${sc.maxLength ? `..${sc.maxLength}` : ''} characters`;
    case 'integer':
      return `an integer from ${sc.minimum ?? '-inf'} to ${sc.maximum ?? 'inf'}`;
    case 'number':
      return `a number from ${sc.minimum ?? '-inf'} to ${sc.maximum ?? 'inf'}`;
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'array':
      return `a list of at most ${sc.maxItems ?? 'any number of'} items`;
    case 'object':
      return 'an object';
  }
};

// A bounded preview: the value may be nested arbitrarily deep (JSON.stringify would throw).
const shown = (v: unknown): string => preview(v, 40);

/**
 * Returns null when `value` fits, otherwise "path: expected ..., got ..." for the first misfit.
 * It descends only where the schema does, so the schema (ours), never the value, bounds the
 * recursion depth.
 */
export function check(sc: Schema, value: unknown, path: string): string | null {
  const fail = (expected = describe(sc)) => `${path}: expected ${expected}, got ${shown(value)}`;
  switch (sc.type) {
    case undefined: {
      // The misfit of the closest alternative: the one whose complaint reaches deepest.
      let best: string | null = null;
      for (const alt of sc.anyOf) {
        const e = check(alt, value, path);
        if (e === null) return null;
        if (best === null || e.split(':')[0]!.length > best.split(':')[0]!.length) best = e;
      }
      return best !== null && best.split(':')[0] !== path ? best : fail();
    }
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail();
      if (sc.minimum !== undefined && value < sc.minimum) return fail();
      if (sc.maximum !== undefined && value > sc.maximum) return fail();
      return null;
    case 'null':
      return value === null ? null : fail();
    case 'string': {
      if (typeof value !== 'string') return fail();
      if (sc.enum && !sc.enum.includes(value)) return fail();
      // Length first: it is cheap and bounds the work of the checks below.
      if (sc.maxLength !== undefined && value.length > sc.maxLength)
        return fail(`at most ${sc.maxLength} characters (${describe(sc)}), got ${value.length}`);
      if (sc.minLength !== undefined && value.length < sc.minLength) return fail();
      if (sc.contentEncoding === 'base16' && !isLowerHex(value)) return fail();
      if (sc.contentEncoding === 'base64' && base64Problem(value) >= 0) return fail();
      if (sc.pattern && !new RegExp(sc.pattern).test(value)) return fail();
      return null;
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return fail();
      if (sc.minimum !== undefined && value < sc.minimum) return fail();
      if (sc.maximum !== undefined && value > sc.maximum) return fail();
      return null;
    case 'boolean':
      return typeof value === 'boolean' ? null : fail();
    case 'array': {
      if (!Array.isArray(value)) return fail();
      if (sc.maxItems !== undefined && value.length > sc.maxItems) return fail();
      for (const [i, item] of value.entries()) {
        const e = check(sc.items, item, `${path}[${i}]`);
        if (e) return e;
      }
      return null;
    }
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail();
      const o = value as Record<string, unknown>;
      for (const k of sc.required ?? []) {
        if (o[k] === undefined) return `${path}.${k}: required (${describe(sc.properties[k]!)})`;
      }
      for (const [k, v] of Object.entries(o)) {
        // Own keys only: "constructor" or "__proto__" must not find Object.prototype's.
        const field = Object.hasOwn(sc.properties, k) ? sc.properties[k] : sc.additionalProperties;
        if (!field) {
          if (sc.additionalProperties === false)
            return `${path}.${k}: unknown field; expected one of ${Object.keys(sc.properties).join(', ') || '(none)'}`;
          continue;
        }
        if (v === undefined) continue;
        const e = check(field, v, `${path}.${k}`);
        if (e) return e;
      }
      return null;
    }
  }
}
