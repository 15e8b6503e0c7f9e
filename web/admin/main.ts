import {
  ExchangeClient,
  ExchangeHttp,
  isRouteMissing,
  type MarketView,
  type Withdrawal,
} from '../../src/client/index.ts';
import { byId, el, webSocketUrl } from '../shared/dom.ts';
import { messageOf, signInBar, storedToken } from '../shared/signin.ts';

/*
 * The operator's page (`/admin`, issue 20), through the same HTTP routes outside clients use:
 * markets awaiting approval with their asset details (approve / reject with a reason), pause,
 * resume, archive and (re)activate, the withdrawal review queue, compliance records (read and set), job queues
 * and reconciliation drift ("not available" while the server lacks the route). Lifecycle pushes
 * of every market refresh the table live.
 */

const http = new ExchangeHttp();
let client: ExchangeClient | undefined;
const followed = new Set<string>();
let signedIn = false;
/** Reasons typed per market, kept across redraws. */
const reasons = new Map<string, string>();

const ACTIONS: Readonly<Record<string, readonly ('pause' | 'resume' | 'archive' | 'activate')[]>> = {
  active: ['pause', 'archive'],
  paused: ['resume', 'archive'],
  approved: ['activate'],
};

let marketsGeneration = 0;

async function loadMarkets(): Promise<void> {
  // Loads overlap (a sign-in, lifecycle pushes): only the latest one draws.
  const generation = ++marketsGeneration;
  const container = byId('markets');
  let markets: MarketView[];
  try {
    markets = await http.markets();
  } catch (e) {
    container.textContent = messageOf(e);
    return;
  }
  for (const m of markets) followLifecycle(m.symbol);
  const rows = await Promise.all(markets.map((m) => marketRow(m)));
  if (generation !== marketsGeneration) return;
  container.replaceChildren(
    el('div', { class: 'table-wrap' }, [
      el('table', {}, [
        el('thead', {}, [
          el(
            'tr',
            {},
            ['Symbol', 'Name', 'Status', 'Issuer', 'Asset', 'Reason', 'Actions'].map((h) =>
              el('th', {}, [h]),
            ),
          ),
        ]),
        el('tbody', {}, rows),
      ]),
    ]),
  );
}

async function marketRow(m: MarketView): Promise<HTMLElement> {
  const reason = el('input', {
    placeholder: 'reason',
    size: 14,
    'aria-label': `reason for ${m.symbol}`,
    'data-testid': 'reason',
  });
  // The table is drawn again on every lifecycle push: a reason being typed survives it.
  reason.value = reasons.get(m.symbol) ?? '';
  reason.addEventListener('input', () => {
    reasons.set(m.symbol, reason.value);
  });
  const result = el('span', { class: 'notice', 'data-testid': 'action-result' });
  const run = (work: () => Promise<unknown>) => {
    result.textContent = '…';
    work().then(
      () => {
        result.textContent = 'done';
        reasons.delete(m.symbol);
        void loadMarkets();
      },
      (e: unknown) => {
        result.textContent = messageOf(e);
      },
    );
  };
  const button = (label: string, testid: string, work: () => Promise<unknown>) => {
    const b = el('button', { type: 'button', 'data-testid': testid }, [label]);
    b.addEventListener('click', () => {
      run(work);
    });
    return b;
  };
  const actions: HTMLElement[] = [];
  if (m.status === 'pending_approval') {
    actions.push(
      button('Approve', 'approve', () => http.decide(m.symbol, 'approved', reason.value.trim() || undefined)),
      button('Reject', 'reject', () => http.decide(m.symbol, 'rejected', reason.value.trim() || undefined)),
    );
  }
  for (const action of ACTIONS[m.status] ?? []) {
    actions.push(
      button(action[0]!.toUpperCase() + action.slice(1), action, () =>
        http.lifecycle(m.symbol, action, reason.value.trim() || undefined),
      ),
    );
  }
  let asset: Node = document.createTextNode('—');
  if (m.issuerId !== undefined) {
    try {
      const details = await http.details(m.symbol);
      if (details.asset !== null) {
        const a = details.asset;
        asset = el('span', {}, [
          `${a.valuation === undefined ? '' : `${String(a.valuation)} ${a.currency ?? ''}`} ${a.location ?? ''}`.trim(),
          el('br'),
          `${(a.complianceDocuments ?? []).length} document(s); supply ${m.totalSupply ?? '—'}`,
        ]);
      }
    } catch {
      // a listed pair: no details
    }
  }
  return el('tr', { 'data-testid': 'admin-market', 'data-symbol': m.symbol, 'data-status': m.status }, [
    el('td', {}, [m.symbol]),
    el('td', {}, [m.name ?? '']),
    el('td', { 'data-testid': 'admin-status' }, [m.status]),
    el('td', {}, [m.issuerId ?? '—']),
    el('td', {}, [asset]),
    el('td', {}, [m.rejectedReason ?? m.deployError ?? '']),
    el('td', { class: 'actions' }, actions.length === 0 ? [result] : [reason, ...actions, result]),
  ]);
}

function followLifecycle(symbol: string): void {
  const c = client;
  if (c === undefined || followed.has(symbol)) return;
  followed.add(symbol);
  c.subscribe('lifecycle', { market: symbol }, (m) => {
    if (m.from !== null) void loadMarkets();
  }).catch((e: unknown) => {
    followed.delete(symbol);
    console.warn('admin: lifecycle', symbol, messageOf(e));
  });
}

async function loadWithdrawals(): Promise<void> {
  const container = byId('withdrawals');
  let items: readonly Withdrawal[];
  try {
    items = (await http.withdrawalQueue('pending_approval')).items;
  } catch (e) {
    container.textContent = isRouteMissing(e) ? 'not available' : messageOf(e);
    return;
  }
  if (items.length === 0) {
    container.replaceChildren(el('p', { class: 'muted' }, ['Nothing to review.']));
    return;
  }
  container.replaceChildren(
    el('div', { class: 'table-wrap' }, [
      el('table', {}, [
        el('thead', {}, [
          el(
            'tr',
            {},
            ['User', 'Asset', 'Amount', 'Destination', ''].map((h) => el('th', {}, [h])),
          ),
        ]),
        el(
          'tbody',
          {},
          items.map((w) => {
            const reason = el('input', { placeholder: 'reason', size: 10, 'aria-label': 'reason' });
            const act = (decision: 'approve' | 'reject') => {
              const b = el('button', { type: 'button', 'data-testid': `withdrawal-${decision}` }, [decision]);
              b.addEventListener('click', () => {
                http.reviewWithdrawal(w.id, decision, reason.value.trim() || undefined).then(
                  () => void loadWithdrawals(),
                  (e: unknown) => {
                    b.title = messageOf(e);
                  },
                );
              });
              return b;
            };
            return el('tr', { 'data-testid': 'withdrawal', 'data-id': w.id }, [
              el('td', {}, [w.userId ?? '']),
              el('td', {}, [w.asset]),
              el('td', {}, [w.amount]),
              el('td', {}, [w.destination ?? '']),
              el('td', { class: 'actions' }, [reason, act('approve'), act('reject')]),
            ]);
          }),
        ),
      ]),
    ]),
  );
}

async function loadFigures(): Promise<void> {
  const show = async (id: string, read: () => Promise<unknown>) => {
    const node = byId(id);
    try {
      node.textContent = JSON.stringify(await read(), null, 2);
    } catch (e) {
      node.textContent = isRouteMissing(e) ? 'not available' : messageOf(e);
    }
  };
  await Promise.all([
    show('queues', async () => {
      // The BullMQ queues of the exchange (GET /admin/system) and the notifier's.
      const [system, notifications] = await Promise.allSettled([http.system(), http.notificationQueues()]);
      return {
        jobs: system.status === 'fulfilled' ? (system.value as { queues: unknown }).queues : 'not available',
        notifications: notifications.status === 'fulfilled' ? notifications.value : 'not available',
      };
    }),
    show('reconciliation', () => http.reconciliation()),
  ]);
}

function complianceLookup(): void {
  const form = byId('compliance');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const user = (byId('compliance-user') as HTMLInputElement).value.trim();
    const out = byId('compliance-records');
    http.complianceRecords(user).then(
      (records) => {
        out.textContent = JSON.stringify(records, null, 2);
      },
      (e: unknown) => {
        out.textContent = messageOf(e);
      },
    );
  });
}

/** POST /admin/compliance from the form, then the user's records shown (the lookup's view). */
function complianceSet(): void {
  const form = byId('compliance-set');
  const input = (id: string) => byId(id) as HTMLInputElement;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const result = byId('cs-result');
    const userId = input('cs-user').value.trim();
    const expires = input('cs-expires').value;
    const wallet = input('cs-wallet').value.trim();
    const record: Record<string, unknown> = {
      userId,
      asset: input('cs-asset').value.trim().toUpperCase(),
      kycStatus: (byId('cs-kyc') as HTMLSelectElement).value,
      allowlisted: input('cs-allowlisted').checked,
      accredited: input('cs-accredited').checked,
      cancelOpenOrders: input('cs-cancel').checked,
      // The end of the chosen day, UTC.
      ...(expires === '' ? {} : { expiresAt: Date.parse(`${expires}T23:59:59Z`) }),
      ...(wallet === '' ? {} : { walletAddress: wallet }),
    };
    result.textContent = '…';
    http.setCompliance(record).then(
      (saved) => {
        result.textContent = 'saved';
        result.dataset.saved = JSON.stringify(saved);
        (byId('compliance-user') as HTMLInputElement).value = userId;
        return http.complianceRecords(userId).then((records) => {
          byId('compliance-records').textContent = JSON.stringify(records, null, 2);
        });
      },
      (e: unknown) => {
        result.textContent = messageOf(e);
      },
    );
  });
}

async function start(token: string | undefined): Promise<void> {
  http.setToken(token);
  client?.close();
  followed.clear();
  const c = new ExchangeClient({ url: webSocketUrl(), onError: (e) => console.warn('admin:', e.message) });
  await c.connect();
  client = c;
  if (token !== undefined) {
    try {
      const session = await c.auth(token);
      byId('session').replaceChildren(
        el('span', { 'data-testid': 'session-user' }, [`${session.userId} (${session.roles.join(', ')})`]),
      );
    } catch (e) {
      byId('session').append(el('span', { class: 'field-error' }, [messageOf(e)]));
    }
  }
  signedIn = token !== undefined;
  if (!signedIn) {
    for (const id of ['withdrawals', 'queues', 'reconciliation'])
      byId(id).textContent = 'sign in as an admin';
  }
  await Promise.all([loadMarkets(), ...(signedIn ? [loadWithdrawals(), loadFigures()] : [])]);
}

complianceLookup();
complianceSet();
signInBar(byId('session'), http, ['admin'], (token) => void start(token));
void start(storedToken());
setInterval(() => {
  if (!signedIn) return;
  void loadWithdrawals();
  void loadFigures();
}, 10_000);
