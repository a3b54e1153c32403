/**
 * Every way a daemon process ends leaves a line in its log with the reason and the exit code
 * (issue 12, item 8): a stop signal, an uncaught exception, an unhandled rejection, an event loop
 * that ran empty. Each case runs in its own process, as the daemon does.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const WATCHER = resolve(import.meta.dirname, '../src/daemon-exit.ts');

function run(body: string, signal?: NodeJS.Signals) {
  const script = `
    import { createSyncLogger } from '@ehr/node';
    import { watchDaemonExit } from ${JSON.stringify(WATCHER)};
    const exit = watchDaemonExit(createSyncLogger('t', 'info'));
    const keepAlive = setInterval(() => {}, 1000);
    console.error('ready');
    ${body}
  `;
  return new Promise<{ code: number | null; lines: Record<string, unknown>[] }>((res) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: resolve(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      if (signal && String(d).includes('ready')) child.kill(signal);
    });
    child.on('exit', (code) =>
      res({
        code,
        lines: out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      }),
    );
  });
}

const exiting = (lines: Record<string, unknown>[]) =>
  lines.find((l) => l['msg'] === 'node process exiting');

describe('daemon exits are logged with reason and code', () => {
  it('SIGTERM, SIGINT and SIGHUP: stop requested, then exit 0 with the signal as reason', async () => {
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const r = await run(
        'exit.stopRequested.then(() => { clearInterval(keepAlive); process.exitCode = 0; });',
        sig,
      );
      expect(r.code).toBe(0);
      expect(r.lines.find((l) => l['msg'] === 'stop requested')?.['signal']).toBe(sig);
      expect(exiting(r.lines)).toMatchObject({ code: 0, reason: `received ${sig}` });
    }
  }, 60_000);

  it('an uncaught exception: logged with its stack, exit 1', async () => {
    const r = await run("setTimeout(() => { throw new Error('boom in a timer'); }, 10);");
    expect(r.code).toBe(1);
    const fatal = r.lines.find((l) => l['msg'] === 'uncaught exception; exiting');
    expect(fatal?.['err']).toBe('boom in a timer');
    expect(String(fatal?.['stack'])).toContain('Error: boom in a timer');
    expect(exiting(r.lines)).toMatchObject({
      code: 1,
      reason: 'uncaught exception: boom in a timer',
    });
  }, 30_000);

  it('an unhandled rejection: logged, exit 1', async () => {
    const r = await run("Promise.reject(new Error('nobody awaited me'));");
    expect(r.code).toBe(1);
    expect(exiting(r.lines)).toMatchObject({
      code: 1,
      reason: 'unhandled rejection: nobody awaited me',
    });
  }, 30_000);

  it('a start refusal: the reason and a non-zero code', async () => {
    const r = await run(
      "exit.because('start refused: the store at /x is damaged'); clearInterval(keepAlive); process.exitCode = 4;",
    );
    expect(r.code).toBe(4);
    expect(exiting(r.lines)).toMatchObject({
      code: 4,
      reason: 'start refused: the store at /x is damaged',
    });
  }, 30_000);

  it('an event loop that runs empty says so', async () => {
    const r = await run('clearInterval(keepAlive);');
    expect(r.code).toBe(0);
    expect(String(exiting(r.lines)?.['reason'])).toMatch(/event loop ran empty/);
  }, 30_000);
});
