/** One identity per node: its Ed25519 key is both its libp2p peer id and its validator key. */

import { fromHex, toHex } from '@ehr/core';
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromPublicKey } from '@libp2p/peer-id';

export function libp2pKey(secretKey: Uint8Array): Promise<PrivateKey> {
  return generateKeyPairFromSeed('Ed25519', secretKey);
}

export function peerIdOf(nodeIdHex: string): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(fromHex(nodeIdHex)));
}

/** The node id (hex Ed25519 public key) behind a peer id, or undefined for non-Ed25519 peers. */
export function nodeIdOf(peer: PeerId): string | undefined {
  const pk = peer.publicKey;
  if (pk?.type !== 'Ed25519') return undefined;
  return toHex(pk.raw);
}
