import { check, METHODS, paramsSchema } from '@ehr/api';
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

describe('schema check', () => {
  it('names the field and the reason', () => {
    const tx = paramsSchema(METHODS.find((m) => m.name === 'tx_submit')!);
    expect(check(tx, {}, 'params')).toMatch(/^params.tx: required/);
    expect(check(tx, { tx: 'ab', payloads: ['ab', 3] }, 'params')).toBe(
      'params.payloads[1]: expected lowercase hex (an even number of 0-9a-f), got 3',
    );
    expect(check(tx, { tx: 'ab', extra: 1 }, 'params')).toMatch(/params.extra: unknown field/);
    expect(check(tx, { tx: 'ab', mode: 'async' }, 'params')).toBeNull();
  });

  it('every method in the catalogue has a well-formed params schema', () => {
    for (const m of METHODS) {
      const s = paramsSchema(m);
      expect(s.type, m.name).toBe('object');
      for (const r of m.required ?? []) expect(Object.keys(m.params), m.name).toContain(r);
    }
  });
});
