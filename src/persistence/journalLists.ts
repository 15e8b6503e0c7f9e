/**
 * The value lists of the journal format (journalCodec.ts): an enum field is written as its index
 * here. Part of the format: append only.
 */

export const SIDES = ['buy', 'sell'] as const;
// Append only: the journal codes an enum by its index.
export const ORDER_TYPES = ['limit', 'market', 'stop_limit', 'stop_market', 'trailing_stop'] as const;
export const TIFS = ['GTC', 'IOC', 'FOK', 'GTD'] as const;
export const STPS = ['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement'] as const;
export const COMMAND_KINDS = ['place', 'cancel', 'amend', 'cancel_all'] as const;
export const REJECT_CODES = [
  'bad_request',
  'duplicate_client_order_id',
  'overloaded',
  'would_match',
  'fok_unfilled',
  'not_found',
] as const;
export const CANCEL_REASONS = ['user', 'unfilled', 'self_trade', 'would_match', 'fok_unfilled'] as const;
export const ERROR_CODES = [
  'bad_request',
  'market_not_active',
  'insufficient_funds',
  'duplicate_client_order_id',
  'would_match',
  'fok_unfilled',
  'not_found',
  'overloaded',
  'invalid_transition',
  'unavailable',
  'unknown_market',
] as const;
export const BUCKETS = ['available', 'locked'] as const;
export const POSTING_KINDS = ['deposit', 'withdrawal', 'lock', 'unlock', 'trade', 'fee'] as const;
