/**
 * etcd 3.4 (Debian's etcd-server), five members on loopback, driven through the `etcd3` gRPC
 * client (its best path): the yardstick `run bench` puts beside each of its rows, at the same
 * concurrency, with values as large as the ehr-ledger operation of that row submitted.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { until } from '../../test/harness/cluster.ts';

/** Why etcd cannot run here, or undefined when it can. */
export function etcdMissing(): string | undefined {
  try {
    execFileSync('etcd', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'etcd is not installed (apt-get install -y etcd-server)';
  }
}

export class EtcdCluster {
  readonly hosts: string[];
  readonly client: Etcd3;
  private readonly procs = new Map<number, ChildProcess>();
  private readonly dir: string;
  private readonly base: number;
  private readonly Etcd3: typeof Etcd3;

  private constructor(E: typeof Etcd3) {
    this.Etcd3 = E;
    this.dir = mkdtempSync(join(tmpdir(), 'ehr-etcd-'));
    this.base = 23000 + Math.floor(Math.random() * 5000);
    this.hosts = Array.from({ length: 5 }, (_, i) => `127.0.0.1:${this.base + i}`);
    for (let i = 0; i < 5; i++) this.start(i, 'new');
    this.client = new E({ hosts: this.hosts });
  }

  static async create(): Promise<EtcdCluster> {
    const { Etcd3 } = await import('etcd3');
    const c = new EtcdCluster(Etcd3);
    try {
      await until(
        'etcd',
        async () => {
          await c.client.put('ping').value('1');
          return true;
        },
        30_000,
      );
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  get pids(): number[] {
    return [...this.procs.values()].map((p) => p.pid!);
  }

  start(i: number, state: 'new' | 'existing'): void {
    const peers = Array.from(
      { length: 5 },
      (_, k) => `n${k + 1}=http://127.0.0.1:${this.base + 100 + k}`,
    ).join(',');
    this.procs.set(
      i,
      spawn(
        'etcd',
        [
          '--name',
          `n${i + 1}`,
          '--data-dir',
          join(this.dir, `n${i + 1}`),
          '--listen-peer-urls',
          `http://127.0.0.1:${this.base + 100 + i}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${this.base + 100 + i}`,
          '--listen-client-urls',
          `http://127.0.0.1:${this.base + i}`,
          '--advertise-client-urls',
          `http://127.0.0.1:${this.base + i}`,
          '--initial-cluster',
          peers,
          '--initial-cluster-state',
          state,
          '--log-level',
          'error',
        ],
        { stdio: 'ignore' },
      ),
    );
  }

  /**
   * One operation of a row: a put of `bytes`, or for an audited read a linearizable get of a
   * value that size together with a put of the audit entry (`auditBytes`).
   */
  op(
    kind: 'put' | 'read',
    bytes: number,
    auditBytes: number,
  ): (c: number, i: number) => Promise<void> {
    const value = randomBytes(bytes);
    if (kind === 'put') {
      return async (c, i) => {
        await this.client.put(`bench/${c}/${i}`).value(value);
      };
    }
    const audit = randomBytes(auditBytes);
    let seeded: Promise<unknown> | undefined;
    return async (c, i) => {
      seeded ??= this.client.put('bench/record').value(value).exec();
      await seeded;
      await Promise.all([
        this.client.get('bench/record').buffer(),
        this.client.put(`audit/${c}/${i}`).value(audit),
      ]);
    };
  }

  /** SIGKILLs the leader; ms until a put is accepted by the others; restarts the member. */
  async failover(k: number): Promise<number> {
    const status = await Promise.all(
      this.hosts.map(async (h, i) => {
        const c = new this.Etcd3({ hosts: [h] });
        try {
          const s = await c.maintenance.status();
          return s.leader === s.header.member_id ? i : -1;
        } finally {
          c.close();
        }
      }),
    );
    const leader = status.find((x) => x >= 0)!;
    const killedAt = performance.now();
    this.procs.get(leader)!.kill('SIGKILL');
    const others = new this.Etcd3({ hosts: this.hosts.filter((_h, i) => i !== leader) });
    for (;;) {
      try {
        await Promise.race([
          others.put('failover').value(String(k)),
          new Promise((_r, rej) => setTimeout(() => rej(new Error('t')), 1000)),
        ]);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const ms = Math.round(performance.now() - killedAt);
    others.close();
    this.start(leader, 'existing');
    await new Promise((r) => setTimeout(r, 3000));
    return ms;
  }

  async stop(): Promise<void> {
    this.client.close();
    for (const p of this.procs.values()) p.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
