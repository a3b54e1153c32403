/**
 * The JSON Schema subset our RPC schemas use, and builders for it. The gateway validates params
 * with them (schema.ts, through ajv) and `rpc.discover` publishes the same objects in its OpenRPC
 * document, so the two cannot drift. Encoded bytes (hex, base64) are declared with
 * `contentEncoding` and checked in one pass, never with a regular expression: a body of several
 * MiB would overflow a backtracking one. No validator here: this file is browser-safe.
 */

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

export const HEX = (n: number) => `^[0-9a-f]{${n * 2}}$`;

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
