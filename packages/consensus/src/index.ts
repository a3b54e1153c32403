export * from './codec.ts';
export * from './raft.ts';
export * from './types.ts';
