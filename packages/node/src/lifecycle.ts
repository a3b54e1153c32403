/**
 * Start/stop contract for the node's long-lived parts (as js-libp2p's `Startable`): `start.ts`
 * builds and starts them in order, and the node stops them in reverse - also when a later part
 * fails to start, so nothing is left listening or holding the store's lock.
 */
import type { Logger } from './logger.ts';

export interface Startable {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

export class Lifecycle {
  private readonly running: { name: string; part: Startable }[] = [];
  private readonly logger: Logger | undefined;

  constructor(logger?: Logger) {
    this.logger = logger;
  }

  /** Starts `part` and records it, so it is stopped (before the parts started earlier). */
  async start(name: string, part: Startable): Promise<void> {
    await part.start();
    this.running.push({ name, part });
  }

  /** Records a part that is already running (e.g. opened by its factory). */
  started(name: string, part: Pick<Startable, 'stop'>): void {
    this.running.push({ name, part: { start() {}, stop: () => part.stop() } });
  }

  /** Names of the running parts, in start order. */
  names(): string[] {
    return this.running.map((r) => r.name);
  }

  /** Stops every running part, last started first; a failing stop is logged, the rest go on. */
  async stop(): Promise<void> {
    while (this.running.length > 0) {
      const { name, part } = this.running.pop()!;
      try {
        await part.stop();
      } catch (err) {
        this.logger?.warn({ part: name, err: (err as Error).message }, 'stopping a part failed');
      }
    }
  }
}
