/**
 * Executing transactions and blocks.
 *
 * A transaction runs in two stages. Authentication (size, decoding, chain id, duplicate,
 * signature, nonce) decides whether the author provably signed it for this chain and this slot;
 * a failure there changes nothing at all. The rules then run in a child overlay: on success its
 * writes are merged; on a rejection they are dropped.
 *
 * Receipts policy. The proposer builds blocks with BlockBuilder against its pending state. A
 * transaction that fails authentication (or whose bodies are missing) is left out. One that the
 * rules refuse is included with a failed receipt, so its refusal is as final as a commit: its
 * nonce is used, every node drops it from its mempool, and it can never commit later when the
 * state changes (a revoke refused today must not apply after a share tomorrow). Every node gives
 * a committed transaction the same receipt:
 *  - rejected while authenticating: no state change at all (the nonce is not consumed, so a
 *    forged or replayed transaction cannot burn someone's nonce);
 *  - rejected by the rules: the author's nonce advances and `tx/<hash>` records the failure code
 *    (the author did sign it, so it must not be replayable), nothing else changes.
 */
import {
  type Block,
  checkBlockBody,
  EhrError,
  fromHex,
  type SignedTx,
  toHex,
  txHash,
} from '@ehr/core';
import { BlockErrorCode, RejectCode, Rejection } from './codes.ts';
import { keys, pos } from './keys.ts';
import { type Payloads, parseTxPayload, type TxKind } from './kinds.ts';
import { type ChainConfig, getEntity, type StateHead, type TxEntry } from './model.ts';
import { Overlay } from './overlay.ts';
import {
  type ConsensusChange,
  type Effects,
  emptyEffects,
  type PayloadBodies,
  type RuleCtx,
} from './rule-context.ts';
import { accessRecord, payloadErase, prescriptionWrite } from './rules/clinical.ts';
import { governanceApprove, governancePropose } from './rules/governance.ts';
import {
  consentGrant,
  consentRevoke,
  patientRegister,
  recordAttach,
  recordSubmit,
} from './rules/patient.ts';
import {
  doctorDeactivate,
  doctorRegister,
  hospitalDeactivate,
  hospitalRegister,
  hospitalUpdate,
} from './rules/registry.ts';
import type { StateReader, WriteSet } from './state.ts';
import { stateHashAfter } from './state-hash.ts';
import { checkTxSignature, decodeForChain, type TxDecoder } from './tx-auth.ts';
import { short } from './words.ts';

type Handler<K extends TxKind> = (ctx: RuleCtx, p: Payloads[K]) => Promise<void>;
const handlers: { [K in TxKind]: Handler<K> } = {
  'hospital.register': hospitalRegister,
  'hospital.update': hospitalUpdate,
  'hospital.deactivate': hospitalDeactivate,
  'doctor.register': doctorRegister,
  'doctor.deactivate': doctorDeactivate,
  'governance.propose': governancePropose,
  'governance.approve': governanceApprove,
  'patient.register': patientRegister,
  'record.submit': recordSubmit,
  'record.attach': recordAttach,
  'consent.grant': consentGrant,
  'consent.revoke': consentRevoke,
  'prescription.write': prescriptionWrite,
  'access.record': accessRecord,
  'payload.erase': payloadErase,
};

/** Transactions whose signature was already verified (e.g. the mempool), by tx hash hex. */
export interface VerifiedTxs {
  has(txHashHex: string): boolean;
  /**
   * The decoded form of a verified transaction (decoded from exactly the bytes of that hash),
   * if held: it is not decoded again.
   */
  decoded?(txHashHex: string): SignedTx | undefined;
}

export type TxContext = {
  /** Height and time of the block the transaction goes into (time: the block header's). */
  height: number;
  time: number;
  /** Position in the block; defaults to 0. */
  index?: number;
  /** Payload bodies supplied beside the transaction, by hash hex. */
  payloads?: PayloadBodies;
  /** Admission / block building: bodies must be supplied and match (default true in checkTx). */
  requirePayloads?: boolean;
  verified?: VerifiedTxs;
  /** Chain config, if the caller has it loaded (saves a read per transaction). */
  chain?: ChainConfig;
  /** The transaction's hash hex, if the caller computed it (SHA-256 of exactly these bytes). */
  hash?: string;
  /** How to decode what `verified` does not hold decoded (default core's decodeTx). */
  decode?: TxDecoder;
};

export type Receipt = {
  index: number;
  /** Transaction hash, hex. */
  hash: string;
  /** Null when the transaction did not decode. */
  kind: string | null;
  author: string | null;
  ok: boolean;
  code: string | null;
  message: string | null;
  /** The author's nonce advanced (applied, or rejected by the rules after authentication). */
  nonceConsumed: boolean;
};

export type TxResult = Receipt & { effects: Effects };

export async function loadChain(state: StateReader): Promise<ChainConfig> {
  const chain = await getEntity<ChainConfig>(state, keys.chain());
  if (!chain) {
    throw new EhrError(
      'STATE_UNINITIALISED',
      'state has no chain config: apply genesisWrites(genesis) first',
    );
  }
  return chain;
}

export async function loadHead(state: StateReader): Promise<StateHead> {
  const head = await getEntity<StateHead>(state, keys.head());
  if (!head) {
    throw new EhrError(
      'STATE_UNINITIALISED',
      'state has no head: apply genesisWrites(genesis) first',
    );
  }
  return head;
}

/** The next nonce the chain expects from an account (hex public key); 0 for a new key. */
export async function nextNonce(state: StateReader, account: string): Promise<number> {
  const v = await state.get(keys.nonce(account.toLowerCase()));
  return typeof v === 'number' ? v : 0;
}

function failed(
  index: number,
  hash: string,
  tx: SignedTx | null,
  err: Rejection,
  nonceConsumed: boolean,
): TxResult {
  return {
    index,
    hash,
    kind: tx?.kind ?? null,
    author: tx ? toHex(tx.author) : null,
    ok: false,
    code: err.code,
    message: err.message,
    nonceConsumed,
    effects: emptyEffects(),
  };
}

/** Authentication stage; throws a Rejection. */
async function authenticate(
  state: StateReader,
  bytes: Uint8Array,
  hash: string,
  chain: ChainConfig,
  verified: VerifiedTxs | undefined,
  time: number,
  decode: TxDecoder | undefined,
): Promise<SignedTx> {
  const tx = decodeForChain(
    bytes,
    { chainId: chain.chainId, maxTxBytes: chain.limits.maxTxBytes },
    { decoded: verified?.decoded?.(hash), decode },
  );
  // Block times never go back (checkPosition), so once a block is past the deadline no later
  // block can include the transaction: its expiry is final.
  if (tx.expires !== undefined && time > tx.expires) {
    throw new Rejection(
      RejectCode.EXPIRED,
      `transaction expired at ${new Date(tx.expires).toISOString()}; the block time is ${new Date(time).toISOString()}: sign it again`,
      { expires: tx.expires, time },
    );
  }
  if ((await state.get(keys.tx(hash))) !== undefined) {
    throw new Rejection(RejectCode.DUPLICATE, `transaction ${short(hash)} was already applied`, {
      hash,
    });
  }
  if (!verified?.has(hash)) checkTxSignature(tx);
  const author = toHex(tx.author);
  const expected = await nextNonce(state, author);
  if (tx.nonce !== expected) {
    throw new Rejection(
      RejectCode.BAD_NONCE,
      `nonce ${tx.nonce} is not the account's next nonce ${expected}`,
      { nonce: tx.nonce, expected },
    );
  }
  return tx;
}

/**
 * check: admission dry run, a rejection leaves no trace; build: the proposer's, a rule rejection
 * is kept as a failed receipt (see Receipts policy); commit: applying a committed block.
 */
type Mode = 'check' | 'build' | 'commit';

/** Rule rejections a proposer keeps out rather than commits: they depend on bodies it holds. */
const BODY_CODES: readonly string[] = [RejectCode.PAYLOAD_MISSING, RejectCode.PAYLOAD_MISMATCH];

async function executeTx(
  overlay: Overlay,
  bytes: Uint8Array,
  env: TxContext & { chain: ChainConfig },
  mode: Mode,
): Promise<TxResult> {
  const index = env.index ?? 0;
  const hash = env.hash ?? toHex(txHash(bytes));
  let tx: SignedTx;
  try {
    tx = await authenticate(overlay, bytes, hash, env.chain, env.verified, env.time, env.decode);
  } catch (err) {
    if (err instanceof Rejection) return failed(index, hash, null, err, false);
    throw err;
  }
  const author = toHex(tx.author);
  const child = overlay.child();
  const ctx: RuleCtx = {
    state: child,
    chain: env.chain,
    height: env.height,
    time: env.time,
    index,
    pos: pos(env.height, index),
    hash,
    author,
    payloads: env.payloads,
    strictPayloads: mode !== 'commit' && env.requirePayloads !== false,
    legacy: tx.expires === undefined,
    effects: emptyEffects(),
  };
  let rejection: Rejection | null = null;
  try {
    const payload = parseTxPayload(tx.kind, tx.payload, env.chain.limits);
    await (handlers[tx.kind as TxKind] as Handler<TxKind>)(ctx, payload);
  } catch (err) {
    if (!(err instanceof Rejection)) throw err;
    rejection = err;
  }
  if (
    rejection &&
    (mode === 'check' || (mode === 'build' && BODY_CODES.includes(rejection.code)))
  ) {
    return failed(index, hash, tx, rejection, false);
  }
  const entry: TxEntry = {
    height: env.height,
    index,
    kind: tx.kind,
    code: rejection?.code ?? null,
  };
  if (rejection === null) overlay.merge(child);
  overlay.set(keys.nonce(author), tx.nonce + 1);
  overlay.set(keys.tx(hash), entry);
  if (rejection) return failed(index, hash, tx, rejection, true);
  return {
    index,
    hash,
    kind: tx.kind,
    author,
    ok: true,
    code: null,
    message: null,
    nonceConsumed: true,
    effects: ctx.effects,
  };
}

/**
 * Checks a transaction against `state` (mempool admission, block building) and, if it passes,
 * leaves its writes in `state` so the next transaction sees them. A rejected transaction leaves
 * `state` untouched. Needs the exact next nonce: check an account's transactions in nonce order.
 */
export async function checkTx(state: Overlay, tx: Uint8Array, ctx: TxContext): Promise<TxResult> {
  const chain = ctx.chain ?? (await loadChain(state));
  return executeTx(state, tx, { ...ctx, chain }, 'check');
}

export type BlockResult = {
  receipts: Receipt[];
  writes: WriteSet;
  stateHash: Uint8Array;
  consensusChanges: ConsensusChange[];
  payloads: {
    /** Hashes (hex) of bodies introduced by applied transactions: keep those supplied. */
    referenced: string[];
    /** Hashes (hex) erased by applied transactions: delete their bodies. */
    erased: string[];
    /** Supplied bodies that did not match their transaction: dropped, refetch them. */
    rejected: string[];
  };
};

function collect(results: TxResult[], writes: WriteSet, stateHash: Uint8Array): BlockResult {
  const out: BlockResult = {
    receipts: [],
    writes,
    stateHash,
    consensusChanges: [],
    payloads: { referenced: [], erased: [], rejected: [] },
  };
  for (const { effects, ...receipt } of results) {
    out.receipts.push(receipt);
    out.consensusChanges.push(...effects.consensusChanges);
    out.payloads.referenced.push(...effects.payloadsReferenced);
    out.payloads.erased.push(...effects.payloadsErased);
    out.payloads.rejected.push(...effects.payloadsRejected);
  }
  return out;
}

function blockError(message: string, data: Record<string, unknown> = {}): EhrError {
  return new EhrError(BlockErrorCode.BLOCK_INVALID, message, data);
}

async function checkPosition(state: StateReader, height: number, time: number): Promise<StateHead> {
  const head = await loadHead(state);
  if (height !== head.height + 1) {
    throw blockError(`block height ${height} does not follow the state's height ${head.height}`, {
      height,
      expected: head.height + 1,
    });
  }
  if (time < head.time) {
    throw blockError(`block time ${time} is before the previous block's time ${head.time}`, {
      time,
      previous: head.time,
    });
  }
  return head;
}

/**
 * Builds a block speculatively (the leader): `add` runs checkTx and keeps a transaction only if
 * it passes, `finish` gives the header's stateHash. Blocks built here apply to exactly the same
 * writes and state hash through applyBlock on every node.
 */
export class BlockBuilder {
  readonly overlay: Overlay;
  readonly height: number;
  readonly time: number;
  readonly chain: ChainConfig;
  /** Encoded transactions kept so far, in block order. */
  readonly txs: Uint8Array[] = [];
  /** Their hashes (SHA-256), in block order. */
  readonly txHashes: Uint8Array[] = [];
  private bytes = 0;
  private readonly results: TxResult[] = [];
  private readonly payloads: PayloadBodies | undefined;
  private readonly verified: VerifiedTxs | undefined;
  private readonly decode: TxDecoder | undefined;

  private constructor(overlay: Overlay, chain: ChainConfig, env: BuilderEnv) {
    this.overlay = overlay;
    this.chain = chain;
    this.height = env.height;
    this.time = env.time;
    this.payloads = env.payloads;
    this.verified = env.verified;
    this.decode = env.decode;
  }

  /** `base`: committed state, or an Overlay holding the blocks still in flight. */
  static async open(base: StateReader, env: BuilderEnv): Promise<BlockBuilder> {
    await checkPosition(base, env.height, env.time);
    return new BlockBuilder(new Overlay(base), await loadChain(base), env);
  }

  /** True when the block cannot take `size` more bytes or one more transaction. */
  fits(size: number): boolean {
    return (
      this.txs.length < this.chain.limits.maxTxsPerBlock &&
      this.bytes + size <= this.chain.limits.maxBlockBytes
    );
  }

  /**
   * Tries a transaction: kept (applied, or refused by the rules with a failed receipt and its
   * nonce used: `nonceConsumed`), or left out (authentication or bodies; state untouched).
   * Returns 'full' without trying when the block has no room for it. `hash`: its hash hex, if
   * the caller has it (of exactly these bytes).
   */
  async add(tx: Uint8Array, payloads?: PayloadBodies, hash?: string): Promise<TxResult | 'full'> {
    if (!this.fits(tx.length)) return 'full';
    const result = await executeTx(
      this.overlay,
      tx,
      {
        height: this.height,
        time: this.time,
        index: this.txs.length,
        payloads: payloads ?? this.payloads,
        requirePayloads: true,
        verified: this.verified,
        chain: this.chain,
        ...(hash !== undefined ? { hash } : {}),
        decode: this.decode,
      },
      'build',
    );
    if (result.ok || result.nonceConsumed) {
      this.txs.push(tx);
      this.txHashes.push(fromHex(result.hash));
      this.bytes += tx.length;
      this.results.push(result);
    }
    return result;
  }

  /** Closes the block: its writes (head included) and the state hash for its header. */
  finish(prevStateHash: Uint8Array): BlockResult {
    this.overlay.set(keys.head(), { height: this.height, time: this.time });
    const writes = this.overlay.writes();
    return collect(this.results, writes, stateHashAfter(prevStateHash, writes));
  }
}

type BuilderEnv = {
  height: number;
  time: number;
  payloads?: PayloadBodies;
  verified?: VerifiedTxs;
  decode?: TxDecoder;
};

export type ApplyOptions = {
  /** State hash after the previous block (the previous header's stateHash). */
  prevStateHash: Uint8Array;
  verified?: VerifiedTxs;
  /** How to decode what `verified` does not hold decoded (default core's decodeTx). */
  decode?: TxDecoder;
  /** Compare the result with header.stateHash and throw STATE_MISMATCH (default true). */
  checkStateHash?: boolean;
};

/**
 * Applies a committed block to `base` in an overlay and returns its receipts, key-ordered
 * writes, state hash and consensus changes; `base` is not modified. Throws BLOCK_INVALID when
 * the block itself is unusable (wrong chain, height, time, body or size), STATE_MISMATCH when
 * the resulting state hash differs from the header's. Does not verify the proposer's signature
 * (consensus does). Bodies in `payloads` are checked against their transactions; a missing body
 * does not stop the block (it may have been erased), a mismatching one is reported.
 */
export async function applyBlock(
  base: StateReader,
  block: Block,
  payloads: PayloadBodies | undefined,
  opts: ApplyOptions,
): Promise<BlockResult> {
  const { header } = block;
  const chain = await loadChain(base);
  if (header.chainId !== chain.chainId) {
    throw blockError(`block is for chain "${header.chainId}", this chain is "${chain.chainId}"`);
  }
  // Each transaction hashed once: for the body's Merkle root and for executing it.
  const hashes = block.txs.map(txHash);
  const bodyProblem = checkBlockBody(block, hashes);
  if (bodyProblem) throw blockError(`block ${header.height}: ${bodyProblem}`);
  if (block.txs.length > chain.limits.maxTxsPerBlock) {
    throw blockError(
      `block has ${block.txs.length} transactions; the limit is ${chain.limits.maxTxsPerBlock}`,
    );
  }
  const size = block.txs.reduce((n, t) => n + t.length, 0);
  if (size > chain.limits.maxBlockBytes) {
    throw blockError(
      `block has ${size} bytes of transactions; the limit is ${chain.limits.maxBlockBytes}`,
    );
  }
  await checkPosition(base, header.height, header.time);

  const overlay = new Overlay(base);
  const results: TxResult[] = [];
  for (let i = 0; i < block.txs.length; i++) {
    results.push(
      await executeTx(
        overlay,
        block.txs[i]!,
        {
          height: header.height,
          time: header.time,
          index: i,
          payloads,
          verified: opts.verified,
          chain,
          hash: toHex(hashes[i]!),
          decode: opts.decode,
        },
        'commit',
      ),
    );
  }
  overlay.set(keys.head(), { height: header.height, time: header.time });
  const writes = overlay.writes();
  const stateHash = stateHashAfter(opts.prevStateHash, writes);
  if (opts.checkStateHash !== false && toHex(stateHash) !== toHex(header.stateHash)) {
    throw new EhrError(
      BlockErrorCode.STATE_MISMATCH,
      `block ${header.height}: state hash ${toHex(stateHash)} differs from the header's ${toHex(header.stateHash)}; this node's state diverged from the proposer's`,
      { height: header.height, computed: toHex(stateHash), header: toHex(header.stateHash) },
    );
  }
  return collect(results, writes, stateHash);
}
