/** An in-process transport for node tests: request() reaches the handlers another MemNet registered. */
import type { Network } from '../src/ports.ts';

type Handler = (from: string, bytes: Uint8Array) => Promise<Uint8Array>;

/** An in-process transport: request() reaches the handlers another MemNet registered. */
export class MemNet implements Network {
  readonly addresses: string[] = [];
  readonly handlers = new Map<string, Handler>();
  readonly nodeId: string;
  private readonly all: Map<string, MemNet>;
  constructor(nodeId: string, all: Map<string, MemNet>) {
    this.nodeId = nodeId;
    this.all = all;
    all.set(nodeId, this);
  }
  /** Consensus messages this node sent, in order (a test may deliver them or look at them). */
  readonly sent: { to: string; bytes: Uint8Array }[] = [];
  /** Gossip this node published, by topic. */
  readonly published: { topic: string; bytes: Uint8Array }[] = [];
  readonly topics = new Map<
    string,
    (from: string, bytes: Uint8Array) => Promise<'accept' | 'reject' | 'ignore'>
  >();
  send(to: string, bytes: Uint8Array): void {
    this.sent.push({ to, bytes });
  }
  onConsensusMessage(): void {}
  async request(to: string, protocol: string, bytes: Uint8Array): Promise<Uint8Array> {
    const h = this.all.get(to)?.handlers.get(protocol);
    if (!h) throw new Error(`${to} does not serve ${protocol}`);
    // Copy both ways, as a real transport would.
    return (await h(this.nodeId, bytes.slice())).slice();
  }
  handle(protocol: string, handler: Handler): void {
    this.handlers.set(protocol, handler);
  }
  async publish(topic: string, bytes: Uint8Array): Promise<void> {
    this.published.push({ topic, bytes });
  }
  subscribe(
    topic: string,
    validate: (from: string, bytes: Uint8Array) => Promise<'accept' | 'reject' | 'ignore'>,
  ): void {
    this.topics.set(topic, validate);
  }
  peers() {
    return [...this.all.keys()]
      .filter((id) => id !== this.nodeId)
      .map((nodeId) => ({ nodeId, addresses: [] }));
  }
  private readonly disconnectListeners = new Set<(nodeId: string) => void>();
  onPeerDisconnected(fn: (nodeId: string) => void): () => void {
    this.disconnectListeners.add(fn);
    return () => this.disconnectListeners.delete(fn);
  }
  /** Tells this node's listeners that its connections to `nodeId` closed. */
  disconnect(nodeId: string): void {
    for (const fn of this.disconnectListeners) fn(nodeId);
  }
  async refreshMembership(): Promise<void> {}
  async stop(): Promise<void> {}
}
