import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'ehr-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const minimal = {
  name: 'st-mary',
  dataDir: 'data',
  keyFile: 'node.key.json',
  genesisFile: '../genesis.json',
  p2p: { listen: ['/ip4/127.0.0.1/tcp/0'] },
};

describe('node config', () => {
  it('loads YAML, applies defaults and resolves paths against the file', () => {
    const file = join(dir, 'node.yaml');
    writeFileSync(
      file,
      'name: st-mary\ndataDir: data\nkeyFile: node.key.json\ngenesisFile: ../genesis.json\n' +
        'p2p:\n  listen: [/ip4/127.0.0.1/tcp/0]\ngateway:\n  port: 8545\n',
    );
    const cfg = loadConfig(file);
    expect(cfg.dataDir).toBe(join(dir, 'data'));
    expect(cfg.genesisFile).toBe(join(dir, '..', 'genesis.json'));
    expect(cfg.gateway).toEqual({
      host: '127.0.0.1',
      port: 8545,
      allowRemote: false,
      readNonces: 1_000_000,
    });
    expect(cfg.consensus.tickMs).toBe(40);
    expect(cfg.metrics).toBeNull();
  });

  it('names the file, the key and what is expected', () => {
    expect(() => parseConfig({ ...minimal, gateway: { port: 'x' } }, 'n.yaml')).toThrow(
      /n\.yaml: gateway\.port: expected an integer in 0\.\.65535, got "x"/,
    );
    expect(() => parseConfig({ ...minimal, p2p: { listen: [] } }, 'n.yaml')).toThrow(
      /p2p\.listen: expected at least one multiaddr/,
    );
    expect(() => parseConfig({ ...minimal, colour: 'red' }, 'n.yaml')).toThrow(
      /colour: expected one of the known keys/,
    );
    expect(() => parseConfig({ ...minimal, name: undefined }, 'n.yaml')).toThrow(
      /name: expected a non-empty string, got nothing/,
    );
  });

  it('refuses a non-loopback gateway unless explicitly allowed', () => {
    expect(() => parseConfig({ ...minimal, gateway: { host: '0.0.0.0' } }, 'n.yaml')).toThrow(
      /gateway\.host: expected a loopback address unless gateway\.allowRemote is true/,
    );
    // Beyond loopback without TLS only when the config says so explicitly.
    expect(() =>
      parseConfig({ ...minimal, gateway: { host: '0.0.0.0', allowRemote: true } }, 'n.yaml'),
    ).toThrow(
      /gateway\.tls: expected certificate and key files .* or gateway\.plaintextRemote: true/,
    );
    const cfg = parseConfig(
      { ...minimal, gateway: { host: '0.0.0.0', allowRemote: true, plaintextRemote: true } },
      'n.yaml',
    );
    expect(cfg.gateway.host).toBe('0.0.0.0');
    const tls = parseConfig(
      {
        ...minimal,
        gateway: {
          host: '0.0.0.0',
          allowRemote: true,
          tls: { certFile: 'gw.crt', keyFile: 'gw.key' },
          portal: 'web',
        },
      },
      '/etc/ehr/n.yaml',
    );
    expect(tls.gateway.tls).toEqual({ certFile: '/etc/ehr/gw.crt', keyFile: '/etc/ehr/gw.key' });
    expect(tls.gateway.portal).toBe('/etc/ehr/web');
    expect(() =>
      parseConfig({ ...minimal, gateway: { tls: { certFile: 'a' } } }, 'n.yaml'),
    ).toThrow(/gateway\.tls\.keyFile: expected a non-empty string/);
  });

  it('reports unreadable files and bad syntax with the path', () => {
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(
      /cannot read config file .*missing\.yaml/,
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ nope');
    expect(() => loadConfig(bad)).toThrow(/bad\.json: not valid JSON/);
  });
});
