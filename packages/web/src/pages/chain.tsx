/**
 * The chain: latest blocks, a block's transactions (kind, author, hash; never bodies), and
 * "verify the chain" in this browser with a progress bar, plus a demonstration that a changed
 * byte is caught.
 */
import type { NodeStatus } from '@ehr/api';
import { decodeBlock, decodeTx, fromHex, toHex, txHash } from '@ehr/core';
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { shortKey, when } from '../download.ts';
import { anonymous, events } from '../net.ts';
import {
  ActionStatus,
  Empty,
  ErrorBox,
  More,
  Scroll,
  useAction,
  useLoad,
  usePages,
} from '../ui.tsx';
import { type VerifyResult, verifyChain } from '../verify.ts';

interface BlockJson {
  height: number;
  hash: string;
  raw: string;
}

const getBlock = (height: number) =>
  anonymous().session.call<BlockJson>('chain_getBlock', { height });

interface BlockSummary {
  height: number;
  hash: string;
  header: { time: number; txCount: number; proposer: string };
}

export function ChainPage() {
  const status = useLoad(() => anonymous().session.call<NodeStatus>('status'), []);
  useEffect(() => events.onBlock(() => status.reload()), []);
  const height = status.data.value?.height ?? 0;
  // Newest first, ten at a time; older ones page by page (chain_blocks).
  const pages = usePages<BlockSummary>(
    (cursor, limit) =>
      anonymous().session.page<BlockSummary>(
        'chain_blocks',
        {},
        {
          limit,
          ...(cursor ? { cursor } : {}),
        },
      ),
    [height],
    10,
  );
  const latest = {
    error: pages.error,
    data: {
      value: pages.items.value?.map((b) => ({
        height: b.height,
        hash: b.hash,
        time: b.header.time,
        txs: b.header.txCount,
        proposer: b.header.proposer,
      })),
    },
  };
  const shown = useSignal<number | null>(null);
  return (
    <>
      <section class="card" aria-labelledby="latest-h">
        <h2 id="latest-h">Latest blocks</h2>
        <ErrorBox error={status.error.value ?? latest.error.value} />
        {height === 0 && !status.loading.value && (
          <Empty>No block yet: the chain starts with the first transaction.</Empty>
        )}
        <Scroll label="Latest blocks table (scrolls sideways)">
          <table>
            <thead>
              <tr>
                <th scope="col">Height</th>
                <th scope="col">Time</th>
                <th scope="col">Transactions</th>
                <th scope="col">Proposer</th>
                <th scope="col">Hash</th>
              </tr>
            </thead>
            <tbody>
              {(latest.data.value ?? []).map((b) => (
                <tr key={b.height}>
                  <td>
                    <button
                      type="button"
                      class="link"
                      aria-expanded={shown.value === b.height}
                      onClick={() => {
                        shown.value = shown.value === b.height ? null : b.height;
                      }}
                    >
                      Block {b.height}
                    </button>
                  </td>
                  <td>{when(b.time)}</td>
                  <td>{b.txs}</td>
                  <td class="mono">{shortKey(b.proposer)}</td>
                  <td class="mono">{shortKey(b.hash)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
        <More pages={pages as ReturnType<typeof usePages<unknown>>} what="blocks" />
        {shown.value !== null && <BlockTxs height={shown.value} />}
      </section>
      <Verify height={height} />
    </>
  );
}

function BlockTxs(props: { height: number }) {
  const txs = useLoad(async () => {
    const b = await getBlock(props.height);
    const d = decodeBlock(fromHex(b.raw));
    return d.txs.map((t) => {
      const tx = decodeTx(t);
      return { hash: toHex(txHash(t)), kind: tx.kind, author: toHex(tx.author), nonce: tx.nonce };
    });
  }, [props.height]);
  return (
    <div class="inner">
      <h3>Transactions of block {props.height}</h3>
      <p>Kinds, authors and hashes only: bodies are encrypted and are not shown here.</p>
      <ul>
        {(txs.data.value ?? []).map((t) => (
          <li key={t.hash}>
            <strong>{t.kind}</strong> by <span class="mono">{shortKey(t.author)}</span> (nonce{' '}
            {t.nonce}) — <span class="mono">{shortKey(t.hash)}</span>
          </li>
        ))}
      </ul>
      <ErrorBox error={txs.error.value} />
    </div>
  );
}

function Verify(props: { height: number }) {
  const act = useAction();
  const result = useSignal<(VerifyResult & { tampered: boolean }) | null>(null);
  const run = (tampered: boolean) =>
    void act.run(
      tampered ? 'Verifying a copy with one changed byte…' : 'Verifying the chain in this browser…',
      async (progress) => {
        result.value = null;
        const to = props.height;
        const target = Math.max(1, Math.ceil(to / 2));
        const r = await verifyChain(
          async (h) => (await getBlock(h)).raw,
          1,
          to,
          (done, total) => progress(done / total),
          tampered
            ? (h, raw) => {
                if (h !== target) return raw;
                const copy = raw.slice();
                // Flip one bit near the end (inside the last transaction's bytes).
                copy[copy.length - 40]! ^= 1;
                return copy;
              }
            : undefined,
        );
        result.value = { ...r, tampered };
      },
    );
  return (
    <section class="card" aria-labelledby="verify-h">
      <h2 id="verify-h">Verify the chain</h2>
      <p>
        Your browser downloads every block and checks, by itself: each block links to the one
        before, each proposer’s and author’s signature, and each Merkle root of transactions.
      </p>
      <div class="row">
        <button
          type="button"
          disabled={act.busy.value || props.height === 0}
          onClick={() => run(false)}
        >
          Verify the chain
        </button>
        <button
          type="button"
          class="secondary"
          disabled={act.busy.value || props.height === 0}
          onClick={() => run(true)}
        >
          Show tamper detection
        </button>
      </div>
      <ActionStatus action={act} />
      {result.value && (
        <div role="status" class={result.value.problems.length === 0 ? 'ok' : 'error'}>
          {result.value.problems.length === 0 ? (
            <strong>
              All {result.value.checked} blocks and {result.value.txs} transactions verified: links,
              signatures and Merkle roots hold.
            </strong>
          ) : (
            <>
              <strong>
                {result.value.tampered
                  ? 'Tampering detected (one bit was changed in a copy of one block): '
                  : 'Problems found: '}
                {result.value.problems.length}
              </strong>
              <ul>
                {result.value.problems.slice(0, 20).map((p) => (
                  <li key={`${p.height}-${p.what}`}>
                    Block {p.height}: {p.what}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
    </section>
  );
}
