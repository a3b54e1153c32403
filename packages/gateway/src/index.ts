export * from './dispatcher.ts';
export * from './http.ts';
export * from './node-methods.ts';
