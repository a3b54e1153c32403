/**
 * Every exit of a daemon says why, with its exit code, in its own log: a signal (SIGTERM, SIGINT,
 * SIGHUP: graceful stop, unless the gateway serves TLS: then SIGHUP re-reads its certificate), a start-up refusal, an uncaught exception or unhandled rejection (logged
 * with its stack, exit 1), or anything else that ends the process. Lines are written
 * synchronously, so they reach the log even when the process ends right after.
 */
import type { Logger } from '@ehr/node';

export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

export interface DaemonExit {
  /** Records why the process is about to end (the first reason wins). */
  because(reason: string): void;
  /** Resolves with the signal that asked the daemon to stop. */
  stopRequested: Promise<string>;
  /** SIGHUP runs `fn` (e.g. reload the TLS certificate) instead of stopping the node. */
  onHangup(fn: () => void): void;
  dispose(): void;
}

export function watchDaemonExit(log: Logger): DaemonExit {
  let reason: string | undefined;
  const because = (r: string) => {
    reason ??= r;
  };
  const onExit = (code: number) =>
    log[code === 0 ? 'info' : 'error'](
      { code, reason: reason ?? 'the event loop ran empty (nothing left to do)' },
      'node process exiting',
    );
  const fatal = (kind: string) => (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    because(`${kind}: ${e.message}`);
    log.fatal({ err: e.message, stack: e.stack }, `${kind}; exiting`);
    process.exit(1);
  };
  const onException = fatal('uncaught exception');
  const onRejection = fatal('unhandled rejection');
  let resolveStop: (s: string) => void = () => {};
  const stopRequested = new Promise<string>((r) => {
    resolveStop = r;
  });
  let hangup: (() => void) | undefined;
  const onSignal = (signal: string) => {
    if (signal === 'SIGHUP' && hangup && !reason) {
      hangup();
      return;
    }
    if (reason) {
      log.warn({ signal }, 'second stop signal while stopping; exiting now');
      process.exit(1);
    }
    because(`received ${signal}`);
    log.info({ signal }, 'stop requested');
    resolveStop(signal);
  };
  process.on('exit', onExit);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  return {
    because,
    stopRequested,
    onHangup(fn) {
      hangup = fn;
    },
    dispose() {
      process.off('exit', onExit);
      process.off('uncaughtException', onException);
      process.off('unhandledRejection', onRejection);
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
    },
  };
}
