/**
 * Validation of params and results against the schemas the catalogue publishes, through ajv
 * (compiled once per schema object, cached). Node only: ajv compiles to code with `new Function`,
 * which the portal's Content-Security-Policy forbids, so the browser entry (browser.ts) leaves
 * this module out and the gateway validates server-side.
 *
 * Hostile values stay cheap: ajv's code walks the schema (ours), never the value, so nesting
 * cannot recurse (the dispatcher also bounds depth first); lengths are checked before the
 * encoding; hex and base64 are checked by one linear pass (a custom `contentEncoding` keyword),
 * never by a regular expression.
 */
import { base64Problem, isLowerHex } from '@ehr/core';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { preview } from './nesting.ts';
import { HEX, type Schema } from './schema-shape.ts';

export * from './schema-shape.ts';

const ajv = new Ajv({
  strict: true,
  allErrors: false,
  verbose: true, // errors carry the failing subschema and value: the message describes both
  ownProperties: true, // "constructor" or "__proto__" must not find Object.prototype's
  code: { optimize: 1 },
});
ajv.removeKeyword('contentEncoding');
ajv.addKeyword({
  keyword: 'contentEncoding',
  type: 'string',
  schemaType: 'string',
  validate: (encoding: string, data: string) =>
    encoding === 'base16'
      ? isLowerHex(data)
      : encoding === 'base64'
        ? base64Problem(data) < 0
        : false,
  metaSchema: { enum: ['base16', 'base64'] },
});

const compiled = new WeakMap<object, ValidateFunction>();

/** The compiled validator of a schema (compiled on first use, then cached by identity). */
export function validatorOf(sc: Schema | Record<string, never>): ValidateFunction {
  let v = compiled.get(sc);
  if (!v) {
    v = ajv.compile(sc);
    compiled.set(sc, v);
  }
  return v;
}

/** What a value fitting `sc` looks like, in words (for error messages). */
export function describeSchema(sc: Schema): string {
  switch (sc.type) {
    case undefined:
      return sc.anyOf.map(describeSchema).join(' or ');
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
}

// A bounded preview: the value may be nested arbitrarily deep (JSON.stringify would throw).
const shown = (v: unknown): string => preview(v, 40);

/** `path` plus ajv's JSON pointer, in our notation: `params.payloads[1]`, `result.auth.node`. */
function named(path: string, value: unknown, pointer: string): string {
  if (pointer === '') return path;
  let out = path;
  let at = value;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += Array.isArray(at) ? `[${key}]` : `.${key}`;
    at = at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined;
  }
  return out;
}

interface Misfit {
  where: string;
  message: string;
}

function misfit(e: ErrorObject, value: unknown, path: string): Misfit {
  const where = named(path, value, e.instancePath);
  const sc = e.parentSchema as Schema;
  const fail = (expected = describeSchema(sc)) =>
    `${where}: expected ${expected}, got ${shown(e.data)}`;
  switch (e.keyword) {
    case 'required': {
      const k = (e.params as { missingProperty: string }).missingProperty;
      const field = sc.type === 'object' ? sc.properties[k] : undefined;
      return {
        where: `${where}.${k}`,
        message: `${where}.${k}: required${field ? ` (${describeSchema(field)})` : ''}`,
      };
    }
    case 'additionalProperties': {
      const k = (e.params as { additionalProperty: string }).additionalProperty;
      const known = sc.type === 'object' ? Object.keys(sc.properties).join(', ') : '';
      return {
        where: `${where}.${k}`,
        message: `${where}.${k}: unknown field; expected one of ${known || '(none)'}`,
      };
    }
    case 'maxLength':
      // The length, not a preview: the value may be megabytes.
      return {
        where,
        message: `${where}: expected at most ${e.schema as number} characters (${describeSchema(sc)}), got ${(e.data as string).length}`,
      };
    default:
      return { where, message: fail() };
  }
}

/**
 * Returns null when `value` fits `sc`, otherwise "path: expected ..., got ..." for the first
 * misfit (`path` names `value` itself). Where one of several shapes (anyOf) was expected, it
 * names the misfit of the closest alternative: the one whose complaint reaches deepest.
 */
export function check(sc: Schema, value: unknown, path: string): string | null {
  const validate = validatorOf(sc);
  if (validate(value)) return null;
  const errors = validate.errors ?? [];
  const last = errors[errors.length - 1];
  if (!last) return `${path}: expected ${describeSchema(sc)}, got ${shown(value)}`;
  const final = misfit(last, value, path);
  if (last.keyword !== 'anyOf') return final.message;
  let best: Misfit | null = null;
  for (const e of errors.slice(0, -1)) {
    if (e.keyword === 'anyOf') continue;
    const m = misfit(e, value, path);
    if (best === null || m.where.length > best.where.length) best = m;
  }
  return best !== null && best.where.length > final.where.length ? best.message : final.message;
}
