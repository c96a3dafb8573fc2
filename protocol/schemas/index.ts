/** One schema per shape (zod 4): REST, the client, document validation, providers and docs use these. */
export * from './parse.ts';
export * from './text.ts';
export * from './identifiers.ts';
export * from './cart.ts';
export * from './catalog.ts';
export * from './rules.ts';
export * from './tokens.ts';
export * from './responses.ts';
export * from './signin.ts';
export * from './shares.ts';
