/**
 * docker-compose.yml, for real: the five-node cluster under a Docker engine (test/harness/docker.ts
 * starts one where none is reachable, builds the image and runs compose under its own project
 * name and free loopback ports). Five healthy containers elect one leader; the three-role demo
 * runs through the published gateways; stopping the leader's container elects another and
 * commits go on; starting it again catches it up; `down` and `up` keep the chain (volumes); all
 * nodes end on the same head and state hash. Skipped, with the reason printed, where there is no
 * engine and no way to start one (see .ci/install-docker.sh). The file itself is checked always.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { EhrClient, type NodeStatus, RpcClient } from '@ehr/api';
import { generateSecretKey, loadKeyFile, publicKeyOf, toHex } from '@ehr/core';
import { parseGenesis } from '@ehr/ledger';
import { loadConfig } from '@ehr/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { until } from './harness/cluster.ts';
import { ComposeProject, DockerEngine, dockerSkipReason } from './harness/docker.ts';

const root = resolve(import.meta.dirname, '..');
const NODES = ['node1', 'node2', 'node3', 'node4', 'node5'];

interface Service {
  profiles?: string[];
  build: { context: string; args: Record<string, string> };
  image: string;
  command: string[];
  volumes: string[];
  ports: string[];
  environment: Record<string, string>;
  healthcheck: { test: string[] };
  restart: string;
  logging: { driver: string; options: Record<string, string> };
  mem_limit: string;
  cpus: number;
}

describe('docker-compose.yml', () => {
  it('runs five nodes from one image with their own volumes, valid configs, limits and loopback-only gateways', () => {
    const doc = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, Service>;
      volumes: Record<string, unknown>;
    };
    expect(Object.keys(doc.services)).toEqual([...NODES, 'node6']);
    // The observer runs only under its profile; the five validators always.
    expect(doc.services.node6!.profiles).toEqual(['observer']);
    const names = NODES.filter((n) => !doc.services[n]!.profiles);
    expect(names).toEqual(NODES);
    expect(new Set(names.map((n) => doc.services[n]!.image)).size).toBe(1);
    const genesis = parseGenesis(
      readFileSync(join(root, 'configs/genesis.json'), 'utf8'),
      'configs/genesis.json',
    );
    expect(genesis.validators).toHaveLength(5);
    expect(genesis.observers).toHaveLength(1);
    [...names, 'node6'].forEach((n, k) => {
      const s = doc.services[n]!;
      // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's interpolation, not JS
      expect(s.build.args.NODE_IMAGE).toBe('${NODE_IMAGE:-node:24-slim}');
      expect(s.restart).toBe('unless-stopped');
      expect(s.logging.options['max-size']).toBeDefined();
      expect(s.mem_limit).toBeDefined();
      expect(s.volumes).toContain(`${n}-data:/data`);
      expect(doc.volumes).toHaveProperty(`${n}-data`);
      expect(s.healthcheck.test.join(' ')).toContain('status');
      const configPath = s.command[s.command.indexOf('--config') + 1]!;
      const cfg = loadConfig(join(root, 'configs', configPath.replace('/config/', '')));
      expect(cfg.dataDir).toBe('/data');
      expect(cfg.p2p.bootstrap).toHaveLength(k < 5 ? 4 : 5);
      const id = toHex(loadKeyFile(join(root, 'configs', n, 'node.key.json')).publicKey);
      expect(k < 5 ? genesis.validators : genesis.observers).toContain(id);
      expect(s.environment.EHR_GATEWAY_PORT).toBe(String(cfg.gateway.port));
      // Published on the host's loopback only, on a port the user may move.
      expect(s.ports).toEqual([
        `127.0.0.1:\${EHR_NODE${k + 1}_PORT:-${cfg.gateway.port}}:${cfg.gateway.port}`,
      ]);
    });
  });
});

const skip = dockerSkipReason();
if (skip) console.log(`compose: skipped running the cluster under Docker: ${skip}`);

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// The reason is in the title, so a skipped run says why in the test report itself.
const title = `five nodes under docker compose${skip ? ` (skipped: ${skip})` : ''}`;

describe.skipIf(skip !== undefined)(title, () => {
  let engine: DockerEngine | undefined;
  let project: ComposeProject | undefined;
  const timings: Record<string, number> = {};
  const started = performance.now();
  const rpc = (k: number) => new RpcClient(project!.gatewayUrl(k));
  const status = (k: number): Promise<NodeStatus | undefined> =>
    rpc(k)
      .status()
      .catch(() => undefined);
  const statuses = (ks: number[]) => Promise.all(ks.map(status));
  const ALL = [1, 2, 3, 4, 5];

  /** The one leader the given nodes agree on (every one of them up and naming it). */
  async function agreedLeader(ks: number[]): Promise<number | undefined> {
    const sts = await statuses(ks);
    const leaders = sts.filter((s) => s?.role === 'leader');
    if (leaders.length !== 1 || sts.some((s) => !s || s.leader !== leaders[0]!.nodeId)) return;
    return Number(leaders[0]!.name.replace('node', ''));
  }

  async function upAndHealthy(): Promise<void> {
    const t0 = performance.now();
    await project!.compose(['up', '-d', '--no-build']);
    await until(
      'five healthy containers',
      async () => {
        const h = await project!.health(NODES);
        return NODES.every((n) => h[n] === 'healthy');
      },
      180_000,
    );
    timings[
      `compose up #${Object.keys(timings).filter((k) => k.startsWith('compose up')).length + 1}`
    ] = performance.now() - t0;
  }

  async function sameHead(ks: number[]): Promise<NodeStatus[]> {
    return until(
      `nodes ${ks.join(',')} on one head and state hash`,
      async () => {
        const sts = await statuses(ks);
        if (sts.some((s) => !s)) return;
        const [a] = sts as NodeStatus[];
        const same = (sts as NodeStatus[]).every(
          (s) => s.height === a!.height && s.hash === a!.hash && s.stateHash === a!.stateHash,
        );
        return same ? (sts as NodeStatus[]) : undefined;
      },
      90_000,
    );
  }

  beforeAll(async () => {
    engine = await DockerEngine.open();
    await engine.ensureBase();
    await engine.buildImage();
    project = await ComposeProject.create(engine);
    try {
      await upAndHealthy();
    } catch (err) {
      console.log(`compose: the cluster did not come up; its logs:\n${await project.logs()}`);
      throw err;
    }
  }, 45 * 60_000);

  afterAll(async () => {
    const t0 = performance.now();
    try {
      await project?.down();
    } finally {
      await engine?.close();
    }
    timings.teardown = performance.now() - t0;
    if (engine) {
      const rows = [
        [
          `engine (${engine.own ? 'started for this test' : 'already running'})`,
          engine.timings.engine,
        ],
        [`base image (${engine.baseImage})`, engine.timings.base],
        ['project image build', engine.timings.image],
        ...Object.entries(timings),
        ['docker part in all', performance.now() - started],
      ] as const;
      console.log(
        `compose: how long the docker part took\n${rows.map(([k, v]) => `  ${k.padEnd(40)} ${secs(v)}`).join('\n')}`,
      );
    }
  }, 180_000);

  it('five healthy containers elect one leader', async () => {
    const t0 = performance.now();
    const leader = await until('one leader all five agree on', () => agreedLeader(ALL), 60_000);
    expect(ALL).toContain(leader);
    const sts = (await statuses(ALL)) as NodeStatus[];
    expect(new Set(sts.map((s) => s.chainId))).toEqual(new Set(['ehr-compose']));
    for (const s of sts) expect(s.validators).toHaveLength(5);
    timings['leader election'] = performance.now() - t0;
  });

  it('plays the three-role demo through the published gateways', async () => {
    const t0 = performance.now();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(root, 'scripts/demo.ts'),
        ...[1, 2, 3].flatMap((k) => ['--rpc', project!.gatewayUrl(k)]),
        '--admin-key',
        join(root, 'configs/admin.key.json'),
      ],
      { timeout: 180_000 },
    );
    expect(stdout).toMatch(/demo on chain ehr-compose \(3 nodes\)/);
    expect(stdout).toMatch(/Dr\. Heart reads it \(PENDING_REPORT\): "Chest pain/);
    expect(stdout).toMatch(/Dr\. Skin is refused: CONSENT_MISSING/);
    expect(stdout).toMatch(/Dr\. Skin may read it now \(CONSENT\)/);
    expect(stdout).toMatch(/prescription from Dr\. Amara Heart: "Aspirin 75 mg/);
    expect(stdout).toMatch(/Dr\. Skin is refused: CONSENT_REVOKED/);
    expect(stdout).toMatch(/Dr\. Amara Heart\s+read .*\(treatment\)/);
    expect(stdout).toMatch(/^done:/m);
    timings.demo = performance.now() - t0;
  }, 240_000);

  it("stopping the leader's container elects another and commits go on; starting it catches it up", async () => {
    const t0 = performance.now();
    const leader = await until('one leader', () => agreedLeader(ALL), 60_000);
    const rest = ALL.filter((k) => k !== leader);
    await project!.compose(['stop', '-t', '20', `node${leader}`]);
    expect(await status(leader)).toBeUndefined();
    const next = await until('a new leader among the other four', () => agreedLeader(rest), 60_000);
    expect(next).not.toBe(leader);

    // Commits resume: an admin transaction through a node that is not the new leader.
    const via = rest.find((k) => k !== next)!;
    const before = (await status(via))!.height;
    const admin = new EhrClient(
      project!.gatewayUrl(via),
      loadKeyFile(join(root, 'configs/admin.key.json')).secretKey,
      { timeoutMs: 30_000 },
    );
    const id = `failover-${Date.now().toString(36)}`;
    await admin.admin.addHospital({
      id,
      name: 'Failover Clinic',
      address: '2 Quay Street',
      specializations: ['cardiology'],
      contact: 'desk@failover.example',
      encryptionKey: toHex(publicKeyOf(generateSecretKey())),
    });
    const after = await sameHead(rest);
    expect(after[0]!.height).toBeGreaterThan(before);

    await project!.compose(['start', `node${leader}`]);
    await until(
      'the restarted node healthy',
      async () => (await project!.health([`node${leader}`]))[`node${leader}`] === 'healthy',
      120_000,
    );
    const all = await sameHead(ALL);
    expect(all[0]!.height).toBeGreaterThanOrEqual(after[0]!.height);
    // The restarted node serves what was committed while it was down.
    const h = await rpc(leader).call<{ id: string; name: string }>('hospital_get', { id });
    expect(h.name).toBe('Failover Clinic');
    timings['leader stop, failover, restart, catch-up'] = performance.now() - t0;
  }, 300_000);

  it('down and up again keeps the chain (named volumes); all five end on one head and state hash', async () => {
    const t0 = performance.now();
    const before = await sameHead(ALL);
    const height = before[0]!.height;
    const block = await rpc(1).call<{ hash: string }>('chain_getBlock', { height });
    await project!.compose(['down', '-t', '20']);
    expect(await status(1)).toBeUndefined();
    await upAndHealthy();
    expect((await project!.health(['node6'])).node6).toBe('absent');
    await until('a leader after up', () => agreedLeader(ALL), 60_000);
    const after = await sameHead(ALL);
    expect(after[0]!.height).toBeGreaterThanOrEqual(height);
    for (const k of ALL) {
      const b = await rpc(k).call<{ hash: string }>('chain_getBlock', { height });
      expect(b.hash).toBe(block.hash);
    }
    // The CLI on the host against a published gateway, as the README shows.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(root, 'packages/cli/src/bin.ts'),
        '--rpc',
        project!.gatewayUrl(5),
        'chain',
        'verify',
        '--genesis',
        join(root, 'configs/genesis.json'),
      ],
      { timeout: 120_000 },
    );
    expect(stdout).toMatch(/^ok: blocks 1\.\.\d+ verify \(\d+ blocks, \d+ transactions\)$/m);
    timings['down, up, same chain'] = performance.now() - t0;
  }, 300_000);

  it('the profile-gated observer joins, follows the chain and does not vote', async () => {
    const t0 = performance.now();
    await project!.compose(['--profile', 'observer', 'up', '-d', '--no-build', 'node6']);
    await until(
      'the observer healthy',
      async () => (await project!.health(['node6'])).node6 === 'healthy',
      180_000,
    );
    const sts = await sameHead([...ALL, 6]);
    const observer = sts[5]!;
    expect(observer.name).toBe('node6');
    expect(observer.role).toBe('learner');
    expect(observer.observers).toEqual([observer.nodeId]);
    expect(observer.validators).not.toContain(observer.nodeId);
    expect(sts[0]!.height).toBeGreaterThan(1);
    timings['observer up and caught up'] = performance.now() - t0;
  }, 300_000);
});
