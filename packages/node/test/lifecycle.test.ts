import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../src/lifecycle.ts';
import { capturingLogger } from './capture.ts';

describe('Lifecycle', () => {
  it('stops parts in reverse start order, goes on past a failing stop, and logs it', async () => {
    const { logger, lines } = capturingLogger();
    const order: string[] = [];
    const part = (name: string, failStop = false) => ({
      start: async () => void order.push(`start ${name}`),
      stop: async () => {
        order.push(`stop ${name}`);
        if (failStop) throw new Error(`${name} would not stop`);
      },
    });
    const l = new Lifecycle(logger);
    l.started('store', { stop: () => void order.push('stop store') });
    await l.start('a', part('a'));
    await l.start('b', part('b', true));
    await l.start('c', part('c'));
    expect(l.names()).toEqual(['store', 'a', 'b', 'c']);
    await l.stop();
    expect(order).toEqual([
      'start a',
      'start b',
      'start c',
      'stop c',
      'stop b',
      'stop a',
      'stop store',
    ]);
    expect(lines.find((x) => x['msg'] === 'stopping a part failed')).toMatchObject({ part: 'b' });
    // Stopping twice does nothing more.
    await l.stop();
    expect(order).toHaveLength(7);
  });

  it('a part that fails to start is not recorded; what started before it can be stopped', async () => {
    const order: string[] = [];
    const l = new Lifecycle();
    await l.start('a', { start: () => {}, stop: () => void order.push('stop a') });
    await expect(
      l.start('b', {
        start: () => {
          throw new Error('port in use');
        },
        stop: () => void order.push('stop b'),
      }),
    ).rejects.toThrow('port in use');
    await l.stop();
    expect(order).toEqual(['stop a']);
  });
});
