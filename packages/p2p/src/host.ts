/**
 * The libp2p host of a node: TCP + Noise + Yamux, identify, ping, a private Kademlia DHT (its
 * protocol id is derived from the chain id, so it never joins the public DHT), gossipsub for
 * transactions, a length-prefixed consensus channel (one long-lived stream per peer for small
 * messages; large ones as acknowledged requests, one at a time per peer) and request/response
 * protocols. A connection gater refuses every peer that is not a member on
 * chain, asked at each connection, so membership changes apply without a restart.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { EhrError } from '@ehr/core';
import { gossipsub, TopicValidatorResult } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { type Connection, KEEP_ALIVE, type PeerId, type Stream } from '@libp2p/interface';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { libp2pKey, nodeIdOf, peerIdOf } from './identity.ts';

export interface HostOptions {
  chainId: string;
  secretKey: Uint8Array;
  listen: string[];
  announce?: string[];
  /** Multiaddrs with /p2p/<peer id>. */
  bootstrap: string[];
  /** Is this node id (hex) a member on chain right now? */
  isMember: (nodeId: string) => boolean;
  /**
   * A removed member the consensus leader still tells of its removal: its open connections and
   * streams stay (its acknowledgment must get through), but no new connection is admitted.
   */
  isLeaving?: (nodeId: string) => boolean;
  /**
   * The largest frame on any protocol (consensus message, request, reply, gossip message); the
   * node derives it from the genesis limits (wireLimits). libp2p's stream read buffers are sized
   * from it, so a frame this large is never cut by a buffer limit below it.
   */
  maxFrameBytes?: number;
  log?: (msg: string, data?: Record<string, unknown>) => void;
  /**
   * Called for every peer refused for not being a member: by the connection gater (`inbound`,
   * `outbound`, `dial`) or on a stream or gossip message (`stream`, `gossip`). `peer` is its node
   * id (hex), or its libp2p peer id when that is not an Ed25519 key.
   */
  onRefused?: (reason: RefusalReason, peer: string) => void;
  /**
   * A message this host gave up on (never retried here): consensus messages dropped because the
   * peer's queue is full, unreachable or its write failed. Called once per dropped batch.
   */
  onUndelivered?: (e: { protocol: string; to: string; messages: number; reason: string }) => void;
}

/** Default frame limit when the node gives none (wireLimits of the default genesis limits). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * A stream's read buffer holds the frame being read and the start of the next (the sender
 * writes frames back to back): two frames plus the length prefixes.
 */
export function streamBufferBytes(maxFrameBytes: number): number {
  return 2 * maxFrameBytes + 64;
}

export type RefusalReason = 'inbound' | 'outbound' | 'dial' | 'stream' | 'gossip';

type Validate = (from: string, bytes: Uint8Array) => Promise<'accept' | 'reject' | 'ignore'>;

const MAX_QUEUED = 1024;
/** Bulk bytes queued per peer at most: a few frames (Raft resends what is dropped). */
const MAX_QUEUED_FRAMES = 4;
/**
 * Consensus messages up to this size (votes, responses, heartbeats, appends of small blocks) go
 * back to back on one long-lived stream per peer. Larger ones (a block with its documents) go
 * one at a time, each as a request the peer acknowledges once it has taken the message: at most
 * one large frame per peer is ever on its way, so no read buffer holds more than one (an eager
 * reader buffers whatever the sender pushed, and several 8 MiB appends back to back overflowed
 * it, the stream was aborted and the appends were lost without a word), and a heartbeat never
 * waits behind megabytes. Raft tolerates the reordering between the two paths.
 */
export const CONTROL_FRAME_BYTES = 64 * 1024;
type Lane = 'control' | 'bulk';
/** The reply to a large consensus message: taken. */
const ACK = new Uint8Array([1]);
/** Gossip bytes queued per peer at most, in frames. */
const GOSSIP_QUEUED_FRAMES = 8;
/**
 * A write (and a large message's acknowledgment) may take this long plus one millisecond per
 * WRITE_BYTES_PER_MS bytes before it is given up: 10 s for an 8 MiB block. Under load (two
 * shared cores, ten documents gossiped, forwarded and replicated at once) an 8 MiB transfer
 * measured over 4 s; giving up earlier threw away a transfer that was progressing and made
 * Raft send it again, adding load.
 */
const WRITE_TIMEOUT_MS = 2000;
const WRITE_BYTES_PER_MS = 1024;
/** A connection that closes within this long of opening counts as refused (see onConnectionClosed). */
const QUICK_CLOSE_MS = 1000;
const QUICK_CLOSES = 3;
/** A request handler waits this long for the request's first bytes, plus the transfer time. */
const REQUEST_READ_TIMEOUT_MS = 10_000;

interface Outbound {
  lane: Lane;
  lp?: LengthPrefixedStream<Stream>;
  stream?: Stream;
  opening?: Promise<void>;
  queued: Uint8Array[];
  queuedBytes: number;
  writing: boolean;
}

export class P2PHost {
  readonly nodeId: string;
  private readonly node: Awaited<ReturnType<typeof createHost>>;
  private readonly opts: HostOptions;
  private readonly raftProtocol: string;
  /** Per peer and lane (`${nodeId}:${lane}`). */
  private readonly outbound = new Map<string, Outbound>();
  private consensusHandler: ((from: string, bytes: Uint8Array) => void) | undefined;
  private stopped = false;
  /** Connections to each peer (libp2p peer id) that closed right after opening, in a row. */
  private readonly quickCloses = new Map<string, number>();

  private constructor(
    node: Awaited<ReturnType<typeof createHost>>,
    opts: HostOptions,
    nodeId: string,
  ) {
    this.node = node;
    this.opts = opts;
    this.nodeId = nodeId;
    this.raftProtocol = `/ehr/${opts.chainId}/raft/1.0.0`;
  }

  /** Request protocol of large consensus messages (acknowledged one by one). */
  private static readonly RAFT_BULK = 'raft-bulk';

  static async create(opts: HostOptions): Promise<P2PHost> {
    const node = await createHost(opts);
    const nodeId = nodeIdOf(node.peerId)!;
    const host = new P2PHost(node, opts, nodeId);
    await host.start();
    return host;
  }

  private get maxFrame(): number {
    return this.opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  private lp(stream: Stream): LengthPrefixedStream<Stream> {
    return lpStream(stream, {
      maxDataLength: this.maxFrame,
      maxBufferSize: streamBufferBytes(this.maxFrame),
    });
  }

  private undelivered(protocol: string, to: string, messages: number, reason: string): void {
    if (messages > 0) this.opts.onUndelivered?.({ protocol, to, messages, reason });
  }

  get addresses(): string[] {
    return this.node.getMultiaddrs().map((a) => a.toString());
  }

  get peerId(): string {
    return this.node.peerId.toString();
  }

  private async start(): Promise<void> {
    const max = this.maxFrame;
    this.node.addEventListener('connection:close', (evt) => this.onConnectionClosed(evt.detail));
    await this.node.handle(
      this.raftProtocol,
      async (stream, connection) => {
        const from = nodeIdOf(connection.remotePeer);
        if (!from || !this.connected(from)) {
          this.opts.onRefused?.('stream', from ?? connection.remotePeer.toString());
          stream.abort(new Error('not a member'));
          return;
        }
        const lp = lpStream(stream, {
          maxDataLength: max,
          maxBufferSize: streamBufferBytes(max),
        });
        try {
          for (;;) {
            const frame = await lp.read();
            this.consensusHandler?.(from, frame.subarray());
          }
        } catch (err) {
          // Stream ended or broke: the sender reopens. Anything but a plain end is worth a line.
          const e = err as Error;
          if (!/closed|reset|abort|EOF|end/i.test(`${e.name} ${e.message}`)) {
            this.opts.log?.('consensus stream from a member failed', { from, err: e.message });
          }
        }
      },
      { maxInboundStreams: 64, runOnLimitedConnection: false },
    );
    this.handle(P2PHost.RAFT_BULK, async (from, bytes) => {
      this.consensusHandler?.(from, bytes);
      return ACK;
    });
    // Connect to bootstrap peers; the DHT then finds everyone else by peer id.
    for (const a of this.opts.bootstrap) {
      this.node
        .dial(multiaddr(a))
        .catch((err: Error) =>
          this.opts.log?.('bootstrap dial failed', { addr: a, err: err.message }),
        );
    }
  }

  onConsensusMessage(handler: (from: string, bytes: Uint8Array) => void): void {
    this.consensusHandler = handler;
  }

  /**
   * Best effort, in order per peer and lane (small messages on one stream, large ones on
   * another); drops (reported through onUndelivered, never retried here: Raft resends) what is
   * larger than a frame, what overflows the peer's queue, and what a peer that is unreachable
   * or too slow did not take.
   */
  send(to: string, bytes: Uint8Array): void {
    if (this.stopped || to === this.nodeId) return;
    if (bytes.length > this.maxFrame) {
      this.undelivered('raft', to, 1, 'too_large');
      return;
    }
    const lane: Lane = bytes.length <= CONTROL_FRAME_BYTES ? 'control' : 'bulk';
    const key = `${to}:${lane}`;
    let o = this.outbound.get(key);
    if (!o) {
      o = { lane, queued: [], queuedBytes: 0, writing: false };
      this.outbound.set(key, o);
    }
    const maxBytes = lane === 'control' ? this.maxFrame : MAX_QUEUED_FRAMES * this.maxFrame;
    if (o.queued.length >= MAX_QUEUED || o.queuedBytes + bytes.length > maxBytes) {
      this.undelivered('raft', to, 1, 'queue_full');
      return;
    }
    o.queued.push(bytes);
    o.queuedBytes += bytes.length;
    void this.flush(to, o);
  }

  private async flush(to: string, o: Outbound): Promise<void> {
    if (o.writing) return;
    o.writing = true;
    try {
      while (o.lane === 'bulk' && o.queued.length > 0 && !this.stopped) {
        const frame = o.queued.shift()!;
        o.queuedBytes -= frame.length;
        // Bounded by size (a block with its bodies takes longer than a heartbeat).
        const ms = WRITE_TIMEOUT_MS + Math.ceil(frame.length / WRITE_BYTES_PER_MS);
        try {
          await this.request(to, P2PHost.RAFT_BULK, frame, ms);
        } catch (err) {
          const code = (err as EhrError).code;
          this.undelivered(
            'raft',
            to,
            1,
            code === 'P2P_UNREACHABLE' ? 'unreachable' : 'write_failed',
          );
          this.opts.log?.('large consensus message not delivered', {
            to,
            bytes: frame.length,
            err: (err as Error).message,
          });
        }
      }
      while (o.queued.length > 0 && !this.stopped) {
        if (!o.lp) {
          try {
            const stream = await this.node.dialProtocol(peerIdOf(to), this.raftProtocol, {
              signal: AbortSignal.timeout(3000),
            });
            o.stream = stream;
            o.lp = this.lp(stream);
            // A stream that closes (peer restarted, connection lost) is replaced on next send.
            stream.addEventListener('close', () => {
              if (o.stream === stream) {
                o.stream = undefined;
                o.lp = undefined;
              }
            });
          } catch (err) {
            this.undelivered('raft', to, o.queued.length, 'unreachable');
            o.queued = [];
            o.queuedBytes = 0;
            this.opts.log?.('consensus dial failed', { to, err: (err as Error).message });
            return;
          }
        }
        const batch = o.queued;
        const bytes = o.queuedBytes;
        o.queued = [];
        o.queuedBytes = 0;
        try {
          // A write to a peer that vanished can stall forever; bound it and start afresh.
          const ms = WRITE_TIMEOUT_MS + Math.ceil(bytes / WRITE_BYTES_PER_MS);
          await o.lp.writeV(batch, { signal: AbortSignal.timeout(ms) });
        } catch (err) {
          // The frame may be cut: the stream cannot carry the next one. What is still queued
          // goes on a new stream.
          this.undelivered('raft', to, batch.length, 'write_failed');
          this.opts.log?.('consensus write failed', { to, bytes, err: (err as Error).message });
          o.stream?.abort(err as Error);
          o.lp = undefined;
          o.stream = undefined;
        }
      }
    } finally {
      o.writing = false;
    }
  }

  async request(
    to: string,
    protocol: string,
    bytes: Uint8Array,
    timeoutMs: number,
  ): Promise<Uint8Array> {
    const signal = AbortSignal.timeout(timeoutMs);
    let stream: Stream;
    try {
      stream = await this.node.dialProtocol(peerIdOf(to), this.proto(protocol), { signal });
    } catch (err) {
      throw new EhrError(
        'P2P_UNREACHABLE',
        `cannot reach ${to.slice(0, 12)}… for ${protocol}: ${(err as Error).message}`,
        { to, protocol },
      );
    }
    const lp = this.lp(stream);
    try {
      await lp.write(bytes, { signal });
      const reply = await lp.read({ signal });
      await stream.close().catch(() => {});
      return reply.subarray();
    } catch (err) {
      stream.abort(err as Error);
      if (signal.aborted)
        throw new EhrError(
          'P2P_TIMEOUT',
          `${protocol} request to ${to.slice(0, 12)}… timed out after ${timeoutMs} ms`,
          { to, protocol },
        );
      throw new EhrError(
        'P2P_REQUEST_FAILED',
        `${protocol} request to ${to.slice(0, 12)}… failed: ${(err as Error).message}`,
        { to, protocol },
      );
    }
  }

  private proto(name: string): string {
    return `/ehr/${this.opts.chainId}/${name}/1.0.0`;
  }

  handle(
    protocol: string,
    handler: (from: string, bytes: Uint8Array) => Promise<Uint8Array>,
  ): void {
    void this.node.handle(this.proto(protocol), async (stream, connection) => {
      const from = nodeIdOf(connection.remotePeer);
      if (!from || !this.connected(from)) {
        this.opts.onRefused?.('stream', from ?? connection.remotePeer.toString());
        stream.abort(new Error('not a member'));
        return;
      }
      const lp = this.lp(stream);
      try {
        const req = await lp.read({
          signal: AbortSignal.timeout(
            REQUEST_READ_TIMEOUT_MS + Math.ceil(this.maxFrame / WRITE_BYTES_PER_MS),
          ),
        });
        const reply = await handler(from, req.subarray());
        if (reply.length > this.maxFrame) {
          this.undelivered(protocol, from, 1, 'too_large');
          throw new EhrError(
            'P2P_FRAME_TOO_LARGE',
            `${protocol} reply of ${reply.length} bytes exceeds the frame limit ${this.maxFrame}`,
          );
        }
        await lp.write(reply);
        await stream.close();
      } catch (err) {
        stream.abort(err as Error);
      }
    });
  }

  private topic(name: string): string {
    return `/ehr/${this.opts.chainId}/${name}/1`;
  }

  async publish(topic: string, bytes: Uint8Array): Promise<void> {
    await this.node.services.pubsub.publish(this.topic(topic), bytes);
  }

  subscribe(topic: string, validate: Validate): void {
    const t = this.topic(topic);
    const ps = this.node.services.pubsub;
    ps.topicValidators.set(t, async (peer, msg) => {
      // Messages are unsigned (StrictNoSign): what travels carries its own author signature,
      // and the relay is authenticated by Noise, so only members can hand us a message.
      const relay = nodeIdOf(peer);
      if (msg.type !== 'unsigned' || !relay || !this.opts.isMember(relay)) {
        if (!relay || !this.opts.isMember(relay))
          this.opts.onRefused?.('gossip', relay ?? peer.toString());
        return TopicValidatorResult.Reject;
      }
      const verdict = await validate(relay, msg.data);
      return verdict === 'accept'
        ? TopicValidatorResult.Accept
        : verdict === 'reject'
          ? TopicValidatorResult.Reject
          : TopicValidatorResult.Ignore;
    });
    ps.subscribe(t);
  }

  /**
   * A peer that closes every connection this node opens at once (its gater refuses this node: it
   * was removed) was redialed in a tight loop, several times a second: the DHT tags its closest
   * peers keep-alive, libp2p reconnects to a keep-alive peer as soon as it disconnects, and the
   * Noise handshake completes on this side before the other refuses, so each attempt
   * "succeeds". After QUICK_CLOSES such closes in a row the tag goes (libp2p itself drops it
   * when reconnecting fails): the peer is dialed again only when something is sent to it.
   */
  private onConnectionClosed(c: Connection): void {
    const peer = c.remotePeer;
    const key = peer.toString();
    const lived = (c.timeline.close ?? Date.now()) - c.timeline.open;
    if (lived >= QUICK_CLOSE_MS) {
      this.quickCloses.delete(key);
      return;
    }
    const n = (this.quickCloses.get(key) ?? 0) + 1;
    this.quickCloses.set(key, n);
    if (n !== QUICK_CLOSES) return;
    void (async () => {
      const known = await this.node.peerStore.get(peer);
      const tags: Record<string, undefined> = {};
      for (const t of known.tags.keys()) if (t.startsWith(KEEP_ALIVE)) tags[t] = undefined;
      if (Object.keys(tags).length === 0) return;
      await this.node.peerStore.merge(peer, { tags });
      this.opts.log?.('a peer keeps closing connections at once; no longer redialing it unasked', {
        peer: nodeIdOf(peer) ?? key,
        closes: n,
      });
    })().catch(() => {});
  }

  /**
   * Calls `fn` when a peer connects and when its last connection closes (libp2p updates its
   * connection list before it says so, so peers() already agrees). Returns the unsubscribe.
   */
  onPeersChanged(fn: () => void): () => void {
    const changed = () => fn();
    this.node.addEventListener('peer:connect', changed);
    this.node.addEventListener('peer:disconnect', changed);
    return () => {
      this.node.removeEventListener('peer:connect', changed);
      this.node.removeEventListener('peer:disconnect', changed);
    };
  }

  /**
   * Calls back when the last connection to a peer closes (a crashed process's sockets close at
   * once; a partition closes nothing), with its node id.
   */
  onPeerDisconnected(fn: (nodeId: string) => void): () => void {
    const gone = (evt: CustomEvent<PeerId>) => {
      const id = nodeIdOf(evt.detail);
      if (id) fn(id);
    };
    this.node.addEventListener('peer:disconnect', gone);
    return () => this.node.removeEventListener('peer:disconnect', gone);
  }

  peers(): { nodeId: string; addresses: string[] }[] {
    const out = new Map<string, string[]>();
    for (const c of this.node.getConnections()) {
      const id = nodeIdOf(c.remotePeer);
      if (!id) continue;
      out.set(id, [...(out.get(id) ?? []), c.remoteAddr.toString()]);
    }
    return [...out].map(([nodeId, addresses]) => ({ nodeId, addresses }));
  }

  /** Finds a member's addresses by node id through the DHT. */
  async findMember(nodeId: string, timeoutMs = 5000): Promise<string[]> {
    const info = await this.node.peerRouting.findPeer(peerIdOf(nodeId), {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return info.multiaddrs.map((a) => a.toString());
  }

  /**
   * Drops every connection to a peer that is no longer a member nor leaving (bootstrap peers included); the
   * gater refuses it from then on. Aborted rather than closed: a graceful close waits for the
   * peer to end its long-lived streams, which a removed peer need not do, and the caller is the
   * consensus loop.
   */
  /** May this peer keep its open connections and streams (a member, or one leaving)? */
  private connected(id: string): boolean {
    return this.opts.isMember(id) || (this.opts.isLeaving?.(id) ?? false);
  }

  async refreshMembership(): Promise<void> {
    for (const c of this.node.getConnections()) {
      const id = nodeIdOf(c.remotePeer);
      if (id && this.connected(id)) continue;
      this.opts.log?.('dropping a peer that is not a member', {
        peer: id ?? c.remotePeer.toString(),
      });
      c.abort(new EhrError('P2P_NOT_MEMBER', 'peer is no longer a member'));
      if (id) {
        for (const lane of ['control', 'bulk'] as const) {
          const key = `${id}:${lane}`;
          this.outbound.get(key)?.stream?.abort(new EhrError('P2P_NOT_MEMBER', 'not a member'));
          this.outbound.delete(key);
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.node.stop();
  }
}

async function createHost(opts: HostOptions) {
  const privateKey = await libp2pKey(opts.secretKey);
  const frame = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const allowed = (peer: PeerId, reason: RefusalReason): boolean => {
    const id = nodeIdOf(peer);
    if (id !== undefined && opts.isMember(id)) return true;
    opts.onRefused?.(reason, id ?? peer.toString());
    return false;
  };
  return createLibp2p({
    privateKey,
    addresses: {
      listen: opts.listen,
      ...(opts.announce && opts.announce.length > 0 ? { announce: opts.announce } : {}),
    },
    // A connection that went silent (a partition: writes still fill the kernel buffer, so they
    // do not fail) is found by a ping within seconds and replaced, instead of after the default
    // 10 s plus TCP's growing retransmission timer.
    // A ping waits behind whatever the connection carries (an 8 MiB block, a forwarded
    // document) and behind the peer's busy event loop. libp2p's timeout adapts to the moving
    // average of round trips, shared by all connections, so it sat at its floor (it was 500 ms)
    // whenever most pings were quick: under ten 8 MiB uploads every connection to the leader was
    // aborted every few seconds mid-transfer (66 "lost every connection to the leader" in 90 s),
    // with everything on it, and the followers campaigned. The floor is now 8 s (so pings
    // overlap: see the ping service's stream limits below): a dead connection is still found
    // within about 10 s, and Raft never waits for it (elections run on their own timeout).
    connectionMonitor: {
      pingInterval: 2000,
      pingTimeout: { minTimeout: 8000, maxTimeout: 15_000 },
      abortConnectionOnPingFailure: true,
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // A stream whose reader lags (or is paused) buffers up to this much before libp2p aborts
    // it: sized from the frame limit, not libp2p's 4 MiB default.
    streamMuxers: [yamux({ streamOptions: { maxReadBufferLength: streamBufferBytes(frame) } })],
    connectionGater: {
      denyDialPeer: (peer) => !allowed(peer, 'dial'),
      denyInboundEncryptedConnection: (peer) => !allowed(peer, 'inbound'),
      denyOutboundEncryptedConnection: (peer) => !allowed(peer, 'outbound'),
      denyDialMultiaddr: () => false,
    },
    services: {
      identify: identify(),
      // Pings go every 2 s and may take up to 15 s: several are outstanding on a loaded
      // connection, and one over ping's default limit (1 outbound, 2 inbound) failed at once,
      // which the connection monitor takes as a failed ping and aborts the connection.
      ping: ping({ maxOutboundStreams: 8, maxInboundStreams: 16 }),
      dht: kadDHT({
        protocol: `/ehr/${opts.chainId}/kad/1.0.0`,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true,
      }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // No per-message libp2p signature: ids are the SHA-256 of the content (duplicates
        // collapse), which saves an Ed25519 sign per publish and a verify per hop.
        globalSignaturePolicy: 'StrictNoSign',
        // A transaction travels with its bodies (a document of several MiB): the default 4 MiB
        // message limit would drop it silently, leaving it to the slower forward path.
        maxInboundDataLength: frame,
        // Bounded (the default is not), but room for a burst of documents to one slow peer.
        maxOutboundBufferSize: GOSSIP_QUEUED_FRAMES * frame,
        // A publisher floods its own messages to every member, so the mesh only repairs gaps: a
        // small degree keeps duplicate copies (each decrypted, framed and hashed) down. Measured
        // with 5 nodes, 64 clients: 2.6 s instead of 3.1 s of CPU per node per 2,000 txs.
        D: 2,
        Dlo: 1,
        Dhi: 3,
        Dout: 0,
        Dlazy: 2,
      }),
    },
  });
}
