import type { ErrorMessage, ServerReply } from './replies.ts';
import type { PushMessage } from './pushes.ts';

/*
 * The messages of wire protocol v1 (PROTOCOL.md), as TypeScript types. Shared by the client SDK and
 * the server: field names are the wire names, optional fields are optional (the server omits them
 * when absent, never sends nil), integers are `number`, prices and quantities are decimal strings.
 * Types only plus a few constant lists; it imports only its siblings in src/protocol, so it bundles
 * for browsers as it is.
 */

export * from './vocabulary.ts';
export * from './requests.ts';
export * from './replies.ts';
export * from './pushes.ts';

export type ServerMessage = ServerReply | ErrorMessage | PushMessage;
