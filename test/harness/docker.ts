/**
 * Test harness: the repository's docker-compose.yml under a real Docker engine.
 *
 * - Uses the engine DOCKER_HOST (or the default socket) reaches; where none does and we are root
 *   with Debian's dockerd, starts its own: data root kept per machine under EHR_DOCKER_DIR
 *   (default /var/tmp/ehr-ledger-docker, so images are cached between runs), exec root, pidfile
 *   and socket per run, vfs storage, no iptables, no default bridge; stopped and its run
 *   directory removed at the end. A lock file serialises runs on one machine.
 * - The base image: `node:24-slim` when the engine has it (or can pull it); otherwise a stand-in
 *   built once per machine by docker-base.sh (debootstrap + the workspace's Node 24), cached by tag.
 * - The project image from the repository's Dockerfile, then compose under a unique project name
 *   with free loopback ports; `down()` removes containers, volumes and networks.
 *
 * `dockerSkipReason()` says, without side effects, why this cannot run here (for it.skipIf).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freeBasePort } from './cluster.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BASE_SCRIPT = join(import.meta.dirname, 'docker-base.sh');
const STATE_DIR = process.env.EHR_DOCKER_DIR ?? '/var/tmp/ehr-ledger-docker';
export const PROJECT_IMAGE = 'ehr-ledger:dev';
const STANDIN_TAG = 'ehr-ledger-base:node24-bookworm';
const BUILD_STAGE_TAG = 'ehr-ledger-build:cache';
const PROJECT_PREFIX = 'ehrtest';
const run = promisify(execFile);

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function engineReachable(host?: string): boolean {
  try {
    execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], {
      stdio: 'ignore',
      timeout: 15_000,
      env: host ? { ...process.env, DOCKER_HOST: host } : process.env,
    });
    return true;
  } catch {
    return false;
  }
}

/** Why the compose test cannot run here, or undefined when it can. */
export function dockerSkipReason(): string | undefined {
  if (process.env.EHR_SKIP_DOCKER) return 'EHR_SKIP_DOCKER is set';
  if (!has('docker'))
    return 'no docker client (apt-get install docker.io, or .ci/install-docker.sh)';
  if (!has('docker-compose'))
    return 'no docker-compose (apt-get install docker-compose, or .ci/install-docker.sh)';
  if (!has('flock')) return 'no flock (util-linux)';
  if (engineReachable()) return undefined;
  if (process.getuid?.() !== 0) return 'no Docker engine reachable, and not root to start one';
  if (!has('dockerd')) return 'no Docker engine reachable and no dockerd to start one';
  if (!has('debootstrap')) return 'no debootstrap to build the node:24-slim stand-in';
  return undefined;
}

export interface DockerTimings {
  engine: number;
  base: number;
  image: number;
}

/** A Docker engine this test may use: reachable already, or one we started (and stop). */
export class DockerEngine {
  readonly host: string | undefined;
  readonly timings: DockerTimings = { engine: 0, base: 0, image: 0 };
  private readonly daemon: ChildProcess | undefined;
  private readonly runDir: string | undefined;
  private readonly lock: ChildProcess;
  baseImage = 'node:24-slim';
  /** Storage driver of the engine we started ('' for one that was running). */
  storage = '';

  private constructor(
    host: string | undefined,
    lock: ChildProcess,
    daemon?: ChildProcess,
    runDir?: string,
  ) {
    this.host = host;
    this.lock = lock;
    this.daemon = daemon;
    this.runDir = runDir;
  }

  get env(): NodeJS.ProcessEnv {
    return this.host ? { ...process.env, DOCKER_HOST: this.host } : { ...process.env };
  }

  get own(): boolean {
    return this.daemon !== undefined;
  }

  static async open(): Promise<DockerEngine> {
    const t0 = performance.now();
    mkdirSync(STATE_DIR, { recursive: true });
    const lock = await takeLock(join(STATE_DIR, 'lock'));
    try {
      let engine: DockerEngine;
      if (engineReachable()) engine = new DockerEngine(process.env.DOCKER_HOST, lock);
      else engine = await DockerEngine.startOwnAny(lock);
      engine.timings.engine = performance.now() - t0;
      return engine;
    } catch (err) {
      lock.stdin?.end();
      throw err;
    }
  }

  /**
   * overlay2 where the kernel has overlayfs (every build step on vfs copies the whole image:
   * many times slower), else vfs; each driver keeps its own data root. EHR_DOCKER_STORAGE picks.
   */
  private static async startOwnAny(lock: ChildProcess): Promise<DockerEngine> {
    const overlay = /\boverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'));
    const drivers = process.env.EHR_DOCKER_STORAGE
      ? [process.env.EHR_DOCKER_STORAGE]
      : overlay
        ? ['overlay2', 'vfs']
        : ['vfs'];
    const errors: string[] = [];
    for (const driver of drivers) {
      try {
        return await DockerEngine.startOwn(lock, driver);
      } catch (err) {
        errors.push(`${driver}: ${(err as Error).message}`);
      }
    }
    throw new Error(`could not start dockerd\n${errors.join('\n')}`);
  }

  private static async startOwn(lock: ChildProcess, driver: string): Promise<DockerEngine> {
    stopStaleDaemons();
    const runDir = join(STATE_DIR, `run-${process.pid}`);
    removeRunDir(runDir);
    mkdirSync(runDir, { recursive: true });
    const host = `unix://${join(runDir, 'sock')}`;
    const log = join(runDir, 'dockerd.log');
    const daemon = spawn(
      'sh',
      [
        '-c',
        'exec dockerd "$@" >"$LOG" 2>&1',
        'dockerd',
        '--data-root',
        join(STATE_DIR, `root-${driver}`),
        '--exec-root',
        join(runDir, 'exec'),
        '--pidfile',
        join(runDir, 'pid'),
        '--host',
        host,
        '--storage-driver',
        driver,
        '--iptables=false',
        '--ip-masq=false',
        '--bridge=none',
      ],
      { stdio: 'ignore', env: { ...process.env, LOG: log } },
    );
    const engine = new DockerEngine(host, lock, daemon, runDir);
    engine.storage = driver;
    const end = Date.now() + 60_000;
    while (!engineReachable(host)) {
      if (daemon.exitCode !== null || Date.now() > end) {
        const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15) : [];
        await engine.stopDaemon();
        throw new Error(`dockerd did not come up:\n${tail.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // Compose projects a killed earlier run left behind (restart policies bring them back).
    await engine.removeProjects(PROJECT_PREFIX);
    return engine;
  }

  docker(args: string[], timeout = 120_000) {
    return run('docker', args, { env: this.env, timeout, maxBuffer: 64 << 20 });
  }

  /** node:24-slim if the engine has or can pull it, else the cached stand-in (built once). */
  async ensureBase(): Promise<string> {
    const t0 = performance.now();
    const exists = (tag: string) =>
      this.docker(['image', 'inspect', tag]).then(
        () => true,
        () => false,
      );
    if (process.env.EHR_DOCKER_BASE) this.baseImage = process.env.EHR_DOCKER_BASE;
    else if (await exists('node:24-slim')) this.baseImage = 'node:24-slim';
    else if (await exists(STANDIN_TAG)) this.baseImage = STANDIN_TAG;
    else {
      const pulled = await this.docker(['pull', '-q', 'node:24-slim'], 90_000).then(
        () => true,
        () => false,
      );
      if (pulled) this.baseImage = 'node:24-slim';
      else {
        console.log(`docker: node:24-slim cannot be pulled; building the stand-in ${STANDIN_TAG}`);
        await run('bash', [BASE_SCRIPT, STANDIN_TAG], {
          env: this.env,
          timeout: 20 * 60_000,
          maxBuffer: 64 << 20,
        });
        this.baseImage = STANDIN_TAG;
      }
    }
    this.timings.base = performance.now() - t0;
    return this.baseImage;
  }

  /**
   * Builds the project image from the repository's Dockerfile (cached layers where unchanged).
   * The build stage is tagged too: its layers are no parent of the final image, so without a tag
   * pruning would take the dependency install's cache with it.
   */
  async buildImage(): Promise<void> {
    const t0 = performance.now();
    const build = (extra: string[]) =>
      run(
        'docker',
        [
          'build',
          '-q',
          '--network',
          'host',
          '--build-arg',
          `NODE_IMAGE=${this.baseImage}`,
          ...extra,
          ROOT,
        ],
        {
          env: { ...this.env, DOCKER_BUILDKIT: '0' },
          timeout: 30 * 60_000,
          maxBuffer: 64 << 20,
        },
      );
    await build(['--target', 'build', '-t', BUILD_STAGE_TAG]);
    await build(['-t', PROJECT_IMAGE]);
    // Images of earlier builds, untagged now.
    await this.docker(['image', 'prune', '-f']).catch(() => undefined);
    this.timings.image = performance.now() - t0;
  }

  /** Removes every container, volume and network of compose projects named prefix*. */
  async removeProjects(prefix: string): Promise<void> {
    const label = 'com.docker.compose.project';
    const ids = async (kind: string[]) =>
      (
        await this.docker([
          ...kind,
          '--filter',
          `label=${label}`,
          '--format',
          `{{.ID}} {{.Label "${label}"}}`,
        ])
      ).stdout
        .split('\n')
        .map((l) => l.trim().split(' '))
        .filter(([id, p]) => id && p?.startsWith(prefix))
        .map(([id]) => id!);
    const containers = await ids(['ps', '-a']);
    if (containers.length) await this.docker(['rm', '-f', '-v', ...containers]);
    const networks = await ids(['network', 'ls']);
    if (networks.length) await this.docker(['network', 'rm', ...networks]);
    const volumes = (
      await this.docker([
        'volume',
        'ls',
        '--filter',
        `label=${label}`,
        '--format',
        `{{.Name}} {{.Label "${label}"}}`,
      ])
    ).stdout
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter(([id, p]) => id && p?.startsWith(prefix))
      .map(([id]) => id!);
    if (volumes.length) await this.docker(['volume', 'rm', '-f', ...volumes]);
  }

  /** Stops the engine we started (if any), removes its run directory, releases the lock. */
  async close(): Promise<void> {
    try {
      await this.stopDaemon();
    } finally {
      this.lock.stdin?.end();
    }
  }

  private async stopDaemon(): Promise<void> {
    const d = this.daemon;
    if (d && d.exitCode === null && d.signalCode === null) {
      const exited = new Promise((r) => d.once('exit', r));
      d.kill('SIGTERM');
      const timer = setTimeout(() => d.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    if (this.runDir) removeRunDir(this.runDir);
  }
}

/** Holds an exclusive flock on `file` until our stdin to the holder closes (or we die). */
async function takeLock(file: string): Promise<ChildProcess> {
  const holder = spawn(
    'flock',
    ['-x', '-w', '1800', file, '-c', 'echo locked; exec cat >/dev/null'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((res, rej) => {
    holder.stdout!.once('data', () => res());
    holder.once('exit', (code) => rej(new Error(`could not lock ${file} (flock exited ${code})`)));
  });
  return holder;
}

/** Engines from earlier runs that died without stopping theirs (we hold the lock: none is live). */
function stopStaleDaemons(): void {
  for (const entry of readdirSync(STATE_DIR)) {
    if (!entry.startsWith('run-')) continue;
    const dir = join(STATE_DIR, entry);
    try {
      const pid = Number(readFileSync(join(dir, 'pid'), 'utf8').trim());
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (comm === 'dockerd') {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 300 && existsSync(`/proc/${pid}`); i++) execFileSync('sleep', ['0.1']);
        if (existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
      }
    } catch {
      // no pidfile or no such process: nothing to stop
    }
    removeRunDir(dir);
  }
}

/** dockerd leaves its network namespace mounted in the exec root: unmount, then remove. */
function removeRunDir(dir: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** One compose project of docker-compose.yml on free loopback ports. */
export class ComposeProject {
  readonly name: string;
  readonly ports: number[];
  private readonly engine: DockerEngine;

  private constructor(engine: DockerEngine, name: string, ports: number[]) {
    this.engine = engine;
    this.name = name;
    this.ports = ports;
  }

  static async create(engine: DockerEngine, nodes = 5): Promise<ComposeProject> {
    const base = await freeBasePort(nodes + 1);
    const ports = Array.from({ length: nodes + 1 }, (_, k) => base + 1000 + k + 1);
    const name = `${PROJECT_PREFIX}${process.pid}${Date.now().toString(36)}`;
    return new ComposeProject(engine, name, ports);
  }

  gatewayUrl(k: number): string {
    return `http://127.0.0.1:${this.ports[k - 1]}/`;
  }

  compose(args: string[], timeout = 300_000) {
    const env: NodeJS.ProcessEnv = {
      ...this.engine.env,
      COMPOSE_PROJECT_NAME: this.name,
      // Creating five containers at once on a loaded machine can take minutes.
      COMPOSE_HTTP_TIMEOUT: '600',
    };
    this.ports.forEach((p, i) => {
      env[`EHR_NODE${i + 1}_PORT`] = String(p);
    });
    return run('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), ...args], {
      cwd: ROOT,
      env,
      timeout,
      maxBuffer: 64 << 20,
    });
  }

  /** Health of each service's container ('healthy', 'starting', ...; 'absent' if none). */
  async health(services: string[]): Promise<Record<string, string>> {
    const ids = (await this.compose(['ps', '-q'])).stdout.split('\n').filter(Boolean);
    const out: Record<string, string> = Object.fromEntries(services.map((s) => [s, 'absent']));
    if (ids.length === 0) return out;
    const { stdout } = await this.engine.docker([
      'inspect',
      '--format',
      '{{index .Config.Labels "com.docker.compose.service"}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}',
      ...ids,
    ]);
    for (const line of stdout.split('\n')) {
      const [service, state] = line.trim().split(' ');
      if (service && state && service in out) out[service] = state;
    }
    return out;
  }

  async logs(): Promise<string> {
    return (
      (await this.compose(['logs', '--no-color', '--tail', '40']).catch((e) => e)).stdout ?? ''
    );
  }

  /** Containers, volumes and networks of this project: all gone. */
  async down(): Promise<void> {
    await this.compose(['down', '-v', '--remove-orphans', '-t', '10']).catch(() => undefined);
    await this.engine.removeProjects(this.name);
  }
}
