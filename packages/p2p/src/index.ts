export * from './host.ts';
export * from './identity.ts';
