/**
 * Canonical encoding: a strict subset of deterministic CBOR (RFC 8949 section 4.2.1).
 * Every value has exactly one encoding, and the decoder rejects anything else, so one logical
 * transaction can never have two hashes. The format is specified in packages/core/README.md.
 */
import { compareBytes, fromUtf8, utf8 } from './bytes.ts';
import { EhrError } from './errors.ts';

export type Value = null | boolean | number | string | Uint8Array | Value[] | ValueMap;
export interface ValueMap {
  [key: string]: Value | undefined;
}

export const MAX_DEPTH = 32;

const MAJOR_UINT = 0;
const MAJOR_NEGINT = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const FALSE = 0xf4;
const TRUE = 0xf5;
const NULL = 0xf6;

export class EncodingError extends EhrError<{ offset?: number; path?: string }> {
  constructor(message: string, data: { offset?: number; path?: string } = {}) {
    super('ENCODING_INVALID', message, data);
    this.name = 'EncodingError';
  }
}

class Writer {
  buf = new Uint8Array(256);
  len = 0;
  private view = new DataView(this.buf.buffer);

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A text string: short ASCII is written byte by byte (no TextEncoder round trip). */
  text(s: string): void {
    const n = s.length;
    if (n <= ASCII_FAST_MAX) {
      let ascii = true;
      for (let i = 0; i < n; i++) {
        if (s.charCodeAt(i) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        this.head(MAJOR_TEXT, n);
        this.reserve(n);
        const buf = this.buf;
        let at = this.len;
        for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
        this.len = at;
        return;
      }
    }
    const b = utf8(s);
    this.head(MAJOR_TEXT, b.length);
    this.bytes(b);
  }

  head(major: number, n: number): void {
    const m = major << 5;
    if (n < 24) this.byte(m | n);
    else if (n < 0x100) {
      this.byte(m | 24);
      this.byte(n);
    } else if (n < 0x10000) {
      this.reserve(3);
      this.buf[this.len++] = m | 25;
      this.view.setUint16(this.len, n);
      this.len += 2;
    } else if (n < 0x100000000) {
      this.reserve(5);
      this.buf[this.len++] = m | 26;
      this.view.setUint32(this.len, n);
      this.len += 4;
    } else {
      this.reserve(9);
      this.buf[this.len++] = m | 27;
      this.view.setBigUint64(this.len, BigInt(n));
      this.len += 8;
    }
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Strings up to this length take the ASCII fast paths (longer ones go through TextEncoder). */
const ASCII_FAST_MAX = 64;

/** Encoded map keys (head and UTF-8), by key: the same few field names recur in every value. */
const keyCache = new Map<string, Uint8Array>();
const KEY_CACHE_LIMIT = 4096;

function encodedKey(key: string): Uint8Array {
  let kb = keyCache.get(key);
  if (!kb) {
    const kw = new Writer();
    kw.text(key);
    kb = kw.result();
    if (keyCache.size < KEY_CACHE_LIMIT) keyCache.set(key, kb);
  }
  return kb;
}

/** An encoding failure deep in a value: the path is assembled on the way out, never before. */
class PathError extends Error {
  readonly reason: string;
  /** Innermost first. */
  readonly segments: string[] = [];
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

function writeValue(w: Writer, v: Value, depth: number): void {
  if (depth > MAX_DEPTH) throw new PathError(`nesting deeper than ${MAX_DEPTH}`);
  if (v === null) return w.byte(NULL);
  if (v === true) return w.byte(TRUE);
  if (v === false) return w.byte(FALSE);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) {
      throw new PathError(`only safe integers are encodable, got ${v}`);
    }
    if (Object.is(v, -0)) return w.head(MAJOR_UINT, 0);
    return v >= 0 ? w.head(MAJOR_UINT, v) : w.head(MAJOR_NEGINT, -1 - v);
  }
  if (typeof v === 'string') return w.text(v);
  if (v instanceof Uint8Array) {
    w.head(MAJOR_BYTES, v.length);
    return w.bytes(v);
  }
  if (Array.isArray(v)) {
    w.head(MAJOR_ARRAY, v.length);
    for (let i = 0; i < v.length; i++) {
      try {
        writeValue(w, v[i] as Value, depth + 1);
      } catch (err) {
        if (err instanceof PathError) err.segments.push(`[${i}]`);
        throw err;
      }
    }
    return;
  }
  const proto = typeof v === 'object' ? Object.getPrototypeOf(v) : undefined;
  if (proto === Object.prototype || proto === null) {
    // Keys sort by their encoded bytes; absent and undefined are the same thing.
    const entries: [Uint8Array, string, Value][] = [];
    for (const key of Object.keys(v)) {
      const item = v[key];
      if (item === undefined) continue;
      entries.push([encodedKey(key), key, item]);
    }
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    w.head(MAJOR_MAP, entries.length);
    for (const [kb, key, item] of entries) {
      w.bytes(kb);
      try {
        writeValue(w, item, depth + 1);
      } catch (err) {
        if (err instanceof PathError) err.segments.push(`.${key}`);
        throw err;
      }
    }
    return;
  }
  throw new PathError(`value of type ${typeof v} is not encodable`);
}

export function encode(value: Value): Uint8Array {
  const w = new Writer();
  try {
    writeValue(w, value, 0);
  } catch (err) {
    if (!(err instanceof PathError)) throw err;
    const path = `$${err.segments.reverse().join('')}`;
    throw new EncodingError(err.reason, { path });
  }
  return w.result();
}

const KEY_INTERN_MAX = 24;
const KEY_INTERN_SLOTS = 509;
const internBytes: (Uint8Array | undefined)[] = new Array(KEY_INTERN_SLOTS).fill(undefined);
const internText: (string | undefined)[] = new Array(KEY_INTERN_SLOTS).fill(undefined);

class Reader {
  pos = 0;
  private readonly view: DataView;
  readonly buf: Uint8Array;
  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** UTF-8 text of `n` bytes at `at` (short ASCII without TextDecoder); undefined if invalid. */
  text(at: number, n: number): string | undefined {
    const buf = this.buf;
    if (n <= ASCII_FAST_MAX) {
      let ascii = true;
      for (let i = at, end = at + n; i < end; i++) {
        if (buf[i]! > 0x7f) {
          ascii = false;
          break;
        }
      }
      // One call builds the string (field names, hex ids): no intermediate string per character.
      if (ascii) return String.fromCharCode.apply(null, buf.subarray(at, at + n) as never);
    }
    try {
      return fromUtf8(buf.subarray(at, at + n));
    } catch {
      return undefined;
    }
  }

  /**
   * A map key: field names repeat in every record, so short ones come from a direct-mapped table
   * (compared byte for byte) instead of building the same string again.
   */
  keyText(at: number, n: number): string | undefined {
    const buf = this.buf;
    let h = n;
    for (let i = at, end = at + n; i < end; i++) h = (Math.imul(h, 31) + buf[i]!) | 0;
    const slot = (h >>> 0) % KEY_INTERN_SLOTS;
    const hit = internBytes[slot];
    if (hit !== undefined && hit.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (hit[i] !== buf[at + i]) {
          same = false;
          break;
        }
      }
      if (same) return internText[slot];
    }
    const text = this.text(at, n);
    if (text !== undefined) {
      internBytes[slot] = buf.slice(at, at + n);
      internText[slot] = text;
    }
    return text;
  }

  fail(message: string): never {
    throw new EncodingError(`${message} at offset ${this.pos}`, { offset: this.pos });
  }

  need(n: number): void {
    if (this.pos + n > this.buf.length) this.fail('unexpected end of input');
  }

  /** The major type of the head `head()` read last (kept in a field: no tuple per value). */
  major = 0;

  /**
   * Reads a head: sets `major` and returns its argument (for major 7, the initial byte); rejects
   * non-minimal and indefinite forms.
   */
  head(): number {
    this.need(1);
    const ib = this.buf[this.pos++]!;
    const major = ib >> 5;
    const info = ib & 0x1f;
    this.major = major;
    if (major === 7) return ib;
    if (info < 24) return info;
    let n: number;
    if (info === 24) {
      this.need(1);
      n = this.buf[this.pos]!;
      this.pos += 1;
      if (n < 24) this.fail('non-minimal integer head');
    } else if (info === 25) {
      this.need(2);
      n = this.view.getUint16(this.pos);
      this.pos += 2;
      if (n < 0x100) this.fail('non-minimal integer head');
    } else if (info === 26) {
      this.need(4);
      n = this.view.getUint32(this.pos);
      this.pos += 4;
      if (n < 0x10000) this.fail('non-minimal integer head');
    } else if (info === 27) {
      this.need(8);
      const big = this.view.getBigUint64(this.pos);
      this.pos += 8;
      if (big < 0x100000000n) this.fail('non-minimal integer head');
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('integer beyond 2^53-1');
      n = Number(big);
    } else {
      return this.fail(
        `unsupported additional info ${info} (indefinite lengths are not canonical)`,
      );
    }
    return n;
  }

  value(depth: number): Value {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    const start = this.pos;
    const n = this.head();
    switch (this.major) {
      case MAJOR_UINT:
        return n;
      case MAJOR_NEGINT:
        if (n >= Number.MAX_SAFE_INTEGER) this.fail('negative integer beyond -(2^53-1)');
        return -1 - n;
      case MAJOR_BYTES: {
        this.need(n);
        // A copy into a plain Uint8Array: Buffer#slice would alias (possibly pooled) memory.
        const b = new Uint8Array(this.buf.subarray(this.pos, this.pos + n));
        this.pos += n;
        return b;
      }
      case MAJOR_TEXT: {
        this.need(n);
        const text = this.text(this.pos, n);
        if (text === undefined) {
          this.pos = start;
          return this.fail('invalid UTF-8 in text string');
        }
        this.pos += n;
        return text;
      }
      case MAJOR_ARRAY: {
        // Each element takes at least one byte: a cheap bound against huge declared lengths.
        if (n > this.buf.length - this.pos) this.fail('array length exceeds input');
        const out: Value[] = [];
        for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
        return out;
      }
      case MAJOR_MAP: {
        if (n * 2 > this.buf.length - this.pos) this.fail('map length exceeds input');
        const out: ValueMap = {};
        let prev: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const keyStart = this.pos;
          const kn = this.head();
          // A fresh read: `this.major` is narrowed to the map's by the switch above.
          const km: number = this.major;
          if (km !== MAJOR_TEXT) {
            this.pos = keyStart;
            this.fail('map keys must be text strings');
          }
          this.need(kn);
          const keyEnc = this.buf.subarray(keyStart, this.pos + kn);
          const key = kn <= KEY_INTERN_MAX ? this.keyText(this.pos, kn) : this.text(this.pos, kn);
          if (key === undefined) return this.fail('invalid UTF-8 in map key');
          this.pos += kn;
          if (prev && compareBytes(prev, keyEnc) >= 0) {
            this.pos = keyStart;
            this.fail('map keys out of canonical order or duplicated');
          }
          prev = keyEnc;
          // defineProperty keeps a key named __proto__ an ordinary own property.
          if (key === '__proto__') {
            Object.defineProperty(out, key, {
              value: this.value(depth + 1),
              enumerable: true,
              writable: true,
              configurable: true,
            });
          } else out[key] = this.value(depth + 1);
        }
        return out;
      }
      case 7:
        if (n === FALSE) return false;
        if (n === TRUE) return true;
        if (n === NULL) return null;
        this.pos = start;
        return this.fail(`unsupported simple value or float 0x${n.toString(16)}`);
      default:
        this.pos = start;
        return this.fail('tags are not supported');
    }
  }
}

export function decode(bytes: Uint8Array): Value {
  const r = new Reader(bytes);
  const v = r.value(0);
  if (r.pos !== bytes.length) r.fail('trailing bytes after value');
  return v;
}
