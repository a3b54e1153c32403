/** A logger that keeps its JSON lines, for tests that assert what a part said. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../src/logger.ts';

export function capturingLogger(level = 'debug'): {
  logger: Logger;
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: createLogger('test', level, sink), lines };
}
