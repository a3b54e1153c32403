/**
 * Frames above libp2p's 4 MiB default stream buffer (a block with an 8 MiB document) travel on
 * the consensus channel, request/response and gossip, because every buffer is sized from the
 * host's frame limit; large consensus messages go one at a time, acknowledged, so a burst of
 * them cannot overflow a read buffer, and small ones do not wait behind them; what is larger
 * than a frame is not sent but reported as undelivered.
 */
import { generateSecretKey, publicKeyOf, sha256, toHex } from '@ehr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P2PHost } from '../src/host.ts';

const CHAIN = 'p2p-large';
const FRAME = 9 * 1024 * 1024;
const keys = [generateSecretKey(), generateSecretKey()];
const ids = keys.map((k) => toHex(publicKeyOf(k)));
const hosts: P2PHost[] = [];
const undelivered: { protocol: string; reason: string; messages: number }[] = [];

async function until(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function big(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 997) b[i] = (i + seed) & 255;
  return b;
}

beforeAll(async () => {
  for (const [i, k] of keys.entries()) {
    hosts.push(
      await P2PHost.create({
        chainId: CHAIN,
        secretKey: k,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: i === 0 ? [] : [hosts[0]!.addresses[0]!],
        isMember: (id) => ids.includes(id),
        maxFrameBytes: FRAME,
        onUndelivered: (e) => undelivered.push(e),
      }),
    );
  }
  await until(() => hosts[1]!.peers().some((p) => p.nodeId === ids[0]));
}, 30_000);

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

describe('frames above 4 MiB', () => {
  it('four consensus messages of 8.5 MiB sent back to back all arrive whole and in order; a heartbeat sent after them overtakes them', async () => {
    // The consensus stream is open first (a probe, resent as Raft resends, until it arrives).
    let probed = false;
    hosts[1]!.onConsensusMessage(() => {
      probed = true;
    });
    for (let i = 0; i < 20 && !probed; i++) {
      hosts[0]!.send(ids[1]!, new Uint8Array([0]));
      await new Promise((r) => setTimeout(r, 1000));
    }
    const got: string[] = [];
    hosts[1]!.onConsensusMessage((_from, bytes) => got.push(toHex(sha256(bytes))));
    // Probes sent before the stream opened may have been dropped (and reported): not these.
    const droppedBefore = undelivered.length;
    // Four frames back to back: more than a stream's read buffer (two frames) holds. Sent on
    // one stream they overflowed it, the stream was aborted and the frames were lost unreported.
    const large = [1, 2, 3, 4].map((seed) => big(8.5 * 1024 * 1024, seed));
    const heartbeat = new Uint8Array([1, 2, 3]);
    for (const m of large) hosts[0]!.send(ids[1]!, m);
    hosts[0]!.send(ids[1]!, heartbeat);
    await until(() => got.length === large.length + 1).catch((err: Error) => {
      throw new Error(
        `${err.message}; got ${got.length}, undelivered ${JSON.stringify(undelivered)}`,
      );
    });
    expect(undelivered.slice(droppedBefore)).toEqual([]);
    const hb = toHex(sha256(heartbeat));
    // The heartbeat did not wait for the four large frames (it is not last)...
    expect(got.indexOf(hb)).toBeLessThan(large.length);
    // ...and the large frames kept their order.
    expect(got.filter((h) => h !== hb)).toEqual(large.map((m) => toHex(sha256(m))));
  }, 60_000);

  it('a request and its reply of 8.5 MiB each', async () => {
    hosts[1]!.handle('echo-big', async (_from, bytes) => big(bytes.length, 7));
    const reply = await hosts[0]!.request(ids[1]!, 'echo-big', big(8.5 * 1024 * 1024, 3), 30_000);
    expect(reply.length).toBe(8.5 * 1024 * 1024);
  }, 60_000);

  it('a frame above the limit is reported undelivered, not sent', () => {
    hosts[0]!.send(ids[1]!, new Uint8Array(FRAME + 1));
    expect(undelivered).toContainEqual({
      protocol: 'raft',
      to: ids[1],
      messages: 1,
      reason: 'too_large',
    });
  });
});
