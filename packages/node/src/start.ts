/**
 * Starting a node: reads what must be right before anything runs (key, genesis, the store - its
 * head, last blocks and consensus state checked; the background scrubber re-verifies the rest
 * while the node serves - and the consensus state it persisted), then builds the parts, wires each to the
 * few operations it needs of the others, and starts them in order (lifecycle.ts); `stop()`
 * stops them in reverse. Every refusal names what is wrong: a corrupt store names its first
 * bad height.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { EhrError, loadKeyFile, type NodeStatus, toHex } from '@ehr/core';
import { type Member, parseGenesis, type WireLimits, wireLimits } from '@ehr/ledger';
import { P2PHost } from '@ehr/p2p';
import { checkRecent, Store, verifyStore } from '@ehr/store';
import { AccessRecorder } from './access-recorder.ts';
import { raftPort, storePort } from './adapters.ts';
import { BlockAnnouncer } from './block-announcer.ts';
import { CatchUp } from './catch-up.ts';
import { EntryCompactor, GossipedHashes } from './compact-entry.ts';
import type { NodeConfig } from './config.ts';
import type { Daemon } from './daemon.ts';
import { Lifecycle } from './lifecycle.ts';
import { createLogger, type Logger } from './logger.ts';
import { wireLoop } from './loop-wiring.ts';
import { MemberList, MembershipReconciler } from './membership.ts';
import { nodeMetrics } from './metrics.ts';
import { startMetricsServer } from './metrics-server.ts';
import { nodeStatus } from './node-status.ts';
import type { BlockEvent } from './ports.ts';
import { loadEngine } from './raft-load.ts';
import { READ_INDEX_PROTOCOL, ReadBarrier } from './read-barrier.ts';
import { RefusalLog } from './refusal-log.ts';
import { Scrubber } from './scrubber.ts';
import { SnapshotInstaller } from './snapshot-install.ts';
import { serveSync } from './sync-protocol.ts';
import type { TxIntake } from './tx-intake.ts';

export interface RunningNode {
  daemon: Daemon;
  /** Transaction intake: submit, statuses, the mempool. */
  txs: TxIntake;
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
  /** The node's status as `node_status` serves it. */
  status(): NodeStatus;
  /** Calls back on every applied block; returns an unsubscribe function. */
  onBlock(fn: (e: BlockEvent) => void): () => void;
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
  const store = await Store.open(config.dataDir, genesis, {
    stateCacheBytes: config.caches.stateBytes,
  });
  const parts = new Lifecycle(logger);
  parts.started('store', { stop: () => store.close() });
  try {
    return await wire_(config, { logger, key, genesis, wire, store, parts, verify: opts.verify });
  } catch (err) {
    await parts.stop();
    throw err;
  }
}

async function wire_(
  config: NodeConfig,
  c: {
    logger: Logger;
    key: ReturnType<typeof loadKeyFile>;
    genesis: ReturnType<typeof parseGenesis>;
    wire: WireLimits;
    store: Store;
    parts: Lifecycle;
    verify: boolean | undefined;
  },
): Promise<RunningNode> {
  const { logger, key, genesis, wire, store, parts } = c;
  if (c.verify !== false && config.scrub.verifyAllAtStart) {
    const t0 = performance.now();
    const r = await verifyStore(store);
    logger.info(
      { height: r.height, txs: r.txs, ms: Math.round(performance.now() - t0) },
      'whole store verified',
    );
  } else if (c.verify !== false) {
    // Only what serving needs; the scrubber walks the whole store in the background.
    const t0 = performance.now();
    const r = await checkRecent(store, config.scrub.startupBlocks, config.scrub.startupBytes);
    logger.info(
      { height: r.height, from: r.from, ms: Math.round(performance.now() - t0) },
      'store head and last blocks verified',
    );
  }
  const nodeId = toHex(key.publicKey);
  // What went out by gossip: the leader's block entries carry those by hash (compact-entry.ts).
  const gossiped = config.consensus.compactEntries ? new GossipedHashes() : undefined;
  const entryCompactor = gossiped ? new EntryCompactor((h) => gossiped.has(h)) : undefined;
  const engine = raftPort(
    await loadEngine(config, { nodeId, genesis, wire, store }),
    entryCompactor ? { outgoing: (m) => entryCompactor.outgoing(m) } : {},
  );
  const members = new MemberList(store.state);
  await members.refresh();
  // A member of the chain's list, or of the engine's membership (joining or leaving).
  const isMember = (id: string) => {
    if (members.has(id)) return true;
    const m = engine.membership();
    return m.voters.includes(id) || m.learners.includes(id);
  };
  const metrics = nodeMetrics();
  const refusals = new RefusalLog({ logger, metrics });
  const host = await P2PHost.create({
    chainId: genesis.chainId,
    secretKey: key.secretKey,
    listen: config.p2p.listen,
    announce: config.p2p.announce,
    bootstrap: config.p2p.bootstrap,
    isMember,
    // Removed, and still being told so by this leader: kept connected, never admitted anew.
    isLeaving: (id) => engine.leaving().includes(id),
    maxFrameBytes: wire.frameBytes,
    log: (msg, data) => logger.debug(data ?? {}, msg),
    onRefused: (reason, peer) => refusals.refused(reason, peer),
    onUndelivered: undeliveredReporter(logger, metrics),
  });
  parts.started('p2p host', host);
  const nodeStore = storePort(store);
  // Late-bound: the member list the installer asks is built from the loop (below).
  let otherMembers: () => string[] = () => [];
  const installer = new SnapshotInstaller({
    network: host,
    members: () => otherMembers(),
    store: nodeStore,
    voters: () => {
      const validators = members
        .all()
        .filter((m) => m.role === 'validator')
        .map((m) => m.node);
      return [...new Set([...engine.membership().voters, ...validators])];
    },
    config: config.sync,
    logger,
  });

  const {
    daemon: loop,
    txs,
    onBlock,
    syncPort,
  } = wireLoop({
    config,
    chainId: genesis.chainId,
    secretKey: key.secretKey,
    maxTxBytes: genesis.limits.maxTxBytes,
    wire,
    store: nodeStore,
    network: host,
    engine,
    // Declared below: the barrier reads the loop's view. Long enough to outlast a leader change
    // (two of the longest election timeouts, then the new leader's first commit): a refusal
    // judged on a follower that has not applied what was acknowledged before the old leader
    // froze would be wrong (consent-finality e2e, after the election timeout grew to 1-2 s).
    caughtUp: (): Promise<void> => {
      const { electionTicks, tickMs } = config.consensus;
      return reads.wait(Math.max(3000, 4 * electionTicks * tickMs + 1000));
    },
    logger,
    metrics,
    ...(gossiped ? { gossiped } : {}),
    installer,
  });
  otherMembers = () => {
    const m = loop.consensus.membership();
    return [...new Set([...members.all().map((x) => x.node), ...m.voters, ...m.learners])].filter(
      (id) => id !== nodeId,
    );
  };
  let catchUp: CatchUp | undefined;
  const announcer = new BlockAnnouncer({
    nodeId,
    network: host,
    head: () => store.head(),
    consensus: () => loop.consensus.view(),
    metrics,
    logger,
    onAnnounced: (height) => {
      if (height - store.head().height > config.sync.threshold) catchUp?.nudge();
    },
  });
  onBlock((b) => announcer.applied(b));
  catchUp = new CatchUp({
    network: host,
    store: nodeStore,
    chain: syncPort(() => announcer.settle()),
    logger,
    metrics,
    members: otherMembers,
    config: config.sync,
  });
  const sync = catchUp;
  // Serve applied (so committed) log entries to members that are behind: from the log, or
  // rebuilt from the block store below the compacted index (log-source.ts).
  serveSync(host, {
    position: async () => {
      const h = store.head();
      const term = h.applied > 0 ? ((await store.raft.termAt(h.applied)) ?? 0) : 0;
      return { index: h.applied, term, height: h.height, hash: h.hash };
    },
    entries: (from, to) => nodeStore.servedEntries(from, to),
    maxBytes: wire.entryBytes,
  });
  const reads: ReadBarrier = new ReadBarrier({
    leading: () => {
      const st = loop.consensus.view();
      return st.role === 'leader' && st.canPropose;
    },
    leader: () => loop.consensus.view().leader,
    commitIndex: () => loop.consensus.view().commit,
    appliedIndex: () => store.head().applied,
    askLeader: (leader, ms) => host.request(leader, READ_INDEX_PROTOCOL, new Uint8Array(), ms),
    onApplied: onBlock,
  });
  host.handle(READ_INDEX_PROTOCOL, async () => reads.answer());
  const reconciler = new MembershipReconciler({ members, engine: loop.consensus, logger });
  loop.on('consensusChanges', () => {
    void members
      .refresh()
      .then(() => host.refreshMembership())
      .then(() => reconciler.reconcile());
  });
  // The peer gauge follows connections as they open and close, not only when blocks arrive.
  const countPeers = () => metrics.peers.set(host.peers().length);
  const offPeers = host.onPeersChanged(countPeers);
  countPeers();
  parts.started('peer gauge', { stop: offPeers });

  await parts.start('transaction intake', txs);
  await parts.start('block announcer', announcer);
  // Held until the start-up catch-up check has run (it syncs first if this node is far behind).
  await parts.start('consensus loop', {
    start: () => loop.start({ paused: true }),
    stop: () => loop.stop(),
  });
  await parts.start('catch-up sync', sync);
  await parts.start('membership reconciler', reconciler);
  const scrubber = new Scrubber({
    db: store.db,
    genesis,
    config: config.scrub,
    logger,
    metrics,
    onCorrupt: (err) => loop.haltFor(err),
  });
  await parts.start('scrubber', scrubber);
  // Cache sizes, on every block and every few seconds (ehr_cache_bytes{cache}).
  const cacheGauges = () => {
    metrics.cacheBytes.set(store.state.cacheBytes, { cache: 'state' });
    metrics.cacheBytes.set(txs.tracker.byteSize, { cache: 'tx_status' });
    metrics.cacheBytes.set(txs.mempool.byteSize, { cache: 'mempool' });
  };
  cacheGauges();
  const offCacheBlock = onBlock(cacheGauges);
  const cacheTimer = setInterval(cacheGauges, 5000);
  cacheTimer.unref();
  parts.started('cache gauges', {
    stop: () => {
      offCacheBlock();
      clearInterval(cacheTimer);
    },
  });
  let metricsUrl: string | null = null;
  if (config.metrics) {
    const ms = await startMetricsServer(metrics.registry, config.metrics.host, config.metrics.port);
    parts.started('metrics server', { stop: ms.close });
    metricsUrl = ms.url;
  }
  logger.info({ nodeId, addresses: host.addresses, height: store.head().height }, 'node started');
  return {
    daemon: loop,
    txs,
    host,
    store,
    config,
    logger,
    metrics,
    metricsUrl,
    wire,
    members: () => members.all(),
    access: new AccessRecorder(txs, genesis.chainId, key.secretKey),
    reads,
    status: () =>
      nodeStatus({
        name: config.name,
        chainId: genesis.chainId,
        raft: loop.consensus.status(),
        head: store.head(),
        sync: sync.status,
        announced: announcer.height(),
        peers: host.peers().length,
        mempool: { txs: txs.mempool.size, bytes: txs.mempool.byteSize },
        halted: loop.halted(),
        loop: loop.loopStatus(),
        log: {
          compactedIndex: store.raft.compactedIndex,
          firstIndex: store.raft.firstIndex,
          lastIndex: store.raft.lastIndex,
          durableHeight: store.durable().height,
        },
        scrub: scrubber.status,
      }),
    onBlock,
    async stop() {
      await parts.stop();
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
