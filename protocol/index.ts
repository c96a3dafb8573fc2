export * from './errors.ts';
export * from './close-codes.ts';
export * from './schema.ts';
export * from './cart-ops.ts';
export * from './validate.ts';
export * from './codec.ts';
export * from './events.ts';
export * from './origin.ts';
