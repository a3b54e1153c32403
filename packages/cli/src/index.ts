export * from './program.ts';
export * from './service.ts';
