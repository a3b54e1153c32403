/**
 * Test chain: real genesis, real signed transactions and blocks, applied with applyBlock to a
 * MapState (the in-memory StateReader), exactly as a node would with its store.
 */
import {
  type Block,
  type BlockHeader,
  blockHash,
  encodeTx,
  publicKeyOf,
  seededRandom,
  sha256,
  signBlock,
  signTx,
  toHex,
  txRootOf,
  utf8,
  type ValueMap,
  ZERO_HASH,
} from '@ehr/core';
import {
  applyBlock,
  type BlockResult,
  type Genesis,
  genesisBlockHash,
  genesisStateHash,
  genesisWrites,
  type Limits,
  MapState,
  makeGenesis,
  type Threshold,
  type VerifiedTxs,
} from '../src/index.ts';

export type Account = { secret: Uint8Array; key: Uint8Array; hex: string; name: string };

/** Deterministic keys from a label, so runs are reproducible. */
export function account(name: string): Account {
  const secret = sha256(utf8(`ehr-ledger test key ${name}`));
  const key = publicKeyOf(secret);
  return { secret, key, hex: toHex(key), name };
}

/** A stand-in sealed body: opaque bytes, as the ledger sees any ciphertext. */
export function body(label: string, size = 64): Uint8Array {
  const out = new Uint8Array(size);
  const seed = sha256(utf8(label));
  for (let i = 0; i < size; i++) out[i] = seed[i % 32]! ^ (i & 0xff);
  return out;
}

export function ref(b: Uint8Array): { payloadHash: Uint8Array; payloadSize: number } {
  return { payloadHash: sha256(b), payloadSize: b.length };
}

/** A stand-in wrapped data key (opaque to the ledger). */
export function wrapped(label: string): Uint8Array {
  return sha256(utf8(`wrapped ${label}`)).slice(0, 24);
}

export const GENESIS_TIME = Date.UTC(2025, 0, 1);
export const BLOCK_INTERVAL = 1000;

export class TestChain {
  readonly genesis: Genesis;
  readonly state: MapState;
  readonly proposer: Account;
  prevStateHash: Uint8Array;
  prevHash: Uint8Array;
  height = 0;
  time: number;
  private readonly nonces = new Map<string, number>();
  /** Every body supplied so far, by hash hex (what a node's payload store would hold). */
  readonly bodies = new Map<string, Uint8Array>();
  /** Committed blocks, in order. */
  readonly blocks: Block[] = [];
  /**
   * Sign with a deadline (`expires`, a minute after the chain's time) like today's clients;
   * false: legacy transactions, signed before deadlines existed.
   */
  deadlines = false;

  constructor(
    opts: {
      admins?: Account[];
      validators?: Account[];
      observers?: Account[];
      threshold?: Threshold;
      limits?: Partial<Limits>;
    } = {},
  ) {
    const admins = opts.admins ?? [account('admin')];
    const validators = opts.validators ?? [account('node-a')];
    this.proposer = validators[0]!;
    this.genesis = makeGenesis({
      chainId: 'ehr-test',
      genesisTime: GENESIS_TIME,
      admins: admins.map((a) => a.key),
      validators: validators.map((v) => v.key),
      observers: (opts.observers ?? []).map((o) => o.key),
      threshold: opts.threshold,
      limits: opts.limits,
    });
    this.state = new MapState(genesisWrites(this.genesis));
    this.prevStateHash = genesisStateHash(this.genesis);
    this.prevHash = genesisBlockHash(this.genesis);
    this.time = GENESIS_TIME;
  }

  /** Signs a transaction with the author's next nonce (tracked locally) unless one is given. */
  tx(
    author: Account,
    kind: string,
    payload: ValueMap,
    nonce?: number,
    expires?: number,
  ): Uint8Array {
    const n = nonce ?? this.nonces.get(author.hex) ?? 0;
    if (nonce === undefined) this.nonces.set(author.hex, n + 1);
    const deadline = expires ?? (this.deadlines ? this.time + 60_000 : undefined);
    return encodeTx(
      signTx(
        {
          chainId: this.genesis.chainId,
          author: author.key,
          nonce: n,
          kind,
          payload,
          ...(deadline === undefined ? {} : { expires: deadline }),
        },
        author.secret,
      ),
    );
  }

  /** Forgets a locally reserved nonce (after a transaction was kept out). */
  setNonce(author: Account, n: number): void {
    this.nonces.set(author.hex, n);
  }

  /** Makes a block header over `txs` at the next height with a given state hash. */
  header(txs: Uint8Array[], stateHash: Uint8Array = ZERO_HASH, time?: number): BlockHeader {
    return {
      chainId: this.genesis.chainId,
      height: this.height + 1,
      prevHash: this.prevHash,
      term: 1,
      proposer: this.proposer.key,
      time: time ?? this.time + BLOCK_INTERVAL,
      txCount: txs.length,
      txRoot: txRootOf(txs),
      stateHash,
    };
  }

  /**
   * Proposes and commits a block holding `txs` as given (even rejected ones): applies it once
   * to learn the state hash, signs the header, applies it again as a follower would (checking
   * the header's state hash), then stores the writes.
   */
  async commit(
    txs: Uint8Array[],
    payloads: Uint8Array[] = [],
    opts: { verified?: VerifiedTxs; time?: number } = {},
  ): Promise<BlockResult & { block: Block }> {
    const map = new Map<string, Uint8Array>();
    for (const b of payloads) {
      map.set(toHex(sha256(b)), b);
      this.bodies.set(toHex(sha256(b)), b);
    }
    const draft = this.header(txs, ZERO_HASH, opts.time);
    const first = await applyBlock(
      this.state,
      { header: draft, txs, signature: new Uint8Array(64) },
      map,
      {
        prevStateHash: this.prevStateHash,
        checkStateHash: false,
        verified: opts.verified,
      },
    );
    const block = signBlock({ ...draft, stateHash: first.stateHash }, txs, this.proposer.secret);
    const result = await applyBlock(this.state, block, map, {
      prevStateHash: this.prevStateHash,
      verified: opts.verified,
    });
    this.accept(block, result);
    return { ...result, block };
  }

  /** Stores a block's result as the node's store would. */
  accept(block: Block, result: BlockResult): void {
    this.state.applyWrites(result.writes);
    this.blocks.push(block);
    this.prevStateHash = result.stateHash;
    this.prevHash = blockHash(block.header);
    this.height = block.header.height;
    this.time = block.header.time;
  }

  /** Commits one transaction and returns its receipt. */
  async one(tx: Uint8Array, payloads: Uint8Array[] = []) {
    const r = await this.commit([tx], payloads);
    return r.receipts[0]!;
  }
}

export function hospitalPayload(
  id: string,
  specializations: string[],
  node?: Account,
  encryptionKey: Uint8Array = sha256(utf8(`enc ${id}`)),
): ValueMap {
  return {
    id,
    name: `${id} hospital`,
    address: `1 ${id} road`,
    specializations,
    contact: `desk@${id}.example`,
    nodes: node ? [node.key] : [],
    encryptionKey,
  };
}

export function doctorPayload(doctor: Account, hospital: string, specialization: string): ValueMap {
  return {
    doctor: doctor.key,
    hospital,
    name: `Dr. ${doctor.name}`,
    specialization,
    qualification: 'MD',
    experience: 12,
    contact: `${doctor.name}@example`,
  };
}

export function patientPayload(p: Account): { payload: ValueMap; profile: Uint8Array } {
  const profile = body(`profile ${p.name}`, 80);
  return {
    payload: {
      profileHash: sha256(profile),
      profileSize: profile.length,
      profileKey: wrapped(`profile ${p.name}`),
    },
    profile,
  };
}

/** A report submission payload and its body. */
export function reportPayload(
  label: string,
  hospital: string,
  specialization: string,
  extraHospitals: string[] = [],
): { payload: ValueMap; body: Uint8Array } {
  const b = body(`report ${label}`, 120);
  const hospitalKeys: ValueMap = { [hospital]: wrapped(`${label} for ${hospital}`) };
  for (const h of extraHospitals) hospitalKeys[h] = wrapped(`${label} for ${h}`);
  return {
    payload: {
      hospital,
      specialization,
      ...ref(b),
      patientKey: wrapped(`${label} for patient`),
      hospitalKeys,
    },
    body: b,
  };
}

/**
 * The usual cast: an admin; hospitals city-general (cardiology, dermatology) and river-clinic
 * (cardiology); doctors heart + skin at city-general, river at river-clinic; patients alice, bob.
 */
export async function world(chain = new TestChain()) {
  const admin = account('admin');
  const heart = account('heart');
  const skin = account('skin');
  const river = account('river');
  const alice = account('alice');
  const bob = account('bob');
  const pa = patientPayload(alice);
  const pb = patientPayload(bob);
  const r = await chain.commit(
    [
      chain.tx(
        admin,
        'hospital.register',
        hospitalPayload('city-general', ['cardiology', 'dermatology'], chain.proposer),
      ),
      chain.tx(admin, 'hospital.register', hospitalPayload('river-clinic', ['cardiology'])),
      chain.tx(admin, 'doctor.register', doctorPayload(heart, 'city-general', 'cardiology')),
      chain.tx(admin, 'doctor.register', doctorPayload(skin, 'city-general', 'dermatology')),
      chain.tx(admin, 'doctor.register', doctorPayload(river, 'river-clinic', 'cardiology')),
      chain.tx(alice, 'patient.register', pa.payload),
      chain.tx(bob, 'patient.register', pb.payload),
    ],
    [pa.profile, pb.profile],
  );
  for (const rc of r.receipts) {
    if (!rc.ok) throw new Error(`world setup failed: ${rc.kind} ${rc.code} ${rc.message}`);
  }
  return { chain, admin, heart, skin, river, alice, bob };
}

/** The seeded PRNG of @ehr/core (mulberry32). */
export const seeded = seededRandom;
