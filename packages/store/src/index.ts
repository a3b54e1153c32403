export * from './buckets.ts';
export * from './db.ts';
export * from './raft-repo.ts';
export * from './state-repo.ts';
export * from './store.ts';
export * from './verify.ts';
export * from './leveldb-files.ts';
export * from './raft-marker.ts';
