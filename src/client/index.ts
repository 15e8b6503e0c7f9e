export * from './protocol.ts';
export * from './codec.ts';
export * from './checksum.ts';
export * from './localBook.ts';
export * from './client.ts';
