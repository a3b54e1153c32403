export * from './client.ts';
export * from './errors.ts';
export * from './methods.ts';
export * from './read-auth.ts';
export * from './schema.ts';
