/**
 * Randomized fault schedule against five real validator daemons under continuous load: a seeded
 * PRNG decides, ahead of time, when to SIGKILL a node, restart a stopped one, cut a minority off
 * the network (when network namespaces are available) and heal, when patients upload a burst of
 * documents near the genesis maximum (8 MiB), and when a stopped node's key is used by a rogue
 * host sending extreme and out-of-range terms and fake block announcements. The schedule is a pure function
 * of (seed, seconds, nodes, partitions), so a failing seed replays the same actions.
 *
 * At the end everything is healed and restarted, the nodes must converge, and the report counts
 * acknowledged transactions lost, transactions in the chain twice, forks (heights where nodes
 * hold different blocks) and nodes whose state hash differs: all must be 0.
 *
 * Used by scripts/chaos.ts (table + .bench/chaos.json) and test/chaos.test.ts.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { EhrClient, RpcClient } from '@ehr/api';
import { generateSecretKey, seededRandom } from '@ehr/core';
import { DEFAULT_LIMITS } from '@ehr/ledger';
import { TestCluster, until } from './cluster.ts';
import { type LoadResult, runLoad } from './load.ts';
import { NetnsLab, netnsSupport, reapLeftovers } from './netns.ts';

export type ChaosAction =
  | { at: number; kind: 'kill'; node: string }
  | { at: number; kind: 'restart'; node: string }
  | { at: number; kind: 'partition'; minority: string[] }
  | { at: number; kind: 'heal' }
  /** Patients upload `count` documents near the genesis maximum at once through live nodes. */
  | { at: number; kind: 'documents'; count: number }
  /**
   * While `node` is down, a host with its key sends consensus messages with extreme and
   * out-of-range terms and fake block announcements (test/harness/rogue-member.ts).
   */
  | { at: number; kind: 'rogue'; node: string };

/** The seeded PRNG of @ehr/core (mulberry32). */
export const prng = seededRandom;

/**
 * The whole fault schedule, decided up front. Invariant: the nodes that are down or cut off
 * never exceed a minority, so a connected majority is always up and the load can make progress.
 */
export function chaosSchedule(opts: {
  seed: number;
  seconds: number;
  nodes: string[];
  partitions: boolean;
}): ChaosAction[] {
  const rand = prng(opts.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const f = Math.floor((opts.nodes.length - 1) / 2);
  const down = new Set<string>();
  let cut: string[] = [];
  const faulty = (extra: string[] = []) => new Set([...down, ...cut, ...extra]).size;
  const actions: ChaosAction[] = [];
  // Warm up first; leave the last two seconds quiet so the final action has an effect to see.
  const end = opts.seconds * 1000 - 2000;
  for (
    let at = 2000 + Math.floor(rand() * 1000);
    at < end;
    at += 1000 + Math.floor(rand() * 3000)
  ) {
    const choices: ChaosAction['kind'][] = [];
    const killable = opts.nodes.filter((n) => !down.has(n) && faulty([n]) <= f);
    if (killable.length > 0) choices.push('kill', 'kill', 'kill');
    if (down.size > 0) choices.push('restart', 'restart', 'restart');
    if (opts.partitions && cut.length === 0) choices.push('partition', 'partition');
    if (cut.length > 0) choices.push('heal', 'heal');
    choices.push('documents');
    if (down.size > 0) choices.push('rogue');
    const kind = pick(choices);
    if (kind === 'documents') {
      actions.push({ at, kind, count: 2 + Math.floor(rand() * 3) });
    } else if (kind === 'rogue') {
      actions.push({ at, kind, node: pick([...down].sort()) });
    } else if (kind === 'kill') {
      const node = pick(killable);
      down.add(node);
      actions.push({ at, kind, node });
    } else if (kind === 'restart') {
      const node = pick([...down].sort());
      down.delete(node);
      actions.push({ at, kind, node });
    } else if (kind === 'partition') {
      // The down nodes count against the minority: choose among sets that keep the invariant.
      const size = 1 + Math.floor(rand() * f);
      const pool = [...opts.nodes];
      const minority: string[] = [];
      while (minority.length < size && pool.length > 0) {
        const n = pool.splice(Math.floor(rand() * pool.length), 1)[0]!;
        if (faulty([...minority, n]) <= f) minority.push(n);
      }
      cut = minority.sort();
      actions.push({ at, kind, minority: cut });
    } else {
      cut = [];
      actions.push({ at, kind });
    }
  }
  return actions;
}

export function describeAction(a: ChaosAction): string {
  switch (a.kind) {
    case 'kill':
      return `SIGKILL ${a.node}`;
    case 'restart':
      return `restart ${a.node}`;
    case 'partition':
      return `cut off ${a.minority.join(',')}`;
    case 'heal':
      return 'heal';
    case 'documents':
      return `${a.count} documents`;
    case 'rogue':
      return `rogue ${a.node}`;
  }
}

const ROGUE = resolve(import.meta.dirname, 'rogue-member.ts');
/** A document whose sealed body is just under the genesis maximum. */
const DOCUMENT_BYTES = DEFAULT_LIMITS.maxDocumentBytes - 4096;

/**
 * `count` new patients each sign up and attach one large document at the same time, through
 * live nodes in turn; what commits is acknowledged (so it must be in the final chain).
 */
async function documentBurst(
  c: TestCluster,
  count: number,
  nodes: () => string[],
  result: LoadResult,
): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const live = nodes();
      if (live.length === 0) return;
      const via = live[i % live.length]!;
      const ehr = new EhrClient(c.node(via).gatewayUrl, generateSecretKey(), {
        timeoutMs: 60_000,
      });
      try {
        await ehr.patient.register({ name: `burst ${i}` });
        const data = new Uint8Array(DOCUMENT_BYTES);
        for (let k = 0; k < data.length; k += 4096) data[k] = (k >> 12) & 255;
        const r = await ehr.patient.attachDocument({
          content: { type: 'file', name: `scan-${i}.pdf`, mediaType: 'application/pdf', data },
        });
        if (r.status === 'committed') result.acknowledged.add(r.hash);
      } catch {
        // The node went down or was cut off meanwhile: not acknowledged, nothing to check.
        result.failures++;
      }
    }),
  );
}

/** Runs the rogue member with `node`'s key (in its namespace when there is one). */
function runRogue(c: TestCluster, node: string, seconds: number): Promise<void> {
  const argv = [process.execPath, ROGUE, c.node(node).config, String(seconds)];
  const [cmd, args] = c.netns ? c.netns.command(node, argv) : [argv[0]!, argv.slice(1)];
  return new Promise((done) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.once('exit', () => done());
    child.once('error', () => done());
  });
}

export interface ChaosLogEntry {
  /** Planned and actual time, ms since the chaos phase began. */
  at: number;
  actualAt: number;
  action: string;
  /** Every node's role, term and height just before the action (the schedule ignores it). */
  view: string;
}

/** One sample per second while the faults run: what each node reported. */
export interface ChaosSample {
  t: number;
  acknowledged: number;
  view: string;
}

export interface ChaosReport {
  seed: number;
  seconds: number;
  partitions: boolean;
  partitionsSkippedReason: string | null;
  actions: ChaosLogEntry[];
  timeline: ChaosSample[];
  acknowledged: number;
  loadFailures: number;
  throughputTxPerSec: number;
  /**
   * Longest stretch of the timeline without a new acknowledgement, and when it began (ms).
   * Not a violation (the schedule keeps a majority up and connected, but elections and
   * catch-ups take time); a long one is worth a look at the timeline.
   */
  longestStall: { ms: number; fromMs: number };
  converged: boolean;
  convergeMs: number;
  height: number;
  /** Acknowledged but absent from the final chain. */
  lost: string[];
  /** Transactions that appear more than once in some node's chain. */
  duplicated: string[];
  /** Heights at which not every node holds the same block. */
  forks: number[];
  /** Nodes whose final state hash differs from the first node's. */
  divergentStateHashes: string[];
  /** Nodes whose process quit by itself (halted or crashed). */
  exited: string[];
  nodes: { name: string; height: number; hash: string; stateHash: string; role: string }[];
  violations: number;
  /** The end of every node's log, kept only when something is wrong. */
  logTails?: Record<string, string>;
}

export const NODES = ['node1', 'node2', 'node3', 'node4', 'node5'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** "n1 L3/120" = node1 leader in term 3 at height 120; "-" = no answer within a second. */
async function view(c: TestCluster): Promise<string> {
  const st = await Promise.all(
    NODES.map((n) =>
      new RpcClient(c.node(n).gatewayUrl)
        .call<{ role: string; term: number; height: number }>('status', undefined, 1000)
        .catch(() => undefined),
    ),
  );
  return NODES.map((n, i) => {
    const s = st[i];
    const role = s ? (s.role === 'precandidate' ? 'P' : s.role[0]!.toUpperCase()) : '';
    return `n${n.slice(4)} ${s ? `${role}${s.term}/${s.height}` : '-'}`;
  }).join('  ');
}

/** Block hash and tx hashes of every height 1..height, fetched with a few requests in flight. */
async function chainOf(url: string, height: number): Promise<{ hash: string; txs: string[] }[]> {
  const c = new RpcClient(url);
  const out: { hash: string; txs: string[] }[] = new Array(height);
  let next = 1;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let h = next++; h <= height; h = next++) {
        const b = await c.call<{ hash: string; txs: string[] }>('chain_getBlock', { height: h });
        out[h - 1] = { hash: b.hash, txs: b.txs };
      }
    }),
  );
  return out;
}

export async function runChaos(opts: {
  seed: number;
  seconds: number;
  clients?: number;
  /** Partitions need root and network namespaces; false forces them off. */
  partitions?: boolean;
  log?: (line: string) => void;
}): Promise<ChaosReport> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const support = netnsSupport();
  const partitions = opts.partitions !== false && support.ok;
  const skipped =
    opts.partitions === false
      ? 'disabled'
      : support.ok
        ? null
        : (support as { reason: string }).reason;
  if (skipped) log(`partitions off: ${skipped}`);
  if (support.ok) {
    const reaped = reapLeftovers();
    if (reaped.length > 0) log(`removed leftovers of dead runs: ${reaped.join(', ')}`);
  }
  const schedule = chaosSchedule({
    seed: opts.seed,
    seconds: opts.seconds,
    nodes: NODES,
    partitions,
  });
  let lab: NetnsLab | undefined;
  let cluster: TestCluster | undefined;
  try {
    // Namespaces also when partitions are off by request: same topology, fewer variables.
    lab = support.ok ? NetnsLab.create(NODES) : undefined;
    cluster = await TestCluster.create({ validators: 5, ...(lab ? { netns: lab } : {}) });
    const c = cluster;
    c.startAll();
    await until('a leader', () => c.leader(), 60_000);

    const down = new Set<string>();
    let cut: string[] = [];
    let stop = false;
    const result: LoadResult = { acknowledged: new Set(), failures: 0, latenciesMs: [] };
    // Most clients use nodes on the majority side; two also use cut-off nodes, where a commit
    // times out and the client retries the same transaction elsewhere (the duplicate hazard).
    // Were all clients to rotate over cut-off nodes, they would spend most of their time
    // waiting out those timeouts and the majority would see little load.
    const clients = opts.clients ?? 8;
    const edge = Math.min(2, clients);
    const load = Promise.all([
      runLoad(c, {
        clients: clients - edge,
        until: () => stop,
        nodes: () => NODES.filter((n) => !down.has(n) && !cut.includes(n)),
        result,
      }),
      runLoad(c, {
        clients: edge,
        until: () => stop,
        nodes: () => NODES.filter((n) => !down.has(n)),
        result,
      }),
    ]);
    const bursts: Promise<void>[] = [];
    const rogues = new Map<string, Promise<void>>();
    const t0 = Date.now();
    const entries: ChaosLogEntry[] = [];
    const timeline: ChaosSample[] = [];
    const monitor = (async () => {
      while (!stop) {
        const next = Date.now() + 1000;
        timeline.push({
          t: Date.now() - t0,
          acknowledged: result.acknowledged.size,
          view: await view(c),
        });
        await sleep(Math.max(0, next - Date.now()));
      }
    })();
    for (const a of schedule) {
      const wait = t0 + a.at - Date.now();
      if (wait > 0) await sleep(wait);
      const entry = {
        at: a.at,
        actualAt: Date.now() - t0,
        action: describeAction(a),
        view: await view(c),
      };
      log(
        `${(entry.actualAt / 1000).toFixed(1).padStart(6)}s  ${entry.action.padEnd(18)} ${entry.view}  acked ${result.acknowledged.size}`,
      );
      entries.push(entry);
      if (a.kind === 'kill') {
        down.add(a.node);
        await c.kill(a.node);
      } else if (a.kind === 'documents') {
        bursts.push(
          documentBurst(
            c,
            a.count,
            () => NODES.filter((n) => !down.has(n) && !cut.includes(n)),
            result,
          ),
        );
      } else if (a.kind === 'rogue') {
        // Holds the node's key and address until it is done: a restart waits for it.
        rogues.set(a.node, runRogue(c, a.node, 3));
      } else if (a.kind === 'restart') {
        await rogues.get(a.node);
        rogues.delete(a.node);
        c.start(a.node);
        down.delete(a.node);
      } else if (a.kind === 'partition') {
        lab!.partition([NODES.filter((n) => !a.minority.includes(n)), a.minority]);
        cut = a.minority;
      } else {
        lab!.heal();
        cut = [];
      }
    }
    const rest = t0 + opts.seconds * 1000 - Date.now();
    if (rest > 0) await sleep(rest);
    const chaosMs = Date.now() - t0;
    stop = true;
    await Promise.all([load, monitor, ...bursts, ...rogues.values()]);

    // Heal everything, restart everything, and let the network settle.
    lab?.heal();
    for (const n of down) c.start(n);
    down.clear();
    const settleAt = Date.now();
    const converged = await until(
      'all five nodes to converge',
      async () => {
        const st = await Promise.all(NODES.map((n) => c.status(n)));
        if (st.some((s) => !s)) return false;
        const f = st[0]!;
        return st.every(
          (s) => s!.height === f.height && s!.hash === f.hash && s!.stateHash === f.stateHash,
        );
      },
      90_000,
    ).catch(() => false);
    const convergeMs = Date.now() - settleAt;
    // Every node was started last by us and never killed since: one that is not running quit
    // by itself (a halt or a crash), which is a failure however the chains look.
    const exited = NODES.filter((n) => !c.running(n));
    const statuses = await Promise.all(NODES.map((n) => c.status(n)));
    const nodes = NODES.map((name, i) => {
      const s = statuses[i];
      return {
        name,
        height: s?.height ?? -1,
        hash: s?.hash ?? '',
        stateHash: s?.stateHash ?? '',
        role: s?.role ?? 'down',
      };
    });

    // Compare every height every node has; a node that did not answer counts as divergent.
    const chains = (
      await Promise.all(
        nodes.map((n) =>
          n.height < 0
            ? undefined
            : chainOf(c.node(n.name).gatewayUrl, n.height).catch(() => undefined),
        ),
      )
    ).filter((ch) => ch !== undefined);
    const common = Math.min(...chains.map((ch) => ch.length));
    const forks: number[] = [];
    for (let h = 0; h < common; h++) {
      if (new Set(chains.map((ch) => ch[h]!.hash)).size > 1) forks.push(h + 1);
    }
    const longest = chains.reduce((a, b) => (b.length > a.length ? b : a));
    const inChain = new Set(longest.flatMap((b) => b.txs));
    const lost = [...result.acknowledged].filter((h) => !inChain.has(h));
    const duplicated = new Set<string>();
    for (const ch of chains) {
      const seen = new Set<string>();
      for (const t of ch.flatMap((b) => b.txs)) {
        if (seen.has(t)) duplicated.add(t);
        seen.add(t);
      }
    }
    // Against the most common final (height, state hash); down nodes count as divergent.
    const key = (n: (typeof nodes)[number]) => `${n.height}/${n.stateHash}`;
    const votes = new Map<string, number>();
    for (const n of nodes) votes.set(key(n), (votes.get(key(n)) ?? 0) + 1);
    const usual = [...votes].sort((a, b) => b[1] - a[1])[0]![0];
    const divergentStateHashes = nodes.filter((n) => key(n) !== usual).map((n) => n.name);
    const violations =
      lost.length +
      duplicated.size +
      forks.length +
      divergentStateHashes.length +
      exited.length +
      (converged ? 0 : 1);
    return {
      seed: opts.seed,
      seconds: opts.seconds,
      partitions,
      partitionsSkippedReason: skipped,
      actions: entries,
      timeline,
      acknowledged: result.acknowledged.size,
      loadFailures: result.failures,
      throughputTxPerSec: Math.round((result.acknowledged.size / chaosMs) * 1000 * 10) / 10,
      longestStall: longestStall(timeline),
      converged: converged !== false,
      convergeMs,
      height: Math.max(...nodes.map((n) => n.height)),
      lost,
      duplicated: [...duplicated],
      forks,
      divergentStateHashes,
      exited,
      nodes,
      violations,
      ...(violations > 0
        ? {
            logTails: Object.fromEntries(
              NODES.map((n) => [n, c.log(n).split('\n').slice(-30).join('\n')]),
            ),
          }
        : {}),
    };
  } finally {
    if (process.env.KEEP_E2E && cluster) log(`logs kept in ${cluster.dir}`);
    await cluster?.stop();
    lab?.destroy();
  }
}

export function longestStall(timeline: ChaosSample[]): { ms: number; fromMs: number } {
  let best = { ms: 0, fromMs: 0 };
  let last = timeline[0];
  for (const x of timeline) {
    if (!last || x.acknowledged > last.acknowledged) last = x;
    else if (x.t - last.t > best.ms) best = { ms: x.t - last.t, fromMs: last.t };
  }
  return best;
}

/** The summary table printed by the script and the test. */
export function formatReport(r: ChaosReport): string {
  const rows: [string, string | number][] = [
    ['seed', `${r.seed} (replay: node scripts/chaos.ts --seed ${r.seed} --seconds ${r.seconds})`],
    ['partitions', r.partitions ? 'on (network namespaces)' : `off: ${r.partitionsSkippedReason}`],
    ['actions', r.actions.length],
    ['acknowledged', r.acknowledged],
    ['throughput under chaos (tx/s)', r.throughputTxPerSec],
    [
      'longest stretch without a commit',
      `${r.longestStall.ms} ms from ${(r.longestStall.fromMs / 1000).toFixed(1)} s`,
    ],
    ['load failures (retried)', r.loadFailures],
    ['converged', r.converged ? `yes, ${r.convergeMs} ms after healing` : 'NO'],
    ['final height', r.height],
    ['lost', r.lost.length],
    ['duplicated', r.duplicated.length],
    ['forks', r.forks.length],
    ['divergent state hashes', r.divergentStateHashes.length],
    ['nodes that quit by themselves', r.exited.length ? r.exited.join(', ') : 0],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`);
  lines.push(
    ...r.nodes.map(
      (n) =>
        `  ${n.name.padEnd(w)}  ${n.role} height ${n.height} hash ${n.hash.slice(0, 12)} state ${n.stateHash.slice(0, 12)}`,
    ),
  );
  if (r.violations > 0) {
    lines.push(`  VIOLATIONS: ${r.violations}`);
    if (r.lost.length) lines.push(`  lost: ${r.lost.slice(0, 5).join(', ')}`);
    if (r.duplicated.length) lines.push(`  duplicated: ${r.duplicated.slice(0, 5).join(', ')}`);
    if (r.forks.length) lines.push(`  fork heights: ${r.forks.slice(0, 10).join(', ')}`);
    if (r.divergentStateHashes.length) {
      lines.push(`  divergent: ${r.divergentStateHashes.join(', ')}`);
    }
    lines.push(
      '  timeline (role term/height per node, L leader F follower P precandidate C candidate):',
    );
    for (const x of r.timeline) {
      lines.push(`  ${(x.t / 1000).toFixed(1).padStart(6)}s  ${x.view}  acked ${x.acknowledged}`);
    }
  }
  return lines.join('\n');
}
