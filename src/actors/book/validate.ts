import type { AmendCommand, BookConfig, OrderRef, PlaceCommand, PlaceOcoCommand } from './types.ts';

/**
 * Most slices an iceberg may need (ceil(qty / displayQty)): every slice is a fill and a requeue for
 * the taker that meets it, so a tiny slice of a huge order would make one match unbounded.
 */
export const MAX_ICEBERG_SLICES = 1000;

const isPositiveInt = (n: number | undefined): n is number => Number.isSafeInteger(n) && n! > 0;

/** Why a placement is malformed (`bad_request`), or undefined when it is well formed. */
export function placeProblem(cmd: Omit<PlaceCommand, 'orderId'>, config: BookConfig): string | undefined {
  if (!isPositiveInt(cmd.qty)) return 'qty must be a positive whole number of lots';
  if (cmd.qty > config.maxQty) return `qty exceeds the maximum of ${config.maxQty} lots`;
  const trailing = cmd.type === 'trailing_stop';
  const hasLimit = cmd.type === 'limit' || cmd.type === 'stop_limit';
  const isStopType = cmd.type === 'stop_limit' || cmd.type === 'stop_market';
  if (hasLimit && !isPositiveInt(cmd.price)) return `${cmd.type} orders need a positive price`;
  if (!hasLimit && cmd.price !== undefined) return `${cmd.type} orders take no price`;
  if (isStopType && !isPositiveInt(cmd.stopPrice)) return `${cmd.type} orders need a positive stopPrice`;
  if (!isStopType && cmd.stopPrice !== undefined) return `${cmd.type} orders take no stopPrice`;
  const trailProblem = trailingProblem(cmd);
  if (trailProblem !== undefined) return trailProblem;
  const limited = hasLimit || (trailing && cmd.limitOffset !== undefined);
  if (cmd.postOnly && !limited) return 'postOnly applies to limit orders only';
  if (cmd.postOnly && cmd.tif !== 'GTC' && cmd.tif !== 'GTD') return 'postOnly orders must be GTC or GTD';
  if ((cmd.tif === 'GTD') !== (cmd.expireAt !== undefined)) {
    return cmd.tif === 'GTD' ? 'GTD orders need expireAt' : 'expireAt applies to GTD orders only';
  }
  if (cmd.expireAt !== undefined && !isPositiveInt(cmd.expireAt)) {
    return 'expireAt must be a positive whole number of milliseconds';
  }
  if (cmd.displayQty !== undefined) {
    if (!hasLimit || (cmd.tif !== 'GTC' && cmd.tif !== 'GTD')) {
      return 'displayQty applies to GTC and GTD limit and stop_limit orders only';
    }
    if (!isPositiveInt(cmd.displayQty)) return 'displayQty must be a positive whole number of lots';
    if (cmd.displayQty > cmd.qty) return 'displayQty cannot exceed qty';
    if (cmd.displayQty * MAX_ICEBERG_SLICES < cmd.qty) {
      return `displayQty must be at least 1/${MAX_ICEBERG_SLICES} of qty`;
    }
  }
  if (cmd.quoteBudget !== undefined) {
    const spends = cmd.type === 'market' || cmd.type === 'stop_market' || (trailing && !limited);
    if (!spends || cmd.side !== 'buy') {
      return 'a quote budget applies to market and stop_market buys only';
    }
    if (!isPositiveInt(cmd.quoteBudget)) return 'quoteBudget must be a positive whole number';
  }
  return undefined;
}

/** Why an OCO placement is malformed (`bad_request`, types.ts OCO), or undefined. */
export function ocoProblem(
  cmd: Omit<PlaceOcoCommand, 'orderId' | 'stopOrderId'> & { orderId?: number; stopOrderId?: number },
  config: BookConfig,
): string | undefined {
  if (!isPositiveInt(cmd.qty)) return 'qty must be a positive whole number of lots';
  if (cmd.qty > config.maxQty) return `qty exceeds the maximum of ${config.maxQty} lots`;
  if (!isPositiveInt(cmd.price)) return 'an OCO needs a positive price';
  if (!isPositiveInt(cmd.stopPrice)) return 'an OCO needs a positive stopPrice';
  if (cmd.stopLimitPrice !== undefined && !isPositiveInt(cmd.stopLimitPrice)) {
    return 'stopLimitPrice must be a positive price';
  }
  if (
    cmd.stopOrderId !== undefined &&
    (!Number.isSafeInteger(cmd.stopOrderId) || cmd.stopOrderId === cmd.orderId)
  ) {
    return 'the stop leg needs an id of its own';
  }
  const beyond = cmd.side === 'buy' ? cmd.stopPrice > cmd.price : cmd.stopPrice < cmd.price;
  if (!beyond) {
    return cmd.side === 'buy'
      ? 'a buy OCO needs stopPrice above price'
      : 'a sell OCO needs stopPrice below price';
  }
  return undefined;
}

/** The trailing_stop rules of placement rule 1 (types.ts). */
function trailingProblem(cmd: Omit<PlaceCommand, 'orderId'>): string | undefined {
  const { trailingOffset, trailingBps, limitOffset } = cmd;
  if (cmd.type !== 'trailing_stop') {
    const given = trailingOffset !== undefined || trailingBps !== undefined || limitOffset !== undefined;
    return given
      ? 'trailingOffset, trailingBps and limitOffset apply to trailing_stop orders only'
      : undefined;
  }
  if ((trailingOffset === undefined) === (trailingBps === undefined)) {
    return 'a trailing_stop needs one of trailingOffset and trailingBps';
  }
  if (trailingOffset !== undefined && !isPositiveInt(trailingOffset)) {
    return 'trailingOffset must be a positive whole number of ticks';
  }
  if (trailingBps !== undefined && (!isPositiveInt(trailingBps) || trailingBps > 10_000)) {
    return 'trailingBps must be a whole number from 1 to 10000';
  }
  if (limitOffset !== undefined && (!Number.isSafeInteger(limitOffset) || limitOffset < 0)) {
    return 'limitOffset must be a whole number of ticks, 0 or more';
  }
  return undefined;
}

export function refProblem(ref: OrderRef): string | undefined {
  if (ref.orderId !== undefined) {
    return Number.isSafeInteger(ref.orderId) ? undefined : 'orderId must be a whole number';
  }
  return ref.clientOrderId === undefined ? 'name the order by orderId or clientOrderId' : undefined;
}

export function amendProblem(cmd: AmendCommand, config: BookConfig): string | undefined {
  if (cmd.qty === undefined && cmd.price === undefined) return 'amend needs a new qty or price';
  if (cmd.qty !== undefined && !isPositiveInt(cmd.qty)) return 'qty must be a positive whole number of lots';
  if (cmd.qty !== undefined && cmd.qty > config.maxQty)
    return `qty exceeds the maximum of ${config.maxQty} lots`;
  if (cmd.price !== undefined && !isPositiveInt(cmd.price))
    return 'price must be a positive whole number of ticks';
  return refProblem(cmd);
}

export function checkConfig(config: BookConfig): void {
  if (!isPositiveInt(config.maxOrders))
    throw new Error('BookConfig.maxOrders must be a positive safe integer');
  if (!isPositiveInt(config.maxQty)) throw new Error('BookConfig.maxQty must be a positive safe integer');
  if (!Number.isSafeInteger(config.maxOrders * config.maxQty)) {
    throw new Error(
      `BookConfig: maxOrders × maxQty (${config.maxOrders} × ${config.maxQty}) must be a safe integer so level totals stay exact`,
    );
  }
}
