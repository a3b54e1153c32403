import { check, METHODS, paramsSchema, tooDeep } from '@ehr/api';
import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/dispatcher.ts';

describe('dispatcher', () => {
  const d = new Dispatcher({ maxBatch: 3 });
  d.register('chain_getTx', async (p) => ({ echo: p }));
  d.register('status', async () => 'up');
  const rx = async (x: unknown) => JSON.parse((await d.receive(JSON.stringify(x))) ?? 'null');

  it('validates params against the catalogue before the handler runs', async () => {
    const r = await rx({ jsonrpc: '2.0', id: 1, method: 'chain_getTx', params: { hash: 1 } });
    expect(r.error).toMatchObject({
      code: -32602,
      message: 'Invalid params: params.hash: expected 64 lowercase hex characters, got 1',
    });
    const ok = await rx({
      jsonrpc: '2.0',
      id: 2,
      method: 'chain_getTx',
      params: { hash: 'a'.repeat(64) },
    });
    expect(ok.result).toEqual({ echo: { hash: 'a'.repeat(64) } });
  });

  it('echoes ids, answers batches in order and stays silent for notifications', async () => {
    expect(
      await rx([
        { jsonrpc: '2.0', id: 'x', method: 'status' },
        { jsonrpc: '2.0', method: 'status' },
      ]),
    ).toEqual([{ jsonrpc: '2.0', id: 'x', result: 'up' }]);
    expect(await d.receive(JSON.stringify({ jsonrpc: '2.0', method: 'status' }))).toBeNull();
    const big = await rx(
      Array.from({ length: 4 }, () => ({ jsonrpc: '2.0', id: 1, method: 'status' })),
    );
    expect(big.error.code).toBe(-32600);
  });
});

describe('deeply nested input', () => {
  const d = new Dispatcher();
  for (const m of ['chain_getTx', 'tx_submit', 'hospital_list', 'record_get'])
    d.register(m, async () => 'handled');
  // Text built by hand: JSON.stringify itself overflows the stack on values this deep.
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const rx = async (method: string, params: string) =>
    JSON.parse(
      (await d.receive(`{"jsonrpc":"2.0","id":7,"method":"${method}","params":${params}}`)) ??
        'null',
    );

  it.each([
    ['chain_getTx', `{"hash":${deep(10_000)}}`, 'params.hash'],
    ['tx_submit', `{"tx":"00","payloads":${deep(10_000)}}`, 'params.payloads'],
    ['tx_submit', `{"tx":${deep(10_000)}}`, 'params.tx'],
    ['hospital_list', `{"limit":${deep(10_000)}}`, 'params.limit'],
    ['hospital_list', deep(1_000_000), 'params'],
    ['record_get', `{"id":"00","auth":{"reader":${deep(50_000)}}}`, 'params.auth.reader'],
  ])('%s with %#: -32602 naming the field', async (method, params, field) => {
    const r = await rx(method, params);
    expect(r.id).toBe(7);
    expect(r.error.code).toBe(-32602);
    expect(r.error.message).toBe(`Invalid params: ${field}: nested more than 32 levels deep`);
  });

  it('still checks shallow params against the schema and names the field', async () => {
    const r = await rx('chain_getTx', `{"hash":${deep(5)}}`);
    expect(r.error.message).toBe(
      'Invalid params: params.hash: expected 64 lowercase hex characters, got [[[[[]]]]]',
    );
  });

  it('the schema check and its message survive any depth (no JSON.stringify recursion)', () => {
    let v: unknown = 'x';
    for (let i = 0; i < 100_000; i++) v = [v];
    const s = paramsSchema(METHODS.find((m) => m.name === 'chain_getTx')!);
    expect(check(s, { hash: v }, 'params')).toBe(
      'params.hash: expected 64 lowercase hex characters, got [[[[[...]]]]]',
    );
    expect(tooDeep({ a: v }, 32, 'p')).toBe('p.a');
    expect(tooDeep({ a: { b: { c: { d: { e: { f: {} } } } } } }, 3, 'p')).toBe('p.a.b.c.d');
    expect(tooDeep({ a: [[1]] }, 3, 'p')).toBeNull();
    expect(tooDeep({ a: [[[1]]] }, 3, 'p')).toBeNull();
    expect(tooDeep({ a: [[[[]]]] }, 3, 'p')).toBe('p.a');
  });
});

describe('schema check', () => {
  it('names the field and the reason', () => {
    const tx = paramsSchema(METHODS.find((m) => m.name === 'tx_submit')!);
    expect(check(tx, {}, 'params')).toMatch(/^params.tx: required/);
    expect(check(tx, { tx: 'ab', payloads: ['ab', 3] }, 'params')).toBe(
      'params.payloads[1]: expected lowercase hex (an even number of 0-9a-f), got 3',
    );
    expect(check(tx, { tx: 'ab', extra: 1 }, 'params')).toMatch(/params.extra: unknown field/);
    expect(check(tx, { tx: 'ab', mode: 'async' }, 'params')).toBeNull();
    // Keys that name what every object inherits are unknown fields like any other.
    for (const k of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      expect(check(tx, JSON.parse(`{"tx":"ab","${k}":1}`), 'params')).toMatch(
        new RegExp(`^params.${k}: unknown field`),
      );
  });

  it('every method in the catalogue has a well-formed params schema', () => {
    for (const m of METHODS) {
      const s = paramsSchema(m);
      expect(s.type, m.name).toBe('object');
      for (const r of m.required ?? []) expect(Object.keys(m.params), m.name).toContain(r);
    }
  });
});
