/**
 * The background scrubber: the full integrity walk (@ehr/store walk.ts) of the node's store,
 * round after round, at a configured pace (blocks per second and bytes per second, whichever is
 * slower, and at most `cpuPercent` of one core: after each slice it rests in proportion), so start-up only checks the last blocks and the whole chain is still re-verified.
 * It never holds the event loop for more than a slice (`sliceMs`) before giving it back, holds
 * one block at a time, and reports its progress in the node's status and metrics. On a mismatch
 * it calls `onCorrupt` with the error (height, what, store key and damaged file): the node halts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EhrError, ScrubStatus } from '@ehr/core';
import type { Genesis } from '@ehr/ledger';
import { type Db, type WalkProgress, walkStore } from '@ehr/store';
import type { Logger } from './logger.ts';
import type { NodeMetrics } from './metrics.ts';

export interface ScrubConfig {
  enabled: boolean;
  blocksPerSecond: number;
  bytesPerSecond: number;
  /** Pause between two rounds, ms. */
  pauseMs: number;
  /** Share of one core it may use, percent: after each slice it rests in proportion. */
  cpuPercent: number;
  /** Blocks checked at start, before the node serves (head and the last ones). */
  startupBlocks: number;
  /** And no more block bytes than this (the head block whatever its size). */
  startupBytes: number;
  /** Verify the whole store before serving instead (start-up grows with the chain). */
  verifyAllAtStart: boolean;
  /** State keys held at once by the state check (more keys: more passes over the write sets). */
  maxKeysPerPass: number;
}

export interface ScrubberParts {
  db: Db;
  genesis: Genesis;
  config: ScrubConfig;
  logger: Logger;
  metrics: NodeMetrics;
  onCorrupt: (err: Error) => void;
  /** Longest stretch of work before the event loop is given back, ms (default 10). */
  sliceMs?: number;
  now?: () => number;
}

export class Scrubber {
  private readonly p: ScrubberParts;
  private stopped = false;
  private running: Promise<void> | undefined;
  private abort = new AbortController();
  private readonly st: ScrubStatus;
  /** CPU ms of the longest stretch run without giving the event loop back (for tests). */
  private longest = 0;

  constructor(parts: ScrubberParts) {
    this.p = parts;
    this.st = {
      enabled: parts.config.enabled,
      round: 0,
      phase: 'idle',
      height: 0,
      target: 0,
      bytes: 0,
      progress: 0,
      lastRoundMs: null,
      lastCompletedAt: null,
      failed: null,
    };
  }

  get status(): ScrubStatus {
    return { ...this.st };
  }

  /**
   * CPU time (ms, the event loop thread's) of the longest stretch of work between two returns
   * to the event loop: what it held the loop for, whatever else runs on the machine.
   */
  get longestSliceMs(): number {
    return this.longest;
  }

  start(): void {
    if (!this.p.config.enabled || this.running) return;
    this.running = this.rounds().catch((err) => {
      if (!this.stopped) this.p.logger.error({ err: (err as Error).message }, 'scrubber stopped');
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.running;
  }

  /**
   * CPU time of this thread, the event loop's (Node 23.9+): what held the loop in a slice.
   * LevelDB's reads in the thread pool and the GC helpers run beside it (they count towards
   * cpuPercent, which is the process's).
   */
  private static loopCpu(): NodeJS.CpuUsage {
    return typeof process.threadCpuUsage === 'function'
      ? process.threadCpuUsage()
      : process.cpuUsage();
  }

  /** One full walk, paced; resolves when it is done (or stopped), throws on damage. */
  async round(): Promise<void> {
    const { db, genesis, config, metrics } = this.p;
    const now = this.p.now ?? Date.now;
    const sliceMs = this.p.sliceMs ?? 10;
    const started = now();
    let sliceAt = started;
    let sliceCpu = process.cpuUsage();
    let sliceLoop = Scrubber.loopCpu();
    /** Ends a slice; returns how long to rest to keep within cpuPercent, ms. */
    const endSlice = (): number => {
      const c = process.cpuUsage(sliceCpu);
      const ms = (c.user + c.system) / 1000;
      const l = Scrubber.loopCpu();
      const loopMs = (l.user - sliceLoop.user + l.system - sliceLoop.system) / 1000;
      this.longest = Math.max(this.longest, loopMs);
      return config.cpuPercent >= 100 ? 0 : (ms * (100 - config.cpuPercent)) / config.cpuPercent;
    };
    this.st.round++;
    this.st.failed = null;
    let last: WalkProgress | undefined;
    let counted = 0;
    const walk = walkStore(db, genesis, { maxKeysPerPass: config.maxKeysPerPass });
    try {
      for (;;) {
        const step = await walk.next();
        if (step.done) break;
        const w = step.value;
        last = w;
        this.note(w);
        metrics.scrubBytes.inc(w.bytes - counted);
        counted = w.bytes;
        if (this.stopped) return;
        // Ahead of the allowed pace: wait until the pace catches up (this also yields).
        const due = Math.max(
          (w.blocks / config.blocksPerSecond) * 1000,
          (w.bytes / config.bytesPerSecond) * 1000,
        );
        const ahead = due - (now() - started);
        if (ahead >= 1 || now() - sliceAt >= sliceMs) {
          const rest = endSlice();
          await this.pause(Math.max(ahead, rest));
          sliceAt = now();
          sliceCpu = process.cpuUsage();
          sliceLoop = Scrubber.loopCpu();
        }
      }
    } catch (err) {
      if (this.stopped) return;
      const e = err as EhrError;
      this.st.failed = e.message;
      this.st.phase = 'failed';
      metrics.scrubFailures.inc();
      throw e;
    } finally {
      await walk.return(undefined as never).catch(() => {});
    }
    const ms = now() - started;
    this.st.phase = 'idle';
    this.st.progress = 1;
    this.st.lastRoundMs = ms;
    this.st.lastCompletedAt = now();
    metrics.scrubProgress.set(1);
    metrics.scrubRounds.inc();
    this.p.logger.info(
      { round: this.st.round, height: last?.target ?? 0, bytes: last?.bytes ?? 0, ms },
      'scrub round verified the whole store',
    );
  }

  private note(w: WalkProgress): void {
    const { metrics } = this.p;
    this.st.phase = w.phase;
    this.st.height = w.height;
    this.st.target = w.target;
    this.st.bytes = w.bytes;
    // Blocks weigh half a round, the state check and the payloads the other half.
    const blocks = w.target > 0 ? w.height / w.target : 1;
    const rest = w.phase === 'blocks' ? 0 : w.phase === 'state' ? (w.pass - 1) / w.passes : 1;
    this.st.progress = Math.min(1, blocks / 2 + rest / 2);
    metrics.scrubHeight.set(w.height);
    metrics.scrubProgress.set(this.st.progress);
  }

  private async rounds(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.round();
      } catch (err) {
        if (this.stopped) return;
        this.p.logger.fatal(
          { err: (err as Error).message, ...((err as EhrError).data as object) },
          'scrubber found the store damaged: halting the node',
        );
        this.p.onCorrupt(err as Error);
        return;
      }
      if (this.stopped) return;
      await this.pause(this.p.config.pauseMs);
    }
  }

  private async pause(ms: number): Promise<void> {
    try {
      if (ms <= 0) await new Promise<void>((r) => setImmediate(r));
      else await sleep(ms, undefined, { signal: this.abort.signal, ref: false });
    } catch {
      // Aborted by stop().
    }
  }
}
