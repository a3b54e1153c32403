export * from './codec.ts';
export * from './pacing.ts';
export * from './raft.ts';
export * from './types.ts';
