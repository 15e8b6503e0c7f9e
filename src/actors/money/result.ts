/** Why a decimal string was refused; machine-readable, stable across releases. */
export type MoneyReason =
  | 'empty'
  | 'not_decimal'
  | 'too_many_decimals'
  | 'off_tick'
  | 'off_lot'
  | 'zero'
  | 'below_min'
  | 'above_max'
  | 'out_of_range';

export interface MoneyFailure {
  readonly ok: false;
  readonly code: 'bad_request';
  readonly reason: MoneyReason;
  readonly message: string;
}

export interface MoneyOk<T> {
  readonly ok: true;
  readonly value: T;
}

/** Parsing never throws: a refused input is a value carrying the protocol's `bad_request` code. */
export type MoneyResult<T> = MoneyOk<T> | MoneyFailure;

export function ok<T>(value: T): MoneyOk<T> {
  return { ok: true, value };
}

export function fail(reason: MoneyReason, message: string): MoneyFailure {
  return { ok: false, code: 'bad_request', reason, message };
}
