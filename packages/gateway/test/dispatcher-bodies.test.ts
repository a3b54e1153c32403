/**
 * Documents at and past the genesis maximum through the whole request path (JSON text, depth
 * check, ajv params check, handler): an 8 MiB body as hex (16 M characters) and a 12 M character
 * base64 body reach the handler; one damaged in its last character is refused naming the field.
 */
import { toBase64, toHex } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/dispatcher.ts';

const d = new Dispatcher();
d.register('tx_submit', async (params) => {
  const p = params as Record<string, string[] | undefined>;
  return {
    payloads: (p['payloads'] ?? []).map((x) => x.length),
    bodies: (p['bodies'] ?? []).map((x) => x.length),
  };
});
const call = async (params: Record<string, unknown>) =>
  JSON.parse(
    (await d.receive(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tx_submit', params }))) ??
      'null',
  );

describe('tx_submit with document-sized bodies', () => {
  const doc = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 131 + 7) & 255);
  const hex = toHex(doc);
  const b64 = toBase64(new Uint8Array(9 * 1024 * 1024).map((_, i) => i & 255));

  it('reaches the handler with an 8 MiB hex body and a 12 M character base64 body', async () => {
    expect(hex.length).toBe(16 * 1024 * 1024);
    expect(b64.length).toBe(12 * 1024 * 1024);
    const t0 = performance.now();
    const r = await call({ tx: '00', payloads: [hex], bodies: [b64] });
    expect(r.result).toEqual({ payloads: [hex.length], bodies: [b64.length] });
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it('refuses one damaged in its last character, naming the field, in linear time', async () => {
    const bad = await call({ tx: '00', bodies: [`${b64.slice(0, -1)}*`] });
    expect(bad.error.code).toBe(-32602);
    expect(bad.error.message).toMatch(
      /^Invalid params: params\.bodies\[0\]: expected standard base64/,
    );
    expect(bad.error.message.length).toBeLessThan(300);
    const odd = await call({ tx: '00', payloads: [`${hex}0`] });
    expect(odd.error.message).toMatch(
      /^Invalid params: params\.payloads\[0\]: expected lowercase hex/,
    );
  });
});
