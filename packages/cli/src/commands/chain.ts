/** `ehr chain`: the head, blocks, transactions, and client-side verification of the whole chain. */
import { readFileSync } from 'node:fs';
import { type NodeStatus, RpcError } from '@ehr/api';
import { EhrError, fromHex, verifyMerkleProof } from '@ehr/core';
import { genesisBlockHash, parseGenesis } from '@ehr/ledger';
import type { Command } from 'commander';
import { type Ctx, intArg } from '../context.ts';
import { EXIT, usage } from '../errors.ts';
import { fields, short, when } from '../output.ts';
import { type ServedBlock, verifyChain } from '../verify.ts';

const example = (lines: string) => `\nExample:\n${lines}\n`;

interface BlockJson extends ServedBlock {
  header: {
    chainId: string;
    height: number;
    prevHash: string;
    term: number;
    proposer: string;
    time: number;
    txCount: number;
    txRoot: string;
    stateHash: string;
  };
  signature: string;
}

interface TxJson {
  hash: string;
  status: {
    status: string;
    height?: number;
    index?: number;
    ok?: boolean;
    code?: string | null;
    message?: string | null;
  };
  kind?: string;
  author?: string;
  nonce?: number;
}

export function registerChain(program: Command, ctx: Ctx): void {
  const chain = program.command('chain').description('blocks, transactions and chain verification');

  chain
    .command('status')
    .description('the chain id, head height and hashes as this node has them')
    .addHelpText('after', example('  ehr chain status --json'))
    .action(async () => {
      const s: NodeStatus = await ctx.rpc().status();
      const out = {
        chainId: s.chainId,
        height: s.height,
        hash: s.hash,
        stateHash: s.stateHash,
        leader: s.leader,
        catchingUp: s.catchingUp,
      };
      ctx.print(out, () =>
        fields([
          ['chain', s.chainId],
          ['height', `${s.height}${s.catchingUp ? ' (catching up)' : ''}`],
          ['block hash', s.hash],
          ['state hash', s.stateHash],
          ['leader', s.leader ?? '(none)'],
        ]),
      );
    });

  chain
    .command('block')
    .description('one block by height or hash')
    .argument('<height-or-hash>', 'a height (1..) or a block hash (64 hex)')
    .option('--raw', 'include the raw block bytes (hex) in --json output')
    .addHelpText('after', example('  ehr chain block 12\n  ehr chain block 3f2a…e9 --json'))
    .action(async (which: string, o: { raw?: boolean }) => {
      const params = /^[0-9a-f]{64}$/.test(which)
        ? { hash: which }
        : { height: intArg(which, 'height', 1) };
      const b = await ctx.rpc().call<BlockJson>('chain_getBlock', params);
      const { raw, ...rest } = b;
      ctx.print(o.raw ? b : rest, () =>
        [
          fields([
            ['height', b.height],
            ['hash', b.hash],
            ['prev hash', b.header.prevHash],
            ['time', when(b.header.time)],
            ['term', b.header.term],
            ['proposer', b.header.proposer],
            ['tx root', b.header.txRoot],
            ['state hash', b.header.stateHash],
            ['transactions', b.header.txCount],
          ]),
          ...(b.txs.length > 0 ? ['', ...b.txs.map((t, i) => `  ${i}  ${t}`)] : []),
        ].join('\n'),
      );
    });

  chain
    .command('tx')
    .description("a transaction's status and receipt; --proof checks its Merkle inclusion here")
    .argument('<hash>', 'transaction hash (64 hex)')
    .option('--proof', "verify the inclusion proof against the block's txRoot")
    .addHelpText('after', example('  ehr chain tx 9c0f…41 --proof'))
    .action(async (hash: string, o: { proof?: boolean }) => {
      if (!/^[0-9a-f]{64}$/.test(hash))
        throw usage(`expected a transaction hash of 64 hex characters, got "${hash}"`);
      const rpc = ctx.rpc();
      const tx = await rpc.call<TxJson>('chain_getTx', { hash });
      let proof: { verified: boolean; height: number; index: number; txRoot: string } | undefined;
      if (o.proof) {
        if (tx.status.status !== 'committed')
          throw new EhrError('NOT_FOUND', `transaction ${short(hash)} is not committed yet`);
        const p = await rpc.call<{
          height: number;
          index: number;
          count: number;
          txRoot: string;
          proof: string[];
        }>('chain_getProof', { hash });
        // The root comes from the block header, not from the proof answer.
        const block = await rpc.call<BlockJson>('chain_getBlock', { height: p.height });
        const verified = verifyMerkleProof(
          fromHex(hash),
          p.index,
          p.count,
          p.proof.map(fromHex),
          fromHex(block.header.txRoot),
        );
        proof = { verified, height: p.height, index: p.index, txRoot: block.header.txRoot };
        if (!verified) ctx.exitCode = EXIT.CORRUPT;
      }
      const s = tx.status;
      ctx.print({ ...tx, ...(proof ? { proof } : {}) }, () =>
        fields([
          ['hash', tx.hash],
          ['kind', tx.kind],
          ['author', tx.author],
          ['nonce', tx.nonce],
          [
            'status',
            s.status === 'committed'
              ? `committed at height ${s.height}, index ${s.index}${s.ok === false ? `, rejected: ${s.code} ${s.message ?? ''}` : ''}`
              : s.status === 'rejected'
                ? `rejected: ${s.code} ${s.message ?? ''}`
                : s.status,
          ],
          ...(proof
            ? ([
                [
                  'inclusion',
                  proof.verified
                    ? `proven against txRoot ${short(proof.txRoot, 16)}`
                    : 'PROOF DOES NOT VERIFY',
                ],
              ] as [string, string][])
            : []),
        ]),
      );
    });

  chain
    .command('verify')
    .description(
      'fetch every block (raw bytes) and check hash links, proposer signatures and tx roots here; reports the first bad height',
    )
    .option('--from <height>', 'first block to check', '1')
    .option('--to <height>', 'last block to check (default: the head)')
    .option('--genesis <file>', 'the genesis file: also checks that block 1 links to it')
    .addHelpText(
      'after',
      example('  ehr chain verify --genesis genesis.json\n  ehr chain verify --from 1000 --json') +
        '\nExits with 7 when a block does not verify.\n',
    )
    .action(async (o: { from: string; to?: string; genesis?: string }) => {
      const rpc = ctx.rpc();
      const status = await rpc.status();
      const from = intArg(o.from, '--from', 1);
      const to = o.to === undefined ? status.height : intArg(o.to, '--to', 1);
      if (to > status.height)
        throw usage(`--to ${to} is beyond the node's head (${status.height})`);
      let anchor: Uint8Array | undefined;
      let chainId: string | undefined = status.chainId;
      if (o.genesis) {
        const g = parseGenesis(readFileSync(o.genesis, 'utf8'), o.genesis);
        if (g.chainId !== status.chainId) {
          throw usage(
            `${o.genesis} is for chain "${g.chainId}", the node serves "${status.chainId}"`,
          );
        }
        chainId = g.chainId;
        if (from === 1) anchor = genesisBlockHash(g);
      }
      if (from > 1) {
        // Anchor on the node's previous block: this checks from..to, not what came before.
        const before = await rpc.call<ServedBlock>('chain_getBlock', { height: from - 1 });
        anchor = fromHex(before.hash);
      }
      const fetch = async (height: number): Promise<ServedBlock> => {
        try {
          return await rpc.call<ServedBlock>('chain_getBlock', { height });
        } catch (err) {
          if (err instanceof RpcError)
            return { height, hash: '', txs: [], raw: '', error: err.message };
          throw err;
        }
      };
      let last = 0;
      const progress = (h: number) => {
        const now = Date.now();
        if (h !== to && now - last < 500) return;
        last = now;
        const line = `verified ${h - from + 1}/${to - from + 1} blocks (height ${h})`;
        ctx.io.err(ctx.io.errIsTty ? `\r${line}${h === to ? '\n' : ''}` : `${line}\n`);
      };
      const r =
        from > to
          ? null
          : await verifyChain(fetch, {
              from,
              to,
              ...(anchor ? { anchor } : {}),
              chainId,
              onProgress: progress,
            });
      if (r === null) {
        ctx.print(
          { ok: true, from, to, checked: 0, transactions: 0 },
          () => 'nothing to verify: the chain has no blocks yet',
        );
        return;
      }
      if (!r.ok) {
        if (ctx.io.errIsTty) ctx.io.err('\n');
        ctx.exitCode = EXIT.CORRUPT;
      }
      ctx.print(r, () =>
        r.ok
          ? `ok: blocks ${from}..${to} verify (${r.checked} blocks, ${r.transactions} transactions)${
              r.anchored
                ? ''
                : from === 1
                  ? '; block 1 not checked against a genesis (--genesis <file>)'
                  : ''
            }\nhead ${to} ${r.lastHash}`
          : `BAD BLOCK at height ${r.bad!.height}: ${r.bad!.reason}\n(${r.checked} blocks before it verified)`,
      );
    });
}
