/**
 * scripts/network.ts: the default plan keeps every node on loopback; with per-node hosts each
 * config listens, announces and is dialled on its own address, and every config still parses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@ehr/node';
import { afterAll, describe, expect, it } from 'vitest';
import { generateNetwork } from '../scripts/network.ts';

const dir = mkdtempSync(join(tmpdir(), 'ehr-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generateNetwork', () => {
  it('puts every node on 127.0.0.1 by default, with loopback-only gateways', () => {
    const plan = generateNetwork({
      dir: join(dir, 'default'),
      nodes: 3,
      chainId: 'plan',
      basePort: 30000,
    });
    for (const [k, n] of plan.nodes.entries()) {
      const cfg = loadConfig(n.config);
      expect(n.host).toBeUndefined();
      expect(n.gatewayUrl).toBe(`http://127.0.0.1:${31001 + k}/`);
      expect(cfg.p2p.listen).toEqual([`/ip4/127.0.0.1/tcp/${30001 + k}`]);
      expect(cfg.p2p.announce).toEqual([]);
      expect(cfg.p2p.bootstrap).toHaveLength(2);
      for (const b of cfg.p2p.bootstrap) expect(b.startsWith('/ip4/127.0.0.1/tcp/')).toBe(true);
      expect(cfg.gateway).toEqual({
        host: '127.0.0.1',
        port: 31001 + k,
        allowRemote: false,
        readNonces: 1_000_000,
      });
      expect(cfg.metrics).toEqual({ host: '127.0.0.1', port: 32001 + k });
    }
  });

  it('with per-node hosts: p2p on the p2p address, gateway and metrics on the api address', () => {
    const hosts = [1, 2, 3].map((i) => ({ p2p: `172.20.0.${10 + i}`, api: `10.9.0.${10 + i}` }));
    const plan = generateNetwork({
      dir: join(dir, 'hosts'),
      nodes: 2,
      observers: 1,
      chainId: 'plan',
      basePort: 40000,
      hosts,
    });
    for (const [k, n] of plan.nodes.entries()) {
      const cfg = loadConfig(n.config);
      const h = hosts[k]!;
      expect(n.host).toEqual(h);
      expect(n.gatewayUrl).toBe(`http://${h.api}:${41001 + k}/`);
      expect(cfg.p2p.listen).toEqual([`/ip4/${h.p2p}/tcp/${40001 + k}`]);
      expect(cfg.p2p.announce).toEqual([`/ip4/${h.p2p}/tcp/${40001 + k}`]);
      const others = plan.nodes.filter((o) => o !== n);
      expect(cfg.p2p.bootstrap.map((b) => b.split('/p2p/')[0])).toEqual(
        others.map((o) => `/ip4/${o.host!.p2p}/tcp/${o.p2pPort}`),
      );
      expect(cfg.gateway).toEqual({
        host: h.api,
        port: 41001 + k,
        allowRemote: true,
        plaintextRemote: true,
        readNonces: 1_000_000,
      });
      expect(cfg.metrics).toEqual({ host: h.api, port: 42001 + k });
    }
  });

  it('refuses a host list that does not match the node count', () => {
    expect(() =>
      generateNetwork({
        dir: join(dir, 'short'),
        nodes: 3,
        chainId: 'plan',
        basePort: 30000,
        hosts: [{ p2p: '10.0.0.1', api: '10.0.0.1' }],
      }),
    ).toThrow(/expected 3 entries/);
  });
});
