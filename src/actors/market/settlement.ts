import type { BookEvent, OpenOrder, Side } from '../book/types.ts';
import type { Ledger, LedgerResult, Posting } from '../ledger/index.ts';
import type { MarketFunds } from './funds.ts';

/** What the market remembers of an order while it holds funds for it. */
export interface OrderTerms {
  readonly userId: string;
  readonly side: Side;
  /** Limit price in ticks; 0 for a market or stop_market order (a buy reserves `locked` instead). */
  price: number;
  /** Market and stop_market buys only: quote still locked for it (what is left of its budget). */
  locked: bigint;
  /** Trailing stops: their qty (a pending stop's remaining), for the lock a move releases. */
  readonly qty?: number;
  /**
   * An OCO leg while linked (issue 14): the list holds one lock, the larger of the legs' needs. The
   * limit leg holds its own need (price × remaining, or its lots); the stop leg (`stopLeg`) holds
   * `extra`, the rest of the list's lock, for `qty` lots. A fill or decrement of the limit leg
   * unlinks it (the stop leg, canceled next, gives back its extra); the limit leg canceled while the
   * stop leg lives (it triggered) hands the stop leg what the stop leg needs and frees the rest.
   */
  link?:
    | { readonly partner: number; readonly stopLeg: boolean; readonly extra: bigint; readonly qty: number }
    | undefined;
}

/**
 * Moves funds for the book's events: each fill settles both sides (fees in the asset received),
 * a buy limit filled at a better price releases the difference at once, and an order that is done
 * (filled or canceled) releases what it still holds. Every ledger change is appended to `postings`.
 */
export class Settlement {
  constructor(
    private readonly ledger: Ledger,
    private readonly funds: MarketFunds,
    private readonly baseAsset: string,
    private readonly quoteAsset: string,
    readonly terms: Map<number, OrderTerms>,
  ) {}

  /** What an open order needs locked, in the asset it locks. */
  need(side: Side, price: number, remaining: number): bigint {
    return side === 'buy' ? this.funds.buyNeed(price, remaining) : this.funds.base(remaining);
  }

  assetOf(side: Side): string {
    return side === 'buy' ? this.quoteAsset : this.baseAsset;
  }

  /** Rebuilds the terms of every open order from the book (after a restore). */
  rebuild(open: readonly OpenOrder[]): void {
    this.terms.clear();
    const stopLegs = new Map<number, OpenOrder>();
    for (const o of open) if (o.listId !== undefined && o.orderId !== o.listId) stopLegs.set(o.listId, o);
    for (const o of open) {
      // A pending stop_market buy holds its whole budget: it spends nothing before it triggers.
      const locked = o.quoteBudget === undefined ? 0n : this.funds.budgetNeed(o.quoteBudget);
      const trailing = o.type === 'trailing_stop' ? { qty: o.qty } : {};
      this.terms.set(o.orderId, { userId: o.userId, side: o.side, price: o.price ?? 0, locked, ...trailing });
    }
    // Linked OCO legs are untouched (types.ts): the list holds the larger need for qty lots.
    for (const [listId, stop] of stopLegs) {
      const limit = this.terms.get(listId)!;
      const limitNeed = this.need(limit.side, limit.price, stop.qty);
      const stopNeed = this.need(stop.side, stop.price ?? 0, stop.qty);
      const extra = stopNeed > limitNeed ? stopNeed - limitNeed : 0n;
      limit.link = { partner: stop.orderId, stopLeg: false, extra: 0n, qty: stop.qty };
      this.terms.get(stop.orderId)!.link = { partner: listId, stopLeg: true, extra, qty: stop.qty };
    }
  }

  apply(events: readonly BookEvent[], postings: Posting[]): void {
    for (const event of events) {
      if (event.type === 'fill') this.fill(event, postings);
      else if (event.type === 'canceled') this.release(event.orderId, event.remaining, postings);
      else if (event.type === 'decremented') this.releasePart(event.orderId, event.qty, postings);
      else if (event.type === 'trailed') this.retrail(event.orderId, event.price, postings);
      else if (event.type === 'rested')
        this.restedTrailing(event.orderId, event.price, event.remaining, postings);
    }
  }

  /**
   * A trailing buy with a limit that moved and triggered in one command (no `trailed` event) rests
   * at a limit below the one it locked for: the rest of the lock at the old limit is given back.
   */
  private restedTrailing(orderId: number, price: number, remaining: number, postings: Posting[]): void {
    const terms = this.terms.get(orderId);
    if (terms?.qty === undefined || terms.side !== 'buy' || terms.price === 0 || price >= terms.price) return;
    const freed = this.funds.buyNeed(terms.price, remaining) - this.funds.buyNeed(price, remaining);
    terms.price = price;
    this.unlock(terms.userId, this.quoteAsset, freed, postings);
  }

  /**
   * A pending trailing buy with a limit moved down: it now needs qty at the lower limit locked,
   * and gives back the rest. (Sells lock lots, unchanged; market ones their budget, unchanged.)
   */
  private retrail(orderId: number, price: number | undefined, postings: Posting[]): void {
    const terms = this.terms.get(orderId)!;
    if (terms.side !== 'buy' || price === undefined || terms.qty === undefined || terms.price === 0) return;
    const freed = this.funds.buyNeed(terms.price, terms.qty) - this.funds.buyNeed(price, terms.qty);
    terms.price = price;
    this.unlock(terms.userId, this.quoteAsset, freed, postings);
  }

  lock(userId: string, asset: string, amount: bigint, postings: Posting[]): boolean {
    if (amount === 0n) return true;
    const result = this.ledger.lock(userId, asset, amount);
    if (!result.ok && result.code === 'insufficient_funds') return false;
    record(result, postings);
    return true;
  }

  unlock(userId: string, asset: string, amount: bigint, postings: Posting[]): void {
    if (amount > 0n) record(this.ledger.unlock(userId, asset, amount), postings);
  }

  private fill(event: Extract<BookEvent, { type: 'fill' }>, postings: Posting[]): void {
    const { funds } = this;
    const takerBuys = event.takerSide === 'buy';
    const buyerOrder = takerBuys ? event.takerOrderId : event.makerOrderId;
    const sellerOrder = takerBuys ? event.makerOrderId : event.takerOrderId;
    const baseAmount = funds.base(event.qty);
    const quoteAmount = funds.notional(event.price, event.qty);
    const settled = this.ledger.settleTrade({
      buyer: takerBuys ? event.takerUserId : event.makerUserId,
      seller: takerBuys ? event.makerUserId : event.takerUserId,
      baseAsset: this.baseAsset,
      quoteAsset: this.quoteAsset,
      baseAmount,
      quoteAmount,
      buyerFee: funds.fee(baseAmount, takerBuys ? funds.takerFeeBps : funds.makerFeeBps),
      sellerFee: funds.fee(quoteAmount, takerBuys ? funds.makerFeeBps : funds.takerFeeBps),
      buyerQuoteFromLocked: true,
      sellerBaseFromLocked: true,
    });
    record(settled, postings);
    const buyerLeft = takerBuys ? event.takerRemaining : event.makerRemaining;
    const sellerLeft = takerBuys ? event.makerRemaining : event.takerRemaining;
    const buyer = this.terms.get(buyerOrder)!;
    const seller = this.terms.get(sellerOrder)!;
    // A filled OCO limit leg goes on alone; its stop leg, canceled next, gives back its extra.
    buyer.link = undefined;
    seller.link = undefined;
    if (buyer.price === 0) {
      buyer.locked -= quoteAmount;
    } else {
      const freed = funds.buyNeed(buyer.price, buyerLeft + event.qty) - funds.buyNeed(buyer.price, buyerLeft);
      this.unlock(buyer.userId, this.quoteAsset, freed - quoteAmount, postings);
    }
    if (buyerLeft === 0) this.release(buyerOrder, 0, postings);
    if (sellerLeft === 0) this.release(sellerOrder, 0, postings);
  }

  /**
   * STP decrement took `qty` off an order that stays: give back what that quantity held. A market
   * buy's budget stays whole (it is spent by quantity at any price) until the order is done.
   */
  private releasePart(orderId: number, qty: number, postings: Posting[]): void {
    const terms = this.terms.get(orderId)!;
    terms.link = undefined;
    if (terms.price === 0 && terms.side === 'buy') return;
    this.unlock(terms.userId, this.assetOf(terms.side), this.need(terms.side, terms.price, qty), postings);
  }

  /** The order is done with `remaining` unfilled: give back all it still holds. */
  private release(orderId: number, remaining: number, postings: Posting[]): void {
    const terms = this.terms.get(orderId)!;
    this.terms.delete(orderId);
    let held =
      terms.price === 0 && terms.side === 'buy'
        ? terms.locked
        : this.need(terms.side, terms.price, remaining);
    const { link } = terms;
    if (link !== undefined) {
      const partner = this.terms.get(link.partner);
      if (link.stopLeg) {
        held = link.extra;
        if (partner !== undefined) partner.link = undefined;
      } else if (partner?.link !== undefined) {
        // The stop leg goes on alone: it now holds its own need, the rest of the list's lock is freed.
        held += partner.link.extra - this.need(partner.side, partner.price, partner.link.qty);
        partner.link = undefined;
      }
    }
    this.unlock(terms.userId, this.assetOf(terms.side), held, postings);
  }
}

/** Appends a ledger result's postings; a refused settlement or unlock is a broken invariant. */
function record(result: LedgerResult, postings: Posting[]): void {
  if (!result.ok) throw new Error(`ledger refused a market's own posting: ${result.message}`);
  for (const p of result.postings) postings.push(p);
}
