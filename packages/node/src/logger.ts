/**
 * Structured JSON logs (pino). Health data never reaches a log line: callers log ids, hashes,
 * heights and codes only, and the redaction list below is a second fence for fields that could
 * carry payloads if someone logged a whole object by mistake.
 */
import { type Logger, pino } from 'pino';

export type { Logger };

const REDACT = [
  'payload',
  '*.payload',
  'ciphertext',
  '*.ciphertext',
  'plaintext',
  '*.plaintext',
  'profile',
  '*.profile',
  'keys',
  '*.keys',
  'secretKey',
  '*.secretKey',
  'passphrase',
  '*.passphrase',
];

export function createLogger(
  name: string,
  level: string,
  destination?: NodeJS.WritableStream,
): Logger {
  const opts = {
    name,
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { node: name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(opts, destination as pino.DestinationStream) : pino(opts);
}

/**
 * A logger that writes each line before it returns: for the lines a process writes on its way
 * out (an exit, an uncaught exception), which an asynchronous logger could lose.
 */
export function createSyncLogger(name: string, level: string): Logger {
  return createLogger(
    name,
    level,
    pino.destination({ dest: 1, sync: true }) as unknown as NodeJS.WritableStream,
  );
}
