/**
 * The config schema is the one source of config checks and config docs: hostile values (wrong
 * types, negative, fractional and absurd numbers, unknown keys at any level, huge and deeply
 * nested values) are refused naming the file, the key path and what was expected, defaults come
 * from the schema, and the README's reference table is the one the schema generates.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_README, withConfig } from '../../../scripts/config-doc.ts';
import { CONFIG_DEFAULTS, parseConfig } from '../src/config.ts';
import { CONFIG_SCHEMA } from '../src/config-schema.ts';

const minimal = {
  name: 'st-mary',
  dataDir: 'data',
  keyFile: 'node.key.json',
  genesisFile: 'genesis.json',
  p2p: { listen: ['/ip4/127.0.0.1/tcp/0'] },
};
const refused = (over: Record<string, unknown>): string => {
  try {
    parseConfig({ ...minimal, ...over }, 'n.yaml');
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(over).slice(0, 80)}`);
};

describe('config schema', () => {
  it('refuses negative, fractional and huge scrubber and cache sizes, naming the key and the range', () => {
    expect(refused({ scrub: { blocksPerSecond: -1 } })).toBe(
      'n.yaml: scrub.blocksPerSecond: expected an integer in 1..1000000, got -1',
    );
    expect(refused({ scrub: { blocksPerSecond: 0 } })).toMatch(/scrub\.blocksPerSecond: expected/);
    expect(refused({ scrub: { bytesPerSecond: 2 ** 40 } })).toMatch(
      /scrub\.bytesPerSecond: expected an integer in 4096\.\.17179869184, got 1099511627776/,
    );
    expect(refused({ scrub: { startupBlocks: 1.5 } })).toMatch(/scrub\.startupBlocks/);
    expect(refused({ scrub: { enabled: 'no' } })).toBe(
      'n.yaml: scrub.enabled: expected true or false, got "no"',
    );
    expect(refused({ caches: { stateBytes: -5 } })).toBe(
      'n.yaml: caches.stateBytes: expected an integer in 0..17179869184, got -5',
    );
    expect(refused({ caches: { txStatusBytes: 1e300 } })).toMatch(/caches\.txStatusBytes/);
    expect(refused({ caches: { lruBytes: 5 } })).toMatch(
      /caches\.lruBytes: expected one of the known keys/,
    );
    const c = parseConfig({ ...minimal, caches: { stateBytes: 0 } }, 'n.yaml');
    expect(c.caches).toEqual({
      stateBytes: 0,
      txStatusBytes: CONFIG_DEFAULTS.caches.txStatusBytes,
    });
    expect(c.scrub).toEqual(CONFIG_DEFAULTS.scrub);
  });

  it('refuses wrong types, naming the key path', () => {
    expect(refused({ name: 42 })).toBe('n.yaml: name: expected a non-empty string, got 42');
    expect(refused({ name: '' })).toBe('n.yaml: name: expected a non-empty string, got ""');
    expect(refused({ p2p: 'x' })).toBe('n.yaml: p2p: expected a mapping, got "x"');
    expect(refused({ p2p: { listen: '/ip4/1.2.3.4/tcp/1' } })).toBe(
      'n.yaml: p2p.listen: expected a list of strings, got "/ip4/1.2.3.4/tcp/1"',
    );
    expect(refused({ p2p: { listen: ['/ip4/127.0.0.1/tcp/0', 7] } })).toBe(
      'n.yaml: p2p.listen[1]: expected a non-empty string, got 7',
    );
    expect(refused({ gateway: { allowRemote: 'yes' } })).toBe(
      'n.yaml: gateway.allowRemote: expected true or false, got "yes"',
    );
    expect(refused({ gateway: { portal: true } })).toMatch(
      /^n\.yaml: gateway\.portal: expected a non-empty string or false, got true/,
    );
    expect(refused({ metrics: [] })).toBe('n.yaml: metrics: expected a mapping or null, got []');
    expect(refused({ log: { level: 'loud' } })).toBe(
      'n.yaml: log.level: expected trace|debug|info|warn|error|silent, got "loud"',
    );
    expect(() => parseConfig([], 'n.yaml')).toThrow('n.yaml: (top level): expected a mapping');
    expect(() => parseConfig(null, 'n.yaml')).toThrow('n.yaml: (top level): expected a mapping');
  });

  it('refuses negative, fractional, huge and non-finite numbers', () => {
    expect(refused({ consensus: { tickMs: -5 } })).toBe(
      'n.yaml: consensus.tickMs: expected an integer in 1..10000, got -5',
    );
    expect(refused({ consensus: { tickMs: 0.5 } })).toMatch(
      /consensus\.tickMs: expected an integer/,
    );
    expect(refused({ mempool: { maxBytes: 2 ** 53 } })).toBe(
      `n.yaml: mempool.maxBytes: expected an integer in 1024..1099511627776, got ${2 ** 53}`,
    );
    expect(refused({ sync: { batchSize: 1e308 } })).toMatch(
      /sync\.batchSize: expected an integer in 1\.\.512/,
    );
    expect(refused({ metrics: { port: 65536 } })).toMatch(
      /metrics\.port: expected an integer in 0\.\.65535, got 65536/,
    );
    expect(refused({ gateway: { port: Number.NaN } })).toMatch(
      /gateway\.port: expected an integer/,
    );
    expect(refused({ gateway: { readNonces: 999 } })).toBe(
      'n.yaml: gateway.readNonces: expected an integer in 1000..10000000, got 999',
    );
    expect(refused({ gateway: { readNonces: 1e12 } })).toMatch(
      /gateway\.readNonces: expected an integer/,
    );
    expect(
      parseConfig({ ...minimal, gateway: { readNonces: 5000 } }, 'n.yaml').gateway.readNonces,
    ).toBe(5000);
    expect(refused({ gateway: { port: '8545' } })).toMatch(
      /gateway\.port: expected an integer in 0\.\.65535, got "8545"/,
    );
    // A relation between two keys: the heartbeat must be shorter than the election timeout.
    expect(refused({ consensus: { heartbeatTicks: 10, electionTicks: 10 } })).toMatch(
      /consensus\.heartbeatTicks: expected fewer ticks than consensus\.electionTicks, got 10/,
    );
  });

  it('refuses unknown keys at every level, listing the known ones', () => {
    expect(refused({ colour: 'red' })).toMatch(
      /^n\.yaml: colour: expected one of the known keys \(name, dataDir,/,
    );
    expect(refused({ consensus: { tickMS: 40 } })).toBe(
      'n.yaml: consensus.tickMS: expected one of the known keys (tickMs, electionTicks, heartbeatTicks, maxBlockTxs, maxBlockBytes, maxInflightBlocks, compactEntries, logTailEntries, logTailBytes, compactEveryEntries), got "tickMS"',
    );
    expect(refused({ gateway: { readNonce: 5000 } })).toBe(
      'n.yaml: gateway.readNonce: expected one of the known keys (host, port, allowRemote, tls, plaintextRemote, portal, readNonces), got "readNonce"',
    );
    expect(refused({ gateway: { tls: { certFile: 'a', keyFile: 'b', caFile: 'c' } } })).toMatch(
      /gateway\.tls\.caFile: expected one of the known keys \(certFile, keyFile\)/,
    );
    expect(refused({ metrics: { port: 1, path: '/m' } })).toMatch(
      /metrics\.path: expected one of the known keys/,
    );
    for (const k of ['__proto__', 'constructor', 'toString'])
      expect(refused(JSON.parse(`{"${k}":1}`))).toMatch(
        new RegExp(`^n\\.yaml: ${k}: expected one of the known keys`),
      );
  });

  it('keeps messages short for huge or deeply nested values, and leaves the input alone', () => {
    const huge = refused({ name: ['x'.repeat(12_000_000)] });
    expect(huge).toMatch(/^n\.yaml: name: expected a non-empty string, got \["xxx/);
    expect(huge.length).toBeLessThan(200);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const m = refused({ name: deep });
    expect(m).toMatch(/^n\.yaml: name: expected a non-empty string, got /);
    expect(m.length).toBeLessThan(200);
    const input = { ...minimal, gateway: {} };
    parseConfig(input, 'n.yaml');
    expect(input.gateway).toEqual({}); // defaults went into a copy
  });

  it('takes its defaults from the schema', () => {
    const cfg = parseConfig(minimal, '/etc/ehr/n.yaml');
    const defaults = (section: string) =>
      Object.fromEntries(
        Object.entries(CONFIG_SCHEMA.properties![section]!.properties!).map(([k, v]) => [
          k,
          v.default,
        ]),
      );
    expect(cfg.consensus).toEqual(defaults('consensus'));
    expect(cfg.mempool).toEqual(defaults('mempool'));
    expect(cfg.sync).toEqual(defaults('sync'));
    expect(cfg.log).toEqual({ level: 'info' });
    expect(CONFIG_DEFAULTS.consensus.tickMs).toBe(40);
    expect(cfg.p2p).toEqual({ listen: minimal.p2p.listen, announce: [], bootstrap: [] });
    expect(parseConfig({ ...minimal, metrics: {} }, 'n.yaml').metrics).toEqual({
      host: '127.0.0.1',
      port: 0,
    });
    expect(parseConfig({ ...minimal, metrics: null }, 'n.yaml').metrics).toBeNull();
    expect(parseConfig({ ...minimal, gateway: { portal: false } }, 'n.yaml').gateway.portal).toBe(
      false,
    );
  });

  it('the README config table is the one the schema generates (run pnpm run config-doc)', () => {
    const text = readFileSync(NODE_README, 'utf8');
    expect(text).toBe(withConfig(text));
    for (const key of ['consensus.tickMs', 'gateway.tls.certFile', 'sync.startupWaitMs'])
      expect(text).toContain(`| \`${key}\` |`);
  });
});
