/**
 * What a rule sees while it runs: the state (a child overlay, dropped if the rule rejects), the
 * chain config, the block position and time, the author, the payload bodies delivered beside
 * the block, and the effects it reports beyond state (consensus changes, payloads to keep/erase).
 */
import type { ChainConfig, MemberRole } from './model.ts';
import type { State } from './state.ts';

/** Payload bodies by lowercase hex SHA-256 (a Map works). */
export interface PayloadBodies {
  get(hashHex: string): Uint8Array | undefined;
}

/** A node membership change the node turns into a consensus configuration change. */
export type ConsensusChange = {
  op: 'add' | 'remove';
  role: MemberRole;
  /** Node public key, hex. */
  node: string;
  /** The node's membership before the change ('observer' when a validator add promotes it). */
  previousRole: MemberRole | null;
  /** The governance proposal that made it. */
  proposal: string;
};

export type Effects = {
  consensusChanges: ConsensusChange[];
  /** Payload hashes (hex) introduced by applied transactions: the store keeps their bodies. */
  payloadsReferenced: string[];
  /** Payload hashes (hex) erased by applied transactions: the store deletes their bodies. */
  payloadsErased: string[];
  /** Supplied bodies that did not match the transaction (dropped; the node should refetch). */
  payloadsRejected: string[];
};

export const emptyEffects = (): Effects => ({
  consensusChanges: [],
  payloadsReferenced: [],
  payloadsErased: [],
  payloadsRejected: [],
});

export type RuleCtx = {
  state: State;
  chain: ChainConfig;
  height: number;
  /** Block time (ms); the only clock the rules know. */
  time: number;
  index: number;
  pos: string;
  /** Transaction hash, hex: the id of whatever the transaction creates. */
  hash: string;
  /** Author public key, hex. */
  author: string;
  payloads: PayloadBodies | undefined;
  /** Admission and block building: a body must be supplied and match. */
  strictPayloads: boolean;
  /**
   * Signed before transactions carried deadlines. Rules added since then apply only to newer
   * transactions, so an old chain replays to exactly the state it had (coded read purposes,
   * the prescriber's access, revoking a hospital never shared with).
   */
  legacy: boolean;
  effects: Effects;
};
