import { blockHash, EhrError, toHex, ZERO_HASH } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  EMPTY_STATE_HASH,
  genesisBlockHash,
  genesisHeader,
  genesisStateHash,
  genesisToJson,
  genesisWrites,
  keys,
  parseGenesis,
  stateHashAfter,
} from '../src/index.ts';
import { account } from './helpers.ts';

const admin = account('admin');
const admin2 = account('admin2');
const node = account('node-a');
const observer = account('node-o');

function doc(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    chainId: 'ehr-test',
    genesisTime: '2025-01-01T00:00:00Z',
    admins: [admin.hex, admin2.hex],
    validators: [node.hex],
    observers: [observer.hex],
    ...over,
  });
}

function errorOf(text: string): EhrError {
  try {
    parseGenesis(text, 'genesis.json');
  } catch (err) {
    if (err instanceof EhrError) return err;
    throw err;
  }
  throw new Error('expected parseGenesis to throw');
}

describe('genesis', () => {
  it('parses a document, applying defaults', () => {
    const g = parseGenesis(doc());
    expect(g.chainId).toBe('ehr-test');
    expect(g.genesisTime).toBe(Date.UTC(2025, 0, 1));
    expect(g.admins).toEqual([admin.hex, admin2.hex]);
    expect(g.governance.threshold).toBe('majority');
    expect(g.limits).toEqual(DEFAULT_LIMITS);
    expect(parseGenesis(genesisToJson(g))).toEqual(g);
  });

  it('accepts uppercase hex, a numeric time, a fixed threshold and limits', () => {
    const g = parseGenesis(
      doc({
        admins: [admin.hex.toUpperCase(), admin2.hex],
        genesisTime: 5,
        governance: { threshold: 2 },
        limits: { maxPayloadBytes: 1000 },
      }),
    );
    expect(g.admins[0]).toBe(admin.hex);
    expect(g.genesisTime).toBe(5);
    expect(g.governance.threshold).toBe(2);
    expect(g.limits.maxPayloadBytes).toBe(1000);
    expect(g.limits.maxTxsPerBlock).toBe(DEFAULT_LIMITS.maxTxsPerBlock);
  });

  it.each([
    ['not json', '{', /genesis.json: not valid JSON/],
    ['bad chain id', doc({ chainId: 'Bad Chain!' }), /genesis.json: genesis: chainId: expected/],
    ['no admins', doc({ admins: [] }), /admins: expected at least 1/],
    ['short admin key', doc({ admins: ['abcd'] }), /admins\[0\]: expected an Ed25519 public key/],
    [
      'repeated admin',
      doc({ admins: [admin.hex, admin.hex] }),
      /admins\[1\]: expected a key not already listed/,
    ],
    ['no validators', doc({ validators: undefined }), /validators: expected an array/],
    [
      'observer that validates',
      doc({ observers: [node.hex] }),
      /observers\[0\]: expected a node that is not also a validator/,
    ],
    [
      'threshold too high',
      doc({ governance: { threshold: 3 } }),
      /governance.threshold: expected "majority" or a number of approving admins from 1 to 2/,
    ],
    ['unknown limit', doc({ limits: { maxFoo: 1 } }), /limits.maxFoo: expected no such field/],
    [
      'limit out of range',
      doc({ limits: { maxTxsPerBlock: 0 } }),
      /limits.maxTxsPerBlock: expected an integer from 1/,
    ],
    [
      'tx larger than block',
      doc({ limits: { maxTxBytes: 5000, maxBlockBytes: 4000 } }),
      /limits.maxTxBytes: expected at most limits.maxBlockBytes/,
    ],
    ['bad time', doc({ genesisTime: 'yesterday' }), /genesisTime: expected an ISO-8601/],
    ['unknown field', doc({ colour: 'blue' }), /colour: expected no such field/],
  ])('rejects %s naming the field', (_name, text, message) => {
    const err = errorOf(text);
    expect(err.code).toBe('GENESIS_INVALID');
    expect(err.message).toMatch(message);
  });

  it('writes chain config, head, admins and members; hashes chain from zero', () => {
    const g = parseGenesis(doc());
    const writes = genesisWrites(g);
    const byKey = new Map(writes);
    expect(byKey.get(keys.admin(admin.hex))).toEqual({ key: admin.hex, since: g.genesisTime });
    expect(byKey.get(keys.member(node.hex))).toMatchObject({ role: 'validator' });
    expect(byKey.get(keys.member(observer.hex))).toMatchObject({ role: 'observer' });
    expect(byKey.get(keys.adminCount())).toBe(2);
    expect(writes.map(([k]) => k)).toEqual([...writes.map(([k]) => k)].sort());
    expect(genesisStateHash(g)).toEqual(stateHashAfter(EMPTY_STATE_HASH, writes));

    const header = genesisHeader(g);
    expect(header.height).toBe(0);
    expect(header.prevHash).toEqual(ZERO_HASH);
    expect(header.stateHash).toEqual(genesisStateHash(g));
    expect(genesisBlockHash(g)).toEqual(blockHash(header));
  });

  it('gives different chains different genesis hashes', () => {
    const a = parseGenesis(doc());
    const b = parseGenesis(doc({ limits: { maxPayloadBytes: 1000 } }));
    expect(toHex(genesisBlockHash(a))).not.toBe(toHex(genesisBlockHash(b)));
    expect(toHex(genesisBlockHash(a))).toBe(toHex(genesisBlockHash(parseGenesis(doc()))));
  });
});
