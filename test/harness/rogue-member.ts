/**
 * A hostile member for tests: a libp2p host (@ehr/p2p) with a member's own key, run while the
 * real member is stopped, sending what a faulty or malicious node could send - consensus
 * messages with terms and indexes beyond the accepted range (2^53-1 among them: it used to halt
 * every node for good) and block announcements of a height nobody has.
 *
 *   node test/harness/rogue-member.ts <node.yaml> [seconds]
 *
 * Reads the member's config (key, listen and bootstrap addresses) and genesis, sends for
 * `seconds` (default 4), prints one JSON line (what it sent, to whom), and exits.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadKeyFile, publicKeyOf, toHex } from '@ehr/core';
import { parseGenesis } from '@ehr/ledger';
import { encodeAnnouncement, loadConfig } from '@ehr/node';
import { P2PHost } from '@ehr/p2p';
import { encodeMessage, type Message } from '../../packages/consensus/src/index.ts';

/** Terms a member may send: the first two are refused at decoding, the third is survived. */
export const ROGUE_TERMS = [Number.MAX_SAFE_INTEGER, 2 ** 48 + 1, 1e12];
export const ROGUE_HEIGHT = 1e12;

async function main(): Promise<void> {
  const [configFile, secondsArg] = process.argv.slice(2);
  if (!configFile) throw new Error('usage: rogue-member.ts <node.yaml> [seconds]');
  const config = loadConfig(configFile);
  const genesis = parseGenesis(readFileSync(config.genesisFile, 'utf8'), config.genesisFile);
  const key = loadKeyFile(config.keyFile);
  const me = toHex(publicKeyOf(key.secretKey));
  const host = await P2PHost.create({
    chainId: genesis.chainId,
    secretKey: key.secretKey,
    listen: config.p2p.listen,
    bootstrap: config.p2p.bootstrap,
    isMember: () => true,
  });
  const others = [...genesis.validators, ...genesis.observers].filter((v) => v !== me);
  const end = Date.now() + Number(secondsArg ?? 4) * 1000;
  let consensus = 0;
  let announcements = 0;
  while (Date.now() < end) {
    for (const to of others) {
      for (const term of ROGUE_TERMS) {
        const m: Message = {
          type: 'append',
          from: me,
          to,
          term,
          index: term === 1e12 ? 0 : 2 ** 52,
          logTerm: 0,
          entries: [],
          commit: term === 1e12 ? 0 : Number.MAX_SAFE_INTEGER,
          reject: false,
          hintIndex: 0,
          hintTerm: 0,
          transfer: false,
          snapshot: null,
        };
        host.send(to, encodeMessage(m));
        host.send(to, encodeMessage({ ...m, type: 'vote', index: 2 ** 50, logTerm: term }));
        consensus += 2;
      }
    }
    const note = encodeAnnouncement({
      height: ROGUE_HEIGHT,
      hash: new Uint8Array(randomBytes(32)),
      stateHash: new Uint8Array(randomBytes(32)),
    });
    await host.publish('blocks', note).then(
      () => announcements++,
      () => {},
    );
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(JSON.stringify({ node: me, peers: host.peers().length, consensus, announcements }));
  await host.stop();
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
