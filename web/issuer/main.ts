import {
  ExchangeClient,
  ExchangeHttp,
  isRouteMissing,
  type LifecycleMessage,
  type MarketView,
  type RegisterMarket,
  type Unsubscribe,
} from '../../src/client/index.ts';
import { LatestOnly } from '../shared/latest.ts';
import { byId, el, webSocketUrl } from '../shared/dom.ts';
import { formatTime } from '../shared/format.ts';
import { messageOf, signInBar, storedToken } from '../shared/signin.ts';

/*
 * The issuer's page (`/issuer`, issue 20): register an RWA market with every field of the
 * contract (documents as ids or links), follow it live on the `lifecycle` channel through
 * approval, deployment and activation, and mint more supply (POST /markets/:id/mint, shown "not
 * available" while the server lacks it). Test hooks: `window.__issuer`.
 */

const http = new ExchangeHttp();
let client: ExchangeClient | undefined;
let userId: string | undefined;
let followed: { symbol: string; unsubscribe: Promise<Unsubscribe | undefined> } | undefined;
const states: string[] = [];

declare global {
  interface Window {
    __issuer?: { readonly states: readonly string[]; readonly followed: string | undefined };
  }
}
window.__issuer = {
  get states() {
    return states;
  },
  get followed() {
    return followed?.symbol;
  },
};

const ASSET_TYPES = [
  'real_estate',
  'corporate_stock',
  'government_bond',
  'commodity',
  'private_equity',
  'art_collectible',
  'carbon_credit',
  'other',
];

interface FieldSpec {
  readonly name: string;
  readonly label: string;
  readonly value?: string;
  readonly kind?: 'select' | 'textarea';
  readonly options?: readonly string[];
  readonly hint?: string;
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'name', label: 'Name', value: 'Sea Point Apartments' },
  { name: 'assetType', label: 'Asset type', kind: 'select', options: ASSET_TYPES },
  { name: 'tokenSymbol', label: 'Token symbol', value: 'SEAPT', hint: 'A-Z, 0-9' },
  { name: 'tokenName', label: 'Token name', value: 'Sea Point Apartment Token' },
  { name: 'totalSupply', label: 'Total supply', value: '10000' },
  { name: 'quoteAsset', label: 'Quote asset', value: 'USDC' },
  { name: 'priceDecimals', label: 'Price decimals', value: '2' },
  { name: 'qtyDecimals', label: 'Qty decimals', value: '0' },
  { name: 'tickSize', label: 'Tick size', value: '0.01' },
  { name: 'lotSize', label: 'Lot size', value: '1' },
  { name: 'minQty', label: 'Min qty', value: '1' },
  { name: 'minNotional', label: 'Min notional', value: '' },
  { name: 'valuation', label: 'Valuation', value: '2500000' },
  { name: 'currency', label: 'Currency', value: 'USD' },
  { name: 'location', label: 'Location', value: 'Cape Town, ZA' },
  {
    name: 'complianceDocuments',
    label: 'Documents',
    kind: 'textarea',
    value: 'DOC-TITLE-001\nProspectus https://example.com/prospectus.pdf',
    hint: 'one a line: an id, or a name then a link',
  },
  { name: 'regulatoryInfo', label: 'Regulatory (k=v)', kind: 'textarea', value: 'jurisdiction=ZA' },
  { name: 'attributes', label: 'Attributes (k=v)', kind: 'textarea', value: 'bedrooms=3' },
];

const inputs = new Map<string, HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>();
const errors = new Map<string, HTMLElement>();

function buildForm(): void {
  const form = byId('register') as HTMLFormElement;
  const children: HTMLElement[] = [];
  for (const f of FIELDS) {
    const id = `f-${f.name}`;
    const control =
      f.kind === 'select'
        ? el(
            'select',
            { id, name: f.name, 'data-testid': `reg-${f.name}` },
            (f.options ?? []).map((o) => el('option', { value: o }, [o])),
          )
        : f.kind === 'textarea'
          ? el('textarea', { id, name: f.name, rows: 2, 'data-testid': `reg-${f.name}` }, [f.value ?? ''])
          : el('input', {
              id,
              name: f.name,
              value: f.value ?? '',
              'data-testid': `reg-${f.name}`,
              ...(f.hint === undefined ? {} : { placeholder: f.hint }),
            });
    inputs.set(f.name, control);
    const error = el('span', { class: 'field-error', role: 'alert', 'data-testid': `reg-error-${f.name}` });
    errors.set(f.name, error);
    children.push(el('label', { for: id }, [f.label]), control, error);
  }
  const result = el('span', { class: 'notice', role: 'status', 'data-testid': 'register-result' });
  const general = el('span', { class: 'field-error', role: 'alert', 'data-testid': 'reg-error-form' });
  errors.set('form', general);
  children.push(
    el('div', { class: 'actions' }, [
      el('button', { type: 'submit', 'data-testid': 'register-submit' }, ['Register']),
      ' ',
      result,
    ]),
    general,
  );
  form.replaceChildren(...children);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const e of errors.values()) e.textContent = '';
    const body = readForm();
    http.register(body).then(
      (market) => {
        result.textContent = `registered ${market.symbol}: ${market.status}`;
        follow(market.symbol);
        void loadMine();
      },
      (e: unknown) => {
        const message = messageOf(e);
        const field = FIELDS.find((f) => new RegExp(`\\b${f.name}\\b`).test(message))?.name ?? 'form';
        errors.get(field)!.textContent = message;
      },
    );
  });
}

function value(name: string): string {
  return inputs.get(name)!.value.trim();
}

function pairs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

function readForm(): RegisterMarket {
  const documents = value('complianceDocuments')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const link = /^(.*\S)\s+(https?:\/\/\S+)$/.exec(line);
      return link === null ? line : { name: link[1]!, url: link[2]! };
    });
  const optional = (name: string) => (value(name) === '' ? {} : { [name]: value(name) });
  return {
    name: value('name'),
    assetType: value('assetType'),
    tokenSymbol: value('tokenSymbol'),
    tokenName: value('tokenName'),
    totalSupply: value('totalSupply'),
    quoteAsset: value('quoteAsset'),
    priceDecimals: Number(value('priceDecimals')),
    qtyDecimals: Number(value('qtyDecimals')),
    tickSize: value('tickSize'),
    lotSize: value('lotSize'),
    minQty: value('minQty'),
    ...optional('minNotional'),
    assetDetails: {
      ...optional('valuation'),
      ...optional('currency'),
      ...optional('location'),
      complianceDocuments: documents,
      regulatoryInfo: pairs(value('regulatoryInfo')),
      attributes: pairs(value('attributes')),
    },
  };
}

function follow(symbol: string): void {
  if (followed?.symbol === symbol) return;
  void followed?.unsubscribe.then((u) => u?.());
  states.length = 0;
  const timeline = byId('timeline');
  timeline.replaceChildren();
  byId('followed').textContent = `Following ${symbol}`;
  const c = client;
  const add = (m: LifecycleMessage) => {
    states.push(m.to);
    for (const li of timeline.querySelectorAll('li')) li.classList.remove('current');
    timeline.append(
      el('li', { class: 'current', 'data-testid': 'timeline-state', 'data-state': m.to }, [
        `${formatTime(m.ts)} `,
        el('strong', {}, [m.to]),
        m.from === null
          ? ' (now)'
          : ` ← ${m.from} · ${m.event}${m.reason === undefined ? '' : ` · ${m.reason}`}`,
      ]),
    );
    void loadMine();
  };
  followed = {
    symbol,
    unsubscribe:
      c === undefined
        ? Promise.resolve(undefined)
        : c.subscribe('lifecycle', { market: symbol }, add).catch((e: unknown) => {
            byId('followed').textContent = `cannot follow ${symbol}: ${messageOf(e)}`;
            return undefined;
          }),
  };
}

/** loadMine's reads overlap (each lifecycle push starts one): only the newest answer draws. */
const mineReads = new LatestOnly();

async function loadMine(): Promise<void> {
  const ticket = mineReads.take();
  const container = byId('mine');
  let markets: MarketView[];
  try {
    const listed = await http.markets();
    if (!mineReads.current(ticket)) return;
    markets = listed.filter((m) => m.issuerId !== undefined && m.issuerId === userId);
  } catch (e) {
    if (mineReads.current(ticket)) container.textContent = messageOf(e);
    return;
  }
  if (markets.length === 0) {
    container.replaceChildren(el('p', { class: 'muted' }, ['No markets registered by you yet.']));
    return;
  }
  const rows = markets.map((m) => {
    const amount = el('input', {
      placeholder: 'amount',
      size: 8,
      'aria-label': `mint ${m.symbol}`,
      'data-testid': 'mint-amount',
    });
    const mint = el('button', { type: 'button', 'data-testid': 'mint' }, ['Mint']);
    const result = el('span', { class: 'notice', 'data-testid': 'mint-result' });
    mint.addEventListener('click', () => {
      http.mint(m.symbol, amount.value.trim()).then(
        () => {
          result.textContent = 'minting: the credit follows the chain receipt';
        },
        (e: unknown) => {
          result.textContent = isRouteMissing(e) ? 'minting is not available on this server' : messageOf(e);
        },
      );
    });
    const followButton = el('button', { type: 'button' }, ['Follow']);
    followButton.addEventListener('click', () => {
      follow(m.symbol);
    });
    return el('tr', { 'data-testid': 'my-market', 'data-symbol': m.symbol, 'data-status': m.status }, [
      el('td', {}, [m.symbol]),
      el('td', {}, [m.name ?? '']),
      el('td', {}, [m.status]),
      el('td', {}, [m.totalSupply ?? '']),
      el('td', {}, [m.contractAddress ?? '—']),
      el('td', { class: 'actions' }, [followButton, amount, mint, result]),
    ]);
  });
  container.replaceChildren(
    el('div', { class: 'table-wrap' }, [
      el('table', {}, [
        el('thead', {}, [
          el(
            'tr',
            {},
            ['Symbol', 'Name', 'Status', 'Supply', 'Contract', ''].map((h) => el('th', {}, [h])),
          ),
        ]),
        el('tbody', {}, rows),
      ]),
    ]),
  );
}

async function start(token: string | undefined): Promise<void> {
  http.setToken(token);
  client?.close();
  const c = new ExchangeClient({ url: webSocketUrl(), onError: (e) => console.warn('issuer:', e.message) });
  await c.connect();
  client = c;
  if (token !== undefined) {
    try {
      const session = await c.auth(token);
      userId = session.userId;
      byId('session').replaceChildren(
        el('span', { 'data-testid': 'session-user' }, [`${session.userId} (${session.roles.join(', ')})`]),
      );
    } catch (e) {
      byId('session').append(el('span', { class: 'field-error' }, [messageOf(e)]));
    }
  }
  void loadMine();
}

buildForm();
signInBar(byId('session'), http, ['trader', 'issuer'], (token) => void start(token));
void start(storedToken());
