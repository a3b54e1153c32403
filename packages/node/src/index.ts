export * from './config.ts';
export * from './mempool.ts';
export * from './metrics.ts';
