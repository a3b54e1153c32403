import { fromUtf8, generateSecretKey, publicKeyOf, toHex, utf8 } from '@ehr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P2PHost } from '../src/host.ts';

const CHAIN = 'p2p-test';
const keys = Array.from({ length: 4 }, () => generateSecretKey());
const ids = keys.map((k) => toHex(publicKeyOf(k)));
const members = new Set(ids);
const hosts: P2PHost[] = [];

async function until(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  const first = await P2PHost.create({
    chainId: CHAIN,
    secretKey: keys[0]!,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [],
    isMember: (id) => members.has(id),
  });
  hosts.push(first);
  const boot = `${first.addresses[0]}`;
  for (const k of keys.slice(1)) {
    hosts.push(
      await P2PHost.create({
        chainId: CHAIN,
        secretKey: k,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [boot],
        isMember: (id) => members.has(id),
      }),
    );
  }
}, 30_000);

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

describe('p2p host', () => {
  it('a node id is the Ed25519 public key; hosts find each other from one bootstrap address', async () => {
    expect(hosts.map((h) => h.nodeId)).toEqual(ids);
    await until(() => hosts[1]!.peers().some((p) => p.nodeId === ids[0]));
    // Host 3 learns host 2's address through the DHT, knowing only its node id.
    await until(async () => {
      try {
        return (await hosts[3]!.findMember(ids[2]!, 2000)).length > 0;
      } catch {
        return false;
      }
    });
  });

  it('carries consensus messages between every pair, in order', async () => {
    const got = new Map<string, string[]>();
    for (const [i, h] of hosts.entries()) {
      h.onConsensusMessage((from, bytes) => {
        const k = `${from}>${i}`;
        got.set(k, [...(got.get(k) ?? []), fromUtf8(bytes)]);
      });
    }
    for (let i = 0; i < hosts.length; i++) {
      for (let j = 0; j < hosts.length; j++) {
        if (i === j) continue;
        for (let n = 0; n < 20; n++) hosts[i]!.send(ids[j]!, utf8(`${i}-${n}`));
      }
    }
    await until(() => [...got.values()].reduce((s, v) => s + v.length, 0) === 12 * 20);
    for (const [k, v] of got)
      expect(v, k).toEqual(
        Array.from({ length: 20 }, (_, n) => `${ids.indexOf(k.split('>')[0]!)}-${n}`),
      );
  });

  it('answers requests and times out clearly', async () => {
    hosts[2]!.handle('echo', async (_from, bytes) => utf8(`echo:${fromUtf8(bytes)}`));
    expect(fromUtf8(await hosts[0]!.request(ids[2]!, 'echo', utf8('hi'), 5000))).toBe('echo:hi');
    hosts[2]!.handle('slow', () => new Promise(() => {}));
    await expect(hosts[0]!.request(ids[2]!, 'slow', utf8('x'), 300)).rejects.toThrow(
      /timed out|failed/,
    );
  });

  it('gossips to every member, each validating before it accepts', async () => {
    const seen = hosts.map(() => [] as string[]);
    for (const [i, h] of hosts.entries()) {
      h.subscribe('tx', async (_from, bytes) => {
        const s = fromUtf8(bytes);
        seen[i]!.push(s);
        return s.startsWith('bad') ? 'reject' : 'accept';
      });
    }
    await new Promise((r) => setTimeout(r, 1500)); // subscriptions propagate
    await hosts[1]!.publish('tx', utf8('bad-1'));
    await hosts[1]!.publish('tx', utf8('good-1'));
    await until(() => seen.filter((s, i) => i !== 1 && s.includes('good-1')).length === 3);
    // Every other member ran its validator on the bad one too, and refused it.
    await until(() => seen.filter((s, i) => i !== 1 && s.includes('bad-1')).length === 3);
    expect(seen[1]).toEqual([]); // a publisher does not hear its own message
  });

  it('a message a member refuses is not relayed: in a line a-b-c, c never hears it', async () => {
    // Three more hosts in a line: a and c refuse each other, so all gossip between them goes
    // through b, whose validator decides what it relays.
    const [ka, kb, kc] = [generateSecretKey(), generateSecretKey(), generateSecretKey()];
    const [a, b, c] = [ka, kb, kc].map((k) => toHex(publicKeyOf(k)));
    const line = new Map([
      [a, new Set([a, b])],
      [b, new Set([a, b, c])],
      [c, new Set([b, c])],
    ]);
    const make = async (k: Uint8Array, bootstrap: string[]) =>
      P2PHost.create({
        chainId: `${CHAIN}-line`,
        secretKey: k,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap,
        isMember: (id) => line.get(toHex(publicKeyOf(k)))!.has(id),
      });
    const hb = await make(kb, []);
    const ha = await make(ka, [`${hb.addresses[0]}`]);
    const hc = await make(kc, [`${hb.addresses[0]}`]);
    try {
      const heard = { a: [] as string[], b: [] as string[], c: [] as string[] };
      const relays: string[] = [];
      const verdict = (who: keyof typeof heard) => async (from: string, bytes: Uint8Array) => {
        const m = fromUtf8(bytes);
        heard[who].push(m);
        if (who === 'c') relays.push(from);
        return m.startsWith('bad') ? ('reject' as const) : ('accept' as const);
      };
      ha.subscribe('tx', verdict('a'));
      hb.subscribe('tx', verdict('b'));
      hc.subscribe('tx', verdict('c'));
      await until(() => hb.peers().length === 2);
      await new Promise((r) => setTimeout(r, 1500)); // subscriptions and mesh form
      expect(ha.peers().map((p) => p.nodeId)).toEqual([b]);
      expect(hc.peers().map((p) => p.nodeId)).toEqual([b]);
      await ha.publish('tx', utf8('bad-1'));
      await ha.publish('tx', utf8('good-1'));
      await until(() => heard.c.includes('good-1'));
      // b saw and refused the bad one; c got the good one through b and never the bad one.
      expect(heard.b).toEqual(['bad-1', 'good-1']);
      await new Promise((r) => setTimeout(r, 500));
      expect(heard.c).toEqual(['good-1']);
      expect(relays).toEqual([b]);
    } finally {
      await Promise.all([ha.stop(), hb.stop(), hc.stop()]);
    }
  }, 30_000);

  it('refuses a peer that is not a member, and drops members that are removed', async () => {
    const outsider = await P2PHost.create({
      chainId: CHAIN,
      secretKey: generateSecretKey(),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [hosts[0]!.addresses[0]!],
      isMember: () => true,
    });
    try {
      let got = 0;
      hosts[0]!.onConsensusMessage(() => got++);
      outsider.send(ids[0]!, utf8('let me in'));
      await new Promise((r) => setTimeout(r, 1500));
      expect(got).toBe(0);
      expect(hosts[0]!.peers().some((p) => p.nodeId === outsider.nodeId)).toBe(false);
    } finally {
      await outsider.stop();
    }
    members.delete(ids[3]!);
    await hosts[0]!.refreshMembership();
    await until(() => !hosts[0]!.peers().some((p) => p.nodeId === ids[3]));
    // The removed peer cannot come back on its own: its dials are refused.
    let heard = 0;
    hosts[0]!.onConsensusMessage((from) => {
      if (from === ids[3]) heard++;
    });
    hosts[0]!.handle('hello', async () => utf8('hi'));
    hosts[3]!.send(ids[0]!, utf8('still here'));
    await expect(hosts[3]!.request(ids[0]!, 'hello', utf8('x'), 2000)).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 500));
    expect(heard).toBe(0);
    expect(hosts[0]!.peers().some((p) => p.nodeId === ids[3])).toBe(false);
    expect(hosts[3]!.peers().some((p) => p.nodeId === ids[0])).toBe(false);
    members.add(ids[3]!);
  });
});
