/**
 * The gateway serves HTTPS from the certificate and key files its node config names, re-reads
 * them on SIGHUP, serves the portal at `/` with a strict CSP and the right types and caching,
 * and refuses to listen beyond loopback without TLS unless the config says so (then warns).
 * Certificates are made here with openssl (self-signed, for 127.0.0.1).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ensurePortalBuilt } from '../scripts/portal-build.ts';
import { TestCluster, until } from './harness/cluster.ts';

const BIN = resolve(import.meta.dirname, '../packages/cli/src/bin.ts');
let cluster: TestCluster;
let port = 0;

function makeCert(name: string): { cert: string; key: string } {
  const cert = join(cluster.dir, `${name}.crt`);
  const key = join(cluster.dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  fingerprint: string;
}

function get(path: string, ca: string, method = 'GET', body?: string): Promise<Got> {
  return new Promise((res, rej) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        ca: readFileSync(ca),
        agent: false,
        headers: body ? { 'content-type': 'application/json' } : {},
      },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () =>
          res({
            status: r.statusCode ?? 0,
            headers: r.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            fingerprint: (r.socket as import('node:tls').TLSSocket).getPeerCertificate()
              .fingerprint256,
          }),
        );
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}

function withGateway(gateway: Record<string, unknown>, file: string): string {
  const cfg = parse(readFileSync(cluster.node('node1').config, 'utf8')) as Record<string, unknown>;
  cfg['gateway'] = { ...(cfg['gateway'] as Record<string, unknown>), ...gateway };
  // Beside the original: its relative paths (key, genesis, data) resolve against its directory.
  const out = join(dirname(cluster.node('node1').config), file);
  writeFileSync(out, stringify(cfg));
  return out;
}

beforeAll(async () => {
  ensurePortalBuilt();
  cluster = await TestCluster.create({ validators: 1 });
  port = Number(new URL(cluster.node('node1').gatewayUrl).port);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describe('gateway over HTTPS, with the portal', () => {
  it('serves HTTPS from config files, the portal with CSP and caching, and reloads on SIGHUP', async () => {
    const one = makeCert('one');
    const two = makeCert('two');
    const live = { cert: join(cluster.dir, 'gw.crt'), key: join(cluster.dir, 'gw.key') };
    writeFileSync(live.cert, readFileSync(one.cert));
    writeFileSync(live.key, readFileSync(one.key));
    cluster.start(
      'node1',
      withGateway({ tls: { certFile: live.cert, keyFile: live.key } }, 'tls.yaml'),
    );
    await until('the HTTPS gateway', () => get('/', one.cert).catch(() => undefined), 30_000);

    const index = await get('/', one.cert);
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    const csp = String(index.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    const script = index.body.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    expect(script).toBeDefined();
    const js = await get(script!, one.cert);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const css = index.body.match(/href="(\/assets\/[^"]+\.css)"/)?.[1];
    expect((await get(css!, one.cert)).headers['content-type']).toBe('text/css; charset=utf-8');
    // Nothing outside the build, however the path is spelled.
    for (const p of [
      '/assets/..%2f..%2fpackage.json',
      '/../package.json',
      '/%2e%2e/%2e%2e/package.json',
      '/nope.js',
    ]) {
      const r = await get(p, one.cert);
      expect(r.status, p).toBe(404);
      expect(r.body).not.toContain('"name"');
    }
    // JSON-RPC on the same origin, over TLS.
    const rpc = await get(
      '/',
      one.cert,
      'POST',
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'status' }),
    );
    expect(JSON.parse(rpc.body).result.chainId).toBe(cluster.plan.chainId);
    expect(rpc.fingerprint).toBe(new X509Certificate(readFileSync(one.cert)).fingerprint256);

    // SIGHUP: the renewed certificate is served to new connections, without a restart.
    writeFileSync(live.cert, readFileSync(two.cert));
    writeFileSync(live.key, readFileSync(two.key));
    cluster.signal('node1', 'SIGHUP');
    const renewed = await until('the renewed certificate', async () => {
      const r = await get('/', two.cert).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    });
    expect(renewed.fingerprint).toBe(new X509Certificate(readFileSync(two.cert)).fingerprint256);
    expect(cluster.log('node1')).toContain('gateway TLS certificate reloaded');
    // A broken file on reload keeps the old certificate and says so.
    writeFileSync(live.key, 'not a key');
    cluster.signal('node1', 'SIGHUP');
    await until('the failed reload in the log', async () =>
      cluster.log('node1').includes('TLS reload failed'),
    );
    expect((await get('/', two.cert)).status).toBe(200);
    await cluster.kill('node1', 'SIGTERM');
  });

  it('refuses plain HTTP beyond loopback unless plaintextRemote says so, and then warns', async () => {
    const open = withGateway({ host: '0.0.0.0', allowRemote: true }, 'open.yaml');
    const r = spawnSync(process.execPath, [BIN, 'node', 'start', '--config', open], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/gateway\.tls: expected certificate and key files/);
    cluster.start(
      'node1',
      withGateway({ host: '0.0.0.0', allowRemote: true, plaintextRemote: true }, 'proxy.yaml'),
    );
    await until('the gateway', () => cluster.status('node1'), 30_000);
    expect(cluster.log('node1')).toContain('listens beyond loopback without TLS');
  });
});
