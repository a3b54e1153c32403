/**
 * Linux network namespaces for fault tests. Every node gets its own namespace with two links:
 *
 *   - a control link to a bridge in the root namespace: gateway and metrics listen there, so the
 *     test process can always reach every node, partitioned or not;
 *   - a data link to a bridge in a hub namespace: p2p only.
 *
 * A partition moves data links onto separate bridges in the hub: nodes on one bridge reach each
 * other and nobody else. Packets across the cut are silently lost (no RST, no ICMP), as in a real
 * network split, so both sides only learn of it through their own timeouts. Healing moves every
 * data link back onto bridge 0; TCP connections that survived the cut resume.
 *
 * Needs root and iproute2 only (no iptables/nft/tc actions, which minimal kernels lack). Every
 * resource is named after the creating process (ehr-<pid>-<token>-…, bridge alias
 * ehr-netns:<pid>:<token>) so leftovers of a dead run can be found and removed without touching
 * a concurrent run's.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { NodeHost } from '../../scripts/network.ts';

const PREFIX = 'ehr-';
const ALIAS = 'ehr-netns:';

function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr || e.message).trim()}`);
  }
}

/** Like ip(), for cleanup: failures are expected (already gone) and ignored. */
function ipQuiet(args: string[]): void {
  spawnSync('ip', args, { stdio: 'ignore' });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killNamespaceProcesses(ns: string): void {
  const out = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of out.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

type Support = { ok: true } | { ok: false; reason: string };
let support: Support | undefined;

/**
 * Whether namespaces, veth pairs and bridges can be made here (root, iproute2, kernel support),
 * probed once by making and removing a throwaway namespace.
 */
export function netnsSupport(): Support {
  support ??= probeSupport();
  return support;
}

function probeSupport(): Support {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: 'not root (network namespaces need CAP_NET_ADMIN)' };
  }
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) {
    return { ok: false, reason: 'iproute2 `ip` is not installed' };
  }
  const probe = `${PREFIX}${process.pid}-${randomBytes(3).toString('hex').slice(0, 5)}-probe`;
  try {
    ip(['netns', 'add', probe]);
    ip(['-n', probe, 'link', 'add', 'b0', 'type', 'bridge']);
    ip(['-n', probe, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    ip(['-n', probe, 'link', 'set', 'v0', 'master', 'b0']);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `cannot make namespaces here: ${(err as Error).message}` };
  } finally {
    ipQuiet(['netns', 'del', probe]);
  }
}

/**
 * Removes namespaces and bridges left by runs whose process is gone (a killed test worker
 * cannot clean up after itself). Returns what it removed.
 */
export function reapLeftovers(): string[] {
  const removed: string[] = [];
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^ehr-(\d+)-[0-9a-f]{5}-/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    killNamespaceProcesses(name);
    ipQuiet(['netns', 'del', name]);
    removed.push(name);
  }
  const links = spawnSync('ip', ['-j', '-d', 'link', 'show', 'type', 'bridge'], {
    encoding: 'utf8',
  }).stdout;
  for (const l of JSON.parse(links || '[]') as { ifname: string; ifalias?: string }[]) {
    const m = l.ifalias?.startsWith(ALIAS) ? /^ehr-netns:(\d+):/.exec(l.ifalias) : null;
    if (!m || alive(Number(m[1]))) continue;
    ipQuiet(['link', 'del', l.ifname]);
    removed.push(l.ifname);
  }
  return removed;
}

/** A /24 (as its first three octets) that no address or route in the root namespace uses. */
function freeSubnet(): string {
  const used = ip(['-4', '-o', 'addr', 'show']) + ip(['-4', 'route', 'show', 'table', 'all']);
  for (let attempt = 0; attempt < 100; attempt++) {
    const net = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 256)}`;
    if (!used.includes(`${net}.`)) return net;
  }
  throw new Error('no free 10.x.y.0/24 subnet for the control network');
}

export class NetnsLab {
  readonly token: string;
  readonly names: string[];
  private readonly hub: string;
  private readonly bridge: string;
  private readonly hosts = new Map<string, NodeHost>();
  private readonly group = new Map<string, number>();
  private readonly bridges = new Set<number>();
  private destroyed = false;
  private readonly onExit = () => this.destroy();

  private constructor(names: string[]) {
    this.token = randomBytes(3).toString('hex').slice(0, 5);
    this.names = names;
    this.hub = `${PREFIX}${process.pid}-${this.token}-hub`;
    this.bridge = `ehc${this.token}`;
  }

  /** Makes one namespace per name, all connected (one partition group). */
  static create(names: string[]): NetnsLab {
    const lab = new NetnsLab(names);
    process.once('exit', lab.onExit);
    try {
      lab.build();
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  private build(): void {
    const control = freeSubnet();
    // The data subnet lives only inside the node namespaces, so it cannot clash with the host.
    const data = `172.${16 + Math.floor(Math.random() * 16)}.${Math.floor(Math.random() * 256)}`;
    ip(['link', 'add', this.bridge, 'type', 'bridge']);
    ip(['link', 'set', this.bridge, 'alias', `${ALIAS}${process.pid}:${this.token}`]);
    ip(['addr', 'add', `${control}.1/24`, 'dev', this.bridge]);
    ip(['link', 'set', this.bridge, 'up']);
    ip(['netns', 'add', this.hub]);
    ip(['-n', this.hub, 'link', 'set', 'lo', 'up']);
    this.ensureBridge(0);
    this.names.forEach((name, k) => {
      const i = k + 1;
      const ns = this.ns(name);
      ip(['netns', 'add', ns]);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      const ctl = `${this.bridge}-${i}`;
      ip(['link', 'add', ctl, 'type', 'veth', 'peer', 'name', 'ctl', 'netns', ns]);
      ip(['link', 'set', ctl, 'master', this.bridge, 'up']);
      ip(['-n', ns, 'addr', 'add', `${control}.${10 + i}/24`, 'dev', 'ctl']);
      ip(['-n', ns, 'link', 'set', 'ctl', 'up']);
      ip([
        '-n',
        this.hub,
        'link',
        'add',
        `d${i}`,
        'type',
        'veth',
        'peer',
        'name',
        'data',
        'netns',
        ns,
      ]);
      ip(['-n', this.hub, 'link', 'set', `d${i}`, 'master', 'br0', 'up']);
      ip(['-n', ns, 'addr', 'add', `${data}.${10 + i}/24`, 'dev', 'data']);
      ip(['-n', ns, 'link', 'set', 'data', 'up']);
      this.hosts.set(name, { p2p: `${data}.${10 + i}`, api: `${control}.${10 + i}` });
      this.group.set(name, 0);
    });
  }

  private ensureBridge(g: number): void {
    if (this.bridges.has(g)) return;
    ip(['-n', this.hub, 'link', 'add', `br${g}`, 'type', 'bridge']);
    ip(['-n', this.hub, 'link', 'set', `br${g}`, 'up']);
    this.bridges.add(g);
  }

  ns(name: string): string {
    if (!this.names.includes(name)) throw new Error(`no namespace for ${name}`);
    return `${PREFIX}${process.pid}-${this.token}-${name}`;
  }

  /** p2p on the data link, gateway and metrics on the control link. */
  host(name: string): NodeHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no namespace for ${name}`);
    return h;
  }

  /** argv prefixed so that it runs inside the node's namespace. */
  command(name: string, argv: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.ns(name), ...argv]];
  }

  /**
   * Cuts the data network into the given groups: nodes in one group reach each other only.
   * Nodes named in no group join the first one.
   */
  partition(groups: string[][]): void {
    const target = new Map(this.names.map((n) => [n, 0]));
    groups.forEach((g, k) => {
      for (const n of g) target.set(n, k);
    });
    for (const [name, g] of target) {
      if (this.group.get(name) === g) continue;
      this.ensureBridge(g);
      ip(['-n', this.hub, 'link', 'set', `d${this.names.indexOf(name) + 1}`, 'master', `br${g}`]);
      this.group.set(name, g);
    }
  }

  heal(): void {
    this.partition([this.names]);
  }

  /** The current groups (one group when healed). */
  groups(): string[][] {
    const by = new Map<number, string[]>();
    for (const n of this.names) {
      const g = this.group.get(n)!;
      by.set(g, [...(by.get(g) ?? []), n]);
    }
    return [...by.keys()].sort().map((g) => by.get(g)!);
  }

  /** Kills whatever still runs in the namespaces and removes them and the bridge. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    for (const name of this.names) {
      const ns = `${PREFIX}${process.pid}-${this.token}-${name}`;
      killNamespaceProcesses(ns);
      ipQuiet(['netns', 'del', ns]);
    }
    ipQuiet(['netns', 'del', this.hub]);
    // Root-side veth ends go with their namespaces; the bridge must go explicitly.
    ipQuiet(['link', 'del', this.bridge]);
  }
}
