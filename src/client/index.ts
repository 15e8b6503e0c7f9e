export * from '../protocol/messages.ts';
export * from '../protocol/codec.ts';
export * from '../protocol/checksum.ts';
export * from './localBook.ts';
export * from './client.ts';
export * from './orderTypes.ts';
export * from './http.ts';
