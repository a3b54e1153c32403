/** Small byte helpers used across packages. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Node's Buffer when present (fast native encoders); the browser takes the loops below. */
const NodeBuffer = (
  globalThis as {
    Buffer?: {
      from(b: ArrayBufferLike, offset: number, length: number): { toString(enc: string): string };
      from(s: string, enc: string): Uint8Array;
    };
  }
).Buffer;

export function toHex(bytes: Uint8Array): string {
  if (NodeBuffer && bytes.length > 1024)
    return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
  let out = '';
  for (const b of bytes) out += HEX[b];
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) {
    throw new TypeError(`not a hex string: ${hex.length > 24 ? `${hex.slice(0, 24)}...` : hex}`);
  }
  if (NodeBuffer && hex.length > 2048) return new Uint8Array(NodeBuffer.from(hex, 'hex'));
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Lexicographic byte order; shorter prefix sorts first. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const utf8 = (s: string): Uint8Array => encoder.encode(s);
/** Decodes UTF-8, throwing on invalid sequences rather than substituting U+FFFD. */
export const fromUtf8 = (b: Uint8Array): string => strictDecoder.decode(b);

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** Standard base64 (RFC 4648 section 4), padded. */
export function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer)
    return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
  const parts: string[] = [];
  let chunk = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    chunk += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
    if (chunk.length >= 65_536) {
      parts.push(chunk);
      chunk = '';
    }
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    chunk += `${B64[n >> 18]}${B64[(n >> 12) & 63]}==`;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    chunk += `${B64[n >> 18]}${B64[(n >> 12) & 63]}${B64[(n >> 6) & 63]}=`;
  }
  parts.push(chunk);
  return parts.join('');
}

/**
 * Where `text` stops being strict standard base64 (padded, no whitespace), or -1 when it is
 * valid. One pass, no regular expression: safe on strings of any length.
 */
export function base64Problem(text: string): number {
  if (text.length % 4 !== 0) return text.length;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  for (let i = 0; i < text.length - pad; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || B64_INDEX[c]! < 0) return i;
  }
  return -1;
}

/** Decodes strict standard base64; throws a TypeError naming the first bad offset. */
export function fromBase64(text: string): Uint8Array {
  const bad = base64Problem(text);
  if (bad >= 0) throw new TypeError(`not base64: bad character or length at offset ${bad}`);
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(text, 'base64'));
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const a = B64_INDEX[text.charCodeAt(i)]!;
    const b = B64_INDEX[text.charCodeAt(i + 1)]!;
    const c = text[i + 2] === '=' ? 0 : B64_INDEX[text.charCodeAt(i + 2)]!;
    const d = text[i + 3] === '=' ? 0 : B64_INDEX[text.charCodeAt(i + 3)]!;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    if (o < out.length) out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/** True when `text` is lowercase hex of whole bytes (one pass, no regular expression). */
export function isLowerHex(text: string): boolean {
  if (text.length % 2 !== 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
