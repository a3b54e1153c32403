/**
 * A node's libp2p peer id from its Ed25519 public key, for bootstrap addresses: the identity
 * multihash of the protobuf-encoded public key (type Ed25519 = 1), in base58btc. Same result as
 * peerIdOf in @ehr/p2p (tested), without loading libp2p into the CLI.
 */
import { fromHex } from '@ehr/core';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function base58btc(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = `1${out}`;
  }
  return out;
}

export function peerIdOfNode(nodeIdHex: string): string {
  // multihash identity (0x00), length 36; protobuf: field 1 varint 1 (Ed25519), field 2 bytes(32)
  const prefix = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
  return base58btc(new Uint8Array([...prefix, ...fromHex(nodeIdHex)]));
}
