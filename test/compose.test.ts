/**
 * docker-compose.yml: validated by docker-compose where that tool exists (skipped with a printed
 * reason otherwise), and checked here in plain TypeScript: five services from one image, each
 * with its own volume and a config that parses, gateways published on loopback only.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '@ehr/node';
import { parseGenesis } from '@ehr/ledger';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '..');

function hasDockerCompose(): boolean {
  try {
    execFileSync('docker-compose', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('docker-compose.yml', () => {
  it('is valid for docker-compose (where the tool exists)', () => {
    if (!hasDockerCompose()) {
      console.log(
        'skipped: docker-compose is not installed here (apt-get install docker-compose to validate)',
      );
      return;
    }
    execFileSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config', '-q'], {
      cwd: root,
    });
  });

  it('runs five nodes from one image with their own volumes, valid configs and loopback-only gateways', () => {
    const doc = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
      services: Record<
        string,
        {
          build: string;
          image: string;
          command: string[];
          volumes: string[];
          ports: string[];
          healthcheck: { test: string[] };
        }
      >;
      volumes: Record<string, unknown>;
    };
    const names = Object.keys(doc.services);
    expect(names).toEqual(['node1', 'node2', 'node3', 'node4', 'node5']);
    expect(new Set(names.map((n) => doc.services[n]!.image)).size).toBe(1);
    const genesis = parseGenesis(
      readFileSync(join(root, 'configs/genesis.json'), 'utf8'),
      'configs/genesis.json',
    );
    expect(genesis.validators).toHaveLength(5);
    for (const n of names) {
      const s = doc.services[n]!;
      expect(s.volumes).toContain(`${n}-data:/data`);
      expect(doc.volumes).toHaveProperty(`${n}-data`);
      for (const p of s.ports) expect(p.startsWith('127.0.0.1:')).toBe(true);
      expect(s.healthcheck.test.join(' ')).toContain('status');
      const configPath = s.command[s.command.indexOf('--config') + 1]!;
      const local = join(root, 'configs', configPath.replace('/config/', ''));
      const cfg = loadConfig(local);
      expect(cfg.dataDir).toBe('/data');
      expect(cfg.p2p.bootstrap).toHaveLength(4);
      expect(s.ports).toContain(`127.0.0.1:${cfg.gateway.port}:${cfg.gateway.port}`);
    }
  });
});
