import { encode, sha256, utf8 } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { encodeAnnouncement, judgeAnnouncement } from '../src/block-announce.ts';

const h = (s: string) => sha256(utf8(s));
const head = { height: 10, hash: h('b10'), stateHash: h('s10') };
const note = (height: number, hash = h(`b${height}`), stateHash = h(`s${height}`)) =>
  encodeAnnouncement({ height, hash, stateHash });

describe('block announcements', () => {
  it('accepts news of a higher block once, then ignores repeats and old news', () => {
    expect(judgeAnnouncement(note(12), head, 10).verdict).toBe('accept');
    expect(judgeAnnouncement(note(12), head, 12).verdict).toBe('ignore');
    expect(judgeAnnouncement(note(9), head, 12).verdict).toBe('ignore');
    expect(judgeAnnouncement(note(10), head, 9).verdict).toBe('accept');
  });

  it("rejects one that contradicts this node's block at that height", () => {
    expect(judgeAnnouncement(note(10, h('other')), head, 9)).toMatchObject({
      verdict: 'reject',
      contradicts: true,
    });
    expect(judgeAnnouncement(note(10, h('b10'), h('forked state')), head, 9).verdict).toBe(
      'reject',
    );
  });

  it('rejects what does not decode or has the wrong shape', () => {
    expect(judgeAnnouncement(new Uint8Array([1, 2, 3]), head, 0).verdict).toBe('reject');
    expect(judgeAnnouncement(encode({ height: 3 }), head, 0).verdict).toBe('reject');
    expect(
      judgeAnnouncement(encode({ height: 0, hash: h('x'), stateHash: h('y') }), head, 0).verdict,
    ).toBe('reject');
  });
});
