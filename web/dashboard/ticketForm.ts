import type { MarketView } from '../../src/client/index.ts';
import { el, setText } from '../shared/dom.ts';
import { marketsStore, sessionStore } from '../shared/stores.ts';
import {
  needsPrice,
  needsStop,
  preview,
  takesBudget,
  takesDisplay,
  tifChoices,
  validate,
  type FieldErrors,
  type Ticket,
  type TicketField,
  type TicketStp,
  type TicketType,
} from './orderForm.ts';

/*
 * The order ticket of the trading page (trading.ts): its fields, the lock and fee it will need shown
 * before sending (orderForm.ts computes them), and the contract's errors next to their field. The
 * issue 14 types: an iceberg's shown slice on limit and stop-limit orders, GTD with a date and
 * time, trailing stops (distance or bps, optional limit offset), OCO (limit and stop legs, one
 * lock) and the STP mode.
 */

export class TicketForm {
  readonly #fields: {
    side: HTMLInputElement[];
    type: HTMLSelectElement;
    price: HTMLInputElement;
    stopPrice: HTMLInputElement;
    qty: HTMLInputElement;
    quoteQty: HTMLInputElement;
    tif: HTMLSelectElement;
    postOnly: HTMLInputElement;
    displayQty: HTMLInputElement;
    expireAt: HTMLInputElement;
    trailBy: HTMLSelectElement;
    trailingOffset: HTMLInputElement;
    trailingBps: HTMLInputElement;
    limitOffset: HTMLInputElement;
    stopLimitPrice: HTMLInputElement;
    stp: HTMLSelectElement;
  };
  readonly #errors = new Map<TicketField, HTMLElement>();
  readonly #rows = new Map<TicketField, HTMLElement>();
  readonly #fieldset: HTMLFieldSetElement;
  readonly #submit: HTMLButtonElement;
  readonly #lock: HTMLElement;
  readonly #fee: HTMLElement;
  readonly #notice: HTMLElement;
  readonly #banner: HTMLElement;
  readonly #signedOut: HTMLElement;

  constructor(
    container: HTMLElement,
    private readonly send: (ticket: Ticket, market: MarketView) => Promise<FieldErrors>,
    private readonly best: () => { bid: string | undefined; ask: string | undefined },
  ) {
    const sideInput = (value: 'buy' | 'sell') =>
      el('input', {
        type: 'radio',
        name: 'side',
        value,
        checked: value === 'buy',
        'data-testid': `side-${value}`,
      });
    const side = [sideInput('buy'), sideInput('sell')];
    const type = el('select', { name: 'type', 'data-testid': 'order-type', 'aria-label': 'order type' }, [
      el('option', { value: 'limit' }, ['Limit']),
      el('option', { value: 'market' }, ['Market']),
      el('option', { value: 'stop_limit' }, ['Stop-limit']),
      el('option', { value: 'stop_market' }, ['Stop-market']),
      el('option', { value: 'trailing_stop' }, ['Trailing stop']),
      el('option', { value: 'oco', title: 'one-cancels-the-other: a limit leg and a stop leg' }, ['OCO']),
    ]);
    const input = (name: string, label: string) =>
      el('input', {
        name,
        inputmode: 'decimal',
        autocomplete: 'off',
        'aria-label': label,
        'data-testid': `order-${name}`,
      });
    const price = input('price', 'price');
    const stopPrice = input('stopPrice', 'stop price');
    const qty = input('qty', 'quantity');
    const quoteQty = input('quoteQty', 'quote budget');
    const tif = el('select', { name: 'tif', 'data-testid': 'order-tif', 'aria-label': 'time in force' }, [
      el('option', { value: 'GTC' }, ['GTC']),
      el('option', { value: 'IOC' }, ['IOC']),
      el('option', { value: 'FOK' }, ['FOK']),
      el('option', { value: 'GTD' }, ['GTD']),
    ]);
    const postOnly = el('input', { type: 'checkbox', name: 'postOnly', 'data-testid': 'order-postonly' });
    const displayQty = input('displayQty', 'iceberg: quantity shown');
    const expireAt = el('input', {
      name: 'expireAt',
      type: 'datetime-local',
      'aria-label': 'expires at',
      'data-testid': 'order-expireAt',
    });
    const trailBy = el(
      'select',
      { name: 'trailBy', 'data-testid': 'order-trailBy', 'aria-label': 'trail by' },
      [
        el('option', { value: 'offset' }, ['price distance']),
        el('option', { value: 'bps' }, ['basis points']),
      ],
    );
    const trailingOffset = input('trailingOffset', 'trailing distance');
    const trailingBps = input('trailingBps', 'trailing basis points');
    trailingBps.inputMode = 'numeric';
    const limitOffset = input('limitOffset', 'limit offset');
    const stopLimitPrice = input('stopLimitPrice', 'stop leg limit price');
    const stp = el(
      'select',
      { name: 'stp', 'data-testid': 'order-stp', 'aria-label': 'self-trade prevention' },
      [
        el('option', { value: '' }, ['cancel taker (default)']),
        el('option', { value: 'cancel_maker' }, ['cancel maker']),
        el('option', { value: 'cancel_both' }, ['cancel both']),
        el('option', { value: 'decrement' }, ['decrement']),
      ],
    );
    this.#fields = {
      side,
      type,
      price,
      stopPrice,
      qty,
      quoteQty,
      tif,
      postOnly,
      displayQty,
      expireAt,
      trailBy,
      trailingOffset,
      trailingBps,
      limitOffset,
      stopLimitPrice,
      stp,
    };

    const row = (field: TicketField, label: string, control: HTMLElement) => {
      const error = el('span', { class: 'field-error', 'data-testid': `error-${field}`, role: 'alert' });
      this.#errors.set(field, error);
      const r = el('label', { class: 'ticket-row' }, [
        el('span', { class: 'label' }, [label]),
        control,
        error,
      ]);
      this.#rows.set(field, r);
      return r;
    };
    this.#banner = el('div', {
      class: 'market-banner',
      role: 'status',
      'data-testid': 'market-banner',
      hidden: true,
    });
    this.#signedOut = el('p', { class: 'signed-out-note' }, ['Sign in to trade.']);
    this.#lock = el('b', { 'data-testid': 'preview-lock' }, ['—']);
    this.#fee = el('b', { 'data-testid': 'preview-fee' }, ['—']);
    this.#notice = el('span', { class: 'notice', role: 'status', 'data-testid': 'ticket-notice' });
    this.#submit = el('button', { type: 'submit', class: 'submit', 'data-testid': 'order-submit' }, ['Buy']);
    const formError = el('span', { class: 'field-error', 'data-testid': 'error-form', role: 'alert' });
    this.#errors.set('form', formError);
    this.#fieldset = el('fieldset', { 'data-testid': 'ticket-fieldset' }, [
      el('legend', {}, ['Order']),
      el('div', { class: 'sides', role: 'radiogroup', 'aria-label': 'side' }, [
        el('label', { class: 'side buy' }, [side[0]!, ' Buy']),
        el('label', { class: 'side sell' }, [side[1]!, ' Sell']),
      ]),
      row('form', 'Type', type),
      row('stopPrice', 'Stop', stopPrice),
      row('price', 'Price', price),
      row('stopLimitPrice', 'Stop limit', stopLimitPrice),
      row('trailingOffset', 'Trail by', el('span', { class: 'trail' }, [trailBy, trailingOffset])),
      row('trailingBps', 'Trail bps', trailingBps),
      row('limitOffset', 'Limit offset', limitOffset),
      row('qty', 'Quantity', qty),
      row('displayQty', 'Show (iceberg)', displayQty),
      row('quoteQty', 'Budget', quoteQty),
      row('tif', 'Time in force', tif),
      row('expireAt', 'Expires', expireAt),
      row('postOnly', 'Post-only', postOnly),
      row('stp', 'Self-trade', stp),
      el('div', { class: 'preview' }, [
        el('span', { 'data-testid': 'preview-lock-label' }, ['Locks ', this.#lock]),
        el('span', {}, ['Max fee ', this.#fee]),
      ]),
      this.#submit,
      formError,
      this.#notice,
    ]);
    // The type row holds the form-level error too: move it below the button.
    this.#rows.get('form')!.querySelector('.field-error')?.remove();
    const form = el('form', { class: 'ticket-form', novalidate: true, 'data-testid': 'ticket-form' }, [
      this.#fieldset,
    ]);
    container.replaceChildren(this.#banner, this.#signedOut, form);
    form.addEventListener('input', () => {
      this.#clearErrors();
      this.refresh();
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#onSubmit();
    });
    marketsStore.subscribe(() => {
      this.refresh();
    });
    sessionStore
      .select((s) => s.status)
      .subscribe(() => {
        this.refresh();
      });
    this.refresh();
  }

  setPrice(price: string): void {
    const { type, price: priceInput, stopPrice } = this.#fields;
    if (!needsPrice(type.value as TicketType) && needsStop(type.value as TicketType)) stopPrice.value = price;
    else {
      if (!needsPrice(type.value as TicketType)) type.value = 'limit';
      priceInput.value = price;
    }
    this.#clearErrors();
    this.refresh();
  }

  notice(text: string): void {
    this.#notice.textContent = text;
  }

  #market(): MarketView | undefined {
    const { list, selected } = marketsStore.getSnapshot().context;
    return list.find((m) => m.symbol === selected);
  }

  #ticket(): Ticket {
    const f = this.#fields;
    const type = f.type.value as TicketType;
    // The local date and time of the picker, in ms since epoch (what the contract's expireAt is).
    const expireMs = f.expireAt.value === '' ? undefined : new Date(f.expireAt.value).getTime();
    return {
      side: f.side[1]!.checked ? 'sell' : 'buy',
      type,
      price: f.price.value,
      stopPrice: f.stopPrice.value,
      qty: f.qty.value,
      quoteQty: f.quoteQty.value,
      tif: f.tif.value as Ticket['tif'],
      postOnly: f.postOnly.checked,
      displayQty: takesDisplay(type) ? f.displayQty.value : '',
      expireAt: expireMs === undefined ? '' : Number.isFinite(expireMs) ? String(expireMs) : f.expireAt.value,
      trailBy: f.trailBy.value === 'bps' ? 'bps' : 'offset',
      trailingOffset: f.trailingOffset.value,
      trailingBps: f.trailingBps.value,
      limitOffset: type === 'trailing_stop' ? f.limitOffset.value : '',
      stopLimitPrice: type === 'oco' ? f.stopLimitPrice.value : '',
      stp: f.stp.value as TicketStp,
    };
  }

  /** Shows the rows the type needs, the banner, and the lock and fee preview. */
  refresh(): void {
    const market = this.#market();
    const ticket = this.#ticket();
    const { lifecycle } = marketsStore.getSnapshot().context;
    const signedIn = sessionStore.getSnapshot().context.status === 'signed_in';
    const state = lifecycle ?? market?.status;
    const inactive = market !== undefined && state !== undefined && state !== 'active';
    this.#banner.hidden = !inactive;
    if (inactive) {
      setText(this.#banner, `${market.symbol} is ${state}: order entry is disabled`);
      this.#banner.dataset.state = state;
    }
    this.#signedOut.hidden = signedIn;
    this.#fieldset.disabled = !signedIn || inactive || market === undefined;
    this.#rows.get('price')!.hidden = !needsPrice(ticket.type);
    this.#rows.get('stopPrice')!.hidden = !needsStop(ticket.type);
    this.#rows.get('quoteQty')!.hidden = !takesBudget(ticket);
    this.#rows.get('postOnly')!.hidden = ticket.type !== 'limit';
    const tifs = tifChoices(ticket.type);
    this.#rows.get('tif')!.hidden = tifs.length === 0;
    for (const option of this.#fields.tif.options)
      option.hidden = !tifs.includes(option.value as Ticket['tif']);
    this.#rows.get('expireAt')!.hidden = ticket.tif !== 'GTD' || tifs.length === 0;
    this.#rows.get('displayQty')!.hidden = !takesDisplay(ticket.type);
    const trailing = ticket.type === 'trailing_stop';
    this.#rows.get('trailingOffset')!.hidden = !trailing;
    this.#fields.trailingOffset.hidden = ticket.trailBy === 'bps';
    this.#rows.get('trailingBps')!.hidden = !trailing || ticket.trailBy !== 'bps';
    this.#rows.get('limitOffset')!.hidden = !trailing;
    this.#rows.get('stopLimitPrice')!.hidden = ticket.type !== 'oco';
    setText(
      this.#submit,
      `${ticket.side === 'buy' ? 'Buy' : 'Sell'}${market === undefined ? '' : ` ${market.baseAsset}`}`,
    );
    this.#submit.className = `submit ${ticket.side}`;
    if (market === undefined) return;
    const best = this.best();
    const p = preview(ticket, market, ticket.side === 'buy' ? best.ask : best.bid);
    setText(
      this.#lock,
      p.lock === undefined ? '—' : `${p.estimate === true ? '≈ ' : ''}${p.lock.amount} ${p.lock.asset}`,
    );
    setText(this.#fee, p.fee === undefined ? '—' : `${p.fee.amount} ${p.fee.asset}`);
  }

  #clearErrors(): void {
    for (const node of this.#errors.values()) node.textContent = '';
  }

  #showErrors(errors: FieldErrors): void {
    this.#clearErrors();
    for (const [field, message] of Object.entries(errors) as [TicketField, string][]) {
      // A field the type does not show (a server message naming it): next to the button.
      const shown = this.#rows.get(field)?.hidden !== true;
      const node = (shown ? this.#errors.get(field) : undefined) ?? this.#errors.get('form')!;
      node.textContent = node.textContent === '' ? message : `${node.textContent}; ${message}`;
    }
  }

  async #onSubmit(): Promise<void> {
    const market = this.#market();
    if (market === undefined) return;
    const ticket = this.#ticket();
    const local = validate(ticket, market);
    if (Object.keys(local).length > 0) {
      this.#showErrors(local);
      return;
    }
    this.#submit.disabled = true;
    this.#notice.textContent = '';
    try {
      const errors = await this.send(ticket, market);
      this.#showErrors(errors);
    } finally {
      this.#submit.disabled = false;
    }
  }
}
