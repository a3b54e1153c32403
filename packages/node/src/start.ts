/**
 * Starting a node: builds the parts in order (key, genesis, store - verified, consensus engine
 * from what the store persisted, libp2p host, daemon, metrics), and `stop()` tears them down in
 * reverse. Every refusal names what is wrong: a corrupt store names its first bad height.
 */
import { AccessRecorder } from './access-recorder.ts';
import { READ_INDEX_PROTOCOL, ReadBarrier } from './read-barrier.ts';
import { readFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { RaftNode } from '@ehr/consensus';
import { EhrError, loadKeyFile, toHex } from '@ehr/core';
import {
  genesisBlockHash,
  listMembers,
  type Member,
  parseGenesis,
  type WireLimits,
  wireLimits,
} from '@ehr/ledger';
import { P2PHost } from '@ehr/p2p';
import { Store, verifyStore } from '@ehr/store';
import { blockVerifier, raftPort, storePort } from './adapters.ts';
import { CatchUp } from './catch-up.ts';
import type { NodeConfig } from './config.ts';
import { Daemon } from './daemon.ts';
import { createLogger, type Logger } from './logger.ts';
import { nodeMetrics } from './metrics.ts';
import { RefusalLog } from './refusal-log.ts';
import { startMetricsServer } from './metrics-server.ts';
import { serveSync } from './sync-protocol.ts';

export interface RunningNode {
  daemon: Daemon;
  host: P2PHost;
  store: Store;
  config: NodeConfig;
  logger: Logger;
  metrics: ReturnType<typeof nodeMetrics>;
  metricsUrl: string | null;
  /** Byte limits every layer uses (from the genesis limits); the gateway takes its body limit. */
  wire: WireLimits;
  members(): Member[];
  /** Records a read of health data on chain (access.record signed by this node). */
  access: AccessRecorder;
  /** Waits until this node has applied what the leader had committed (before private reads). */
  reads: ReadBarrier;
  stop(): Promise<void>;
}

export async function startNode(
  config: NodeConfig,
  opts: { logger?: Logger; verify?: boolean } = {},
): Promise<RunningNode> {
  const logger = opts.logger ?? createLogger(config.name, config.log.level);
  const passphrase = config.keyPassphraseEnv ? process.env[config.keyPassphraseEnv] : undefined;
  const key = loadKeyFile(config.keyFile, passphrase);
  if (key.dev)
    logger.warn('this node runs with a development key (unencrypted); never use it in production');
  let genesisText: string;
  try {
    genesisText = readFileSync(config.genesisFile, 'utf8');
  } catch (err) {
    throw new EhrError(
      'GENESIS_UNREADABLE',
      `cannot read genesis file ${config.genesisFile}: ${(err as Error).message}`,
    );
  }
  const genesis = parseGenesis(genesisText, config.genesisFile);
  const wire = wireLimits(genesis.limits);
  mkdirSync(config.dataDir, { recursive: true });
  const store = await Store.open(config.dataDir, genesis);
  const closers: (() => Promise<void>)[] = [() => store.close()];
  const fail = async (err: unknown): Promise<never> => {
    for (const c of closers.reverse()) await c().catch(() => {});
    throw err;
  };
  try {
    if (opts.verify !== false) {
      const report = await verifyStore(store);
      logger.info({ height: report.height, txs: report.txs }, 'store verified');
    }
  } catch (err) {
    return fail(err);
  }
  const nodeId = toHex(key.publicKey);
  let members: Member[] = await listMembers(store.state);
  const memberSet = () => new Set(members.map((m) => m.node));
  let allowed = memberSet();

  const stored = await store.raft.hardState();
  const entries = await store.raft.entries(store.raft.firstIndex, store.raft.lastIndex);
  if (await store.raft.snapshot()) {
    // This node never compacts its consensus log (blocks are kept whole in the store), so a
    // snapshot record means the data directory was written by something else.
    return fail(
      new EhrError(
        'STORE_UNSUPPORTED',
        `${config.dataDir} holds a compacted consensus log, which this version does not read`,
      ),
    );
  }
  const raft = new RaftNode({
    id: nodeId,
    initial: { voters: [...genesis.validators], learners: [...genesis.observers], removed: [] },
    genesisHash: genesisBlockHash(genesis),
    storage: {
      ...(stored ? { hardState: stored } : {}),
      entries,
      applied: store.head().applied,
    },
    electionTick: config.consensus.electionTicks,
    heartbeatTick: config.consensus.heartbeatTicks,
    random: Math.random,
    blockVerifier,
    // A node far behind applies its backlog in steps and answers the leader in between.
    maxCommittedPerReady: 32,
    // One append carries at most one block entry's worth of data: it fits a frame.
    maxBytesPerMsg: wire.entryBytes,
  });
  const isMember = (id: string) =>
    allowed.has(id) || raft.membership.voters.includes(id) || raft.membership.learners.includes(id);
  const metrics = nodeMetrics();
  const refusals = new RefusalLog({ logger, metrics });
  let host: P2PHost;
  try {
    host = await P2PHost.create({
      chainId: genesis.chainId,
      secretKey: key.secretKey,
      listen: config.p2p.listen,
      announce: config.p2p.announce,
      bootstrap: config.p2p.bootstrap,
      isMember,
      maxFrameBytes: wire.frameBytes,
      log: (msg, data) => logger.debug(data ?? {}, msg),
      onRefused: (reason, peer) => refusals.refused(reason, peer),
      onUndelivered: undeliveredReporter(logger, metrics),
    });
  } catch (err) {
    return fail(err);
  }
  closers.push(() => host.stop());
  const daemonStore = storePort(store);
  const daemon = new Daemon({
    config,
    chainId: genesis.chainId,
    secretKey: key.secretKey,
    store: daemonStore,
    network: host,
    raft: raftPort(raft),
    logger,
    metrics,
    maxTxBytes: genesis.limits.maxTxBytes,
    wire,
  });
  // Catch-up sync: serve applied (so committed) log entries to members that are behind, and
  // catch up from them when this node is.
  serveSync(host, {
    position: async () => {
      const h = store.head();
      const at = h.applied > 0 ? (await store.raft.entries(h.applied, h.applied))[0] : undefined;
      return { index: h.applied, term: at?.term ?? 0, height: h.height, hash: h.hash };
    },
    entries: (from, to) => store.raft.entries(from, to),
    maxBytes: wire.entryBytes,
  });
  const reads = new ReadBarrier({
    leading: () => raft.role === 'leader' && raft.canPropose(),
    leader: () => raft.leader,
    commitIndex: () => raft.commit,
    appliedIndex: () => store.head().applied,
    askLeader: (leader, ms) => host.request(leader, READ_INDEX_PROTOCOL, new Uint8Array(), ms),
    onApplied: (fn) => {
      daemon.on('block', fn);
      return () => void daemon.off('block', fn);
    },
  });
  host.handle(READ_INDEX_PROTOCOL, async () => reads.answer());
  const catchUp = new CatchUp({
    network: host,
    store: daemonStore,
    daemon,
    logger,
    metrics,
    members: () =>
      [
        ...new Set([
          ...members.map((m) => m.node),
          ...raft.membership.voters,
          ...raft.membership.learners,
        ]),
      ].filter((id) => id !== nodeId),
    config: config.sync,
  });
  const refreshMembers = async () => {
    members = await listMembers(store.state);
    allowed = memberSet();
    await host.refreshMembership();
  };
  // The peer gauge follows connections as they open and close, not only when blocks arrive.
  const countPeers = () => metrics.peers.set(host.peers().length);
  const offPeers = host.onPeersChanged(countPeers);
  countPeers();
  closers.push(async () => offPeers());
  daemon.on('announced', (height: number) => {
    if (height - store.head().height > config.sync.threshold) catchUp.nudge();
  });
  daemon.on('consensusChanges', () => void refreshMembers().then(() => reconcile()));
  // On the leader, bring the consensus membership in line with the chain's member list, one
  // single-server change at a time (the engine refuses a second while one is pending).
  const reconcile = () => {
    if (raft.role !== 'leader') return;
    const want = new Map(members.map((m) => [m.node, m.role]));
    const { voters, learners } = raft.membership;
    try {
      for (const [node, role] of want) {
        if (role === 'validator' && learners.includes(node))
          return void raft.proposeConfChange({ op: 'promote', node });
        if (
          !voters.includes(node) &&
          !learners.includes(node) &&
          !raft.membership.removed.includes(node)
        ) {
          return void raft.proposeConfChange({ op: 'addLearner', node });
        }
      }
      for (const node of [...voters, ...learners]) {
        if (!want.has(node)) {
          if (node === nodeId) {
            const next = voters.find((v) => v !== nodeId);
            if (next) raft.transferLeadership(next);
            return;
          }
          return void raft.proposeConfChange({ op: 'remove', node });
        }
      }
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'membership change deferred');
    }
  };
  const reconcileTimer = setInterval(reconcile, 1000);
  reconcileTimer.unref();
  // Held until the start-up catch-up check has run (it syncs first if this node is far behind).
  daemon.start({ paused: true });
  catchUp.start();
  let metricsUrl: string | null = null;
  if (config.metrics) {
    const ms = await startMetricsServer(metrics.registry, config.metrics.host, config.metrics.port);
    closers.push(ms.close);
    metricsUrl = ms.url;
  }
  logger.info({ nodeId, addresses: host.addresses, height: store.head().height }, 'node started');
  return {
    daemon,
    host,
    store,
    config,
    logger,
    metrics,
    metricsUrl,
    wire,
    members: () => members,
    access: new AccessRecorder(daemon, genesis.chainId, key.secretKey),
    reads,
    async stop() {
      clearInterval(reconcileTimer);
      await catchUp.stop();
      await daemon.stop();
      for (const c of closers.reverse()) await c().catch(() => {});
      logger.info('node stopped');
    },
  };
}

/**
 * Counts every message the host gave up on (ehr_p2p_undelivered_total{protocol,reason}) and
 * says so at warn, at most once a minute per peer and reason, with how many since the last line.
 */
function undeliveredReporter(logger: Logger, metrics: ReturnType<typeof nodeMetrics>) {
  const last = new Map<string, { at: number; count: number }>();
  return (e: { protocol: string; to: string; messages: number; reason: string }) => {
    metrics.p2pUndelivered.inc(e.messages, { protocol: e.protocol, reason: e.reason });
    const key = `${e.to}:${e.protocol}:${e.reason}`;
    const seen = last.get(key) ?? { at: 0, count: 0 };
    seen.count += e.messages;
    const now = Date.now();
    if (now - seen.at >= 60_000) {
      logger.warn(
        { peer: e.to, protocol: e.protocol, reason: e.reason, dropped: seen.count },
        'messages to a member were dropped (not retried; consensus resends what it still needs)',
      );
      seen.at = now;
      seen.count = 0;
    }
    last.set(key, seen);
  };
}
