export * from './dispatcher.ts';
export * from './gateway.ts';
export * from './http.ts';
export * from './json.ts';
export * from './node-methods.ts';
export * from './query-methods.ts';
export * from './read-guard.ts';
export * from './ws.ts';
