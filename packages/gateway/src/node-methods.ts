/**
 * The chain, transaction and node methods, bound to a running node through the small
 * NodeService interface (the daemon satisfies it; the gateway never imports the daemon).
 */
import {
  type BlockHeader,
  blockHash,
  decodeBlock,
  decodeTx,
  EhrError,
  fromBase64,
  fromHex,
  merkleProof,
  type NodeStatus,
  type SubmitResult,
  type TxStatusView,
  toHex,
  txHash,
} from '@ehr/core';
import { DEFAULT_PAGE, decodeCursor, encodeCursor, pageLimit, within } from '@ehr/ledger';
import { type Dispatcher, InvalidParams } from './dispatcher.ts';

export interface NodeService {
  status(): NodeStatus;
  submit(
    tx: Uint8Array,
    payloads: Uint8Array[],
    mode: 'async' | 'sync' | 'commit',
    timeoutMs: number,
  ): Promise<SubmitResult>;
  /** The status as the node knows it (chain first, then what it saw), with `final`. */
  txStatus(hash: string): Promise<TxStatusView | undefined>;
  blockBytes(height: number): Promise<Uint8Array | undefined>;
  /** Block headers from `from` down, at most `limit`, verified (newest first). */
  headers(
    from: number,
    limit: number,
  ): Promise<{ height: number; hash: Uint8Array; header: BlockHeader }[]>;
  heightOf(hash: Uint8Array): Promise<number | undefined>;
  receipt(
    hash: Uint8Array,
  ): Promise<
    | { height: number; index: number; ok: boolean; code: string | null; message: string | null }
    | undefined
  >;
  peers(): { nodeId: string; addresses: string[] }[];
  /** Headline numbers as JSON, and the full Prometheus text (prom-client renders it async). */
  metrics(): { summary: Record<string, unknown>; text: string | Promise<string> };
}

const notFound = (what: string) => new EhrError('NOT_FOUND', `${what} not found`, {});

function headerJson(h: BlockHeader) {
  return {
    chainId: h.chainId,
    height: h.height,
    prevHash: toHex(h.prevHash),
    term: h.term,
    proposer: toHex(h.proposer),
    time: h.time,
    txCount: h.txCount,
    txRoot: toHex(h.txRoot),
    stateHash: toHex(h.stateHash),
  };
}

function blockJson(bytes: Uint8Array) {
  const b = decodeBlock(bytes);
  const h = b.header;
  return {
    height: h.height,
    hash: toHex(blockHash(h)),
    header: headerJson(h),
    signature: toHex(b.signature),
    txs: b.txs.map((t) => toHex(txHash(t))),
  };
}

/** Params arrive checked against the method catalogue (see Dispatcher), so they are read as is. */
type P = Record<string, unknown>;

export function registerNodeMethods(d: Dispatcher, node: NodeService): void {
  d.register('status', async () => node.status());

  d.register('chain_getBlock', async (params) => {
    const p = params as P;
    // The schema makes both optional; exactly one of them is needed.
    if (p['hash'] !== undefined && p['height'] !== undefined)
      throw new InvalidParams('params: give height or hash, not both');
    let height: number;
    if (p['hash'] !== undefined) {
      const h = await node.heightOf(fromHex(p['hash'] as string));
      if (h === undefined) throw notFound(`block ${p['hash']}`);
      height = h;
    } else if (p['height'] !== undefined) {
      height = p['height'] as number;
    } else {
      throw new InvalidParams(
        `params: give height (an integer from 1) or hash (64 lowercase hex characters)`,
      );
    }
    const bytes = await node.blockBytes(height);
    if (!bytes) throw notFound(`block at height ${height}`);
    return { ...blockJson(bytes), raw: toHex(bytes) };
  });

  // Newest first, headers only (a block's transactions: chain_getBlock); the cursor is the
  // height the previous page stopped at.
  d.register('chain_blocks', async (params) => {
    const p = params as P;
    const limit = pageLimit(p['limit'] ?? DEFAULT_PAGE);
    const at = decodeCursor('chain_blocks', p['cursor'], 1);
    const head = node.status().height;
    let from = head;
    if (at) {
      const h = at.keys[0] ?? '';
      if (!/^[1-9][0-9]{0,15}$/.test(h) || Number(h) > head + 1)
        within('chain_blocks', undefined, '');
      from = Number(h) - 1;
    }
    const headers = await node.headers(from, limit);
    const items = headers.map((b) => ({
      height: b.height,
      hash: toHex(b.hash),
      header: headerJson(b.header),
    }));
    const h = from - items.length;
    return h >= 1 ? { items, cursor: encodeCursor('chain_blocks', 0, [String(h + 1)]) } : { items };
  });

  d.register('chain_getTx', async (params) => {
    const hash = (params as P)['hash'] as string;
    const r = await node.receipt(fromHex(hash));
    if (!r) {
      const s = await node.txStatus(hash);
      if (s) return { hash, status: s };
      throw notFound(`transaction ${hash}`);
    }
    const block = decodeBlock((await node.blockBytes(r.height))!);
    const tx = decodeTx(block.txs[r.index]!);
    return {
      hash,
      status: { status: 'committed', ...r, final: true } satisfies TxStatusView,
      kind: tx.kind,
      author: toHex(tx.author),
      nonce: tx.nonce,
    };
  });

  d.register('chain_getProof', async (params) => {
    const hash = (params as P)['hash'] as string;
    const r = await node.receipt(fromHex(hash));
    if (!r) throw notFound(`transaction ${hash}`);
    const block = decodeBlock((await node.blockBytes(r.height))!);
    const leaves = block.txs.map(txHash);
    return {
      height: r.height,
      index: r.index,
      count: leaves.length,
      txRoot: toHex(block.header.txRoot),
      proof: merkleProof(leaves, r.index).map(toHex),
    };
  });

  d.register('tx_submit', async (params) => {
    const p = params as P;
    const payloads = [
      ...((p['bodies'] as string[] | undefined) ?? []).map(fromBase64),
      ...((p['payloads'] as string[] | undefined) ?? []).map(fromHex),
    ];
    const mode = (p['mode'] as 'async' | 'sync' | 'commit' | undefined) ?? 'commit';
    const timeoutMs = (p['timeoutMs'] as number | undefined) ?? 10_000;
    return node.submit(fromHex(p['tx'] as string), payloads, mode, timeoutMs);
  });

  d.register('tx_status', async (params) => {
    const hash = (params as P)['hash'] as string;
    const s = await node.txStatus(hash);
    if (!s) throw notFound(`transaction ${hash}`);
    return { hash, status: s };
  });

  d.register('node_peers', async () => node.peers());
  d.register('node_metrics', async () => {
    const m = node.metrics();
    return { summary: m.summary, text: await m.text };
  });
}
