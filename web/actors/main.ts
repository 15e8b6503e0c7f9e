import { marketLifecycleMachine } from '../../machines/marketLifecycle.ts';
import { withdrawalMachine } from '../../machines/withdrawal.ts';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.ts';
import { byId, byIdOf, setText, webSocketUrl } from '../shared/dom.ts';
import { diagramOf, type Diagram } from './diagram.ts';
import type { ActorsMessage, ClusterFigures, MarketUpdate, WithdrawalActorUpdate } from './messages.ts';
import { MarketCard, SupervisorCard, WithdrawalCard } from './view.ts';
import { ExchangeClient, ExchangeHttp, type Unsubscribe } from '../../src/client/index.ts';
import { el } from '../shared/dom.ts';
import { EventLog, SystemPanel, type Snapshot as SystemSnapshot } from './system.ts';

/*
 * The actor-state visualizer (served at `/dev/actors`). Every live actor (each market, and each
 * open or recently finished withdrawal) drawn as its machine's state diagram, computed in the page
 * from the machine definitions bundled into it, fed by the admin-only `actors` channel: `auth` with
 * an admin token (from `?token=`, kept for the tab in sessionStorage and removed from the address
 * bar, or typed into the form), then `{op:"sub", ch:"actors"}`. The server throttles the channel, so each message is rendered as it
 * comes. The SDK's codec frames the messages; the SDK client itself knows only the public
 * protocol's channels.
 *
 * Test hooks: `window.__actors` and the `data-testid`s of view.ts.
 */

const TOKEN_KEY = 'rwa.actors.token';
const RECONNECT_MAX_MS = 10_000;

const DIAGRAMS = new Map<string, Diagram>([
  [marketLifecycleMachine.id, diagramOf(marketLifecycleMachine)],
  [withdrawalMachine.id, diagramOf(withdrawalMachine)],
]);
/** Finished withdrawals kept on the page (the server keeps as many, src/transport/withdrawalActors.ts). */
const FINISHED_WITHDRAWALS_SHOWN = 20;

interface ActorsHooks {
  readonly status: string;
  readonly messages: number;
  readonly markets: readonly string[];
  /** A market's figures and recent transitions as the page shows them. */
  market(
    symbol: string,
  ): (MarketUpdate & { readonly recent: readonly MarketUpdate['transitions'][number][] }) | undefined;
  /** The withdrawals shown, by id. */
  readonly withdrawals: readonly string[];
  /** Entries in the event log. */
  readonly logEntries: number;
  /** Whether the system figures come from the channel's `system` pushes (not polling). */
  readonly systemStreamed: boolean;
  /** Which engine owns which market, as last drawn (issue 22; `single` in ROLE=all). */
  readonly cluster: ClusterFigures | undefined;
  /** A withdrawal as the page shows it, with its recent transitions. */
  withdrawal(
    id: string,
  ):
    | (WithdrawalActorUpdate & { readonly recent: readonly WithdrawalActorUpdate['transitions'][number][] })
    | undefined;
}

declare global {
  interface Window {
    __actors?: ActorsHooks;
  }
}

const statusNode = byId('actors-status');
const form = byIdOf('token-form', HTMLFormElement);
const tokenInput = byIdOf('token-input', HTMLInputElement);
const container = byId('actors');
const supervisorCard = new SupervisorCard();
container.append(supervisorCard.element);
const http = new ExchangeHttp();
const systemPanel = new SystemPanel(http);
const eventLog = new EventLog();
container.append(systemPanel.element, eventLog.element);
/** The public lifecycle pushes (actor and reason of each change) for the event log, by symbol. */
let lifecycleClient: ExchangeClient | undefined;
const lifecycleFollowed = new Map<string, Promise<Unsubscribe | undefined>>();
const controls = new Map<
  string,
  { pause: HTMLButtonElement; resume: HTMLButtonElement; note: HTMLElement }
>();
const cards = new Map<string, MarketCard>();
const withdrawalCards = new Map<string, WithdrawalCard>();

let status = 'idle';
let messages = 0;
let socket: WebSocket | undefined;
let reconnectDelay = 500;
let reconnectTimer: ReturnType<typeof setTimeout> | undefined;

window.__actors = {
  get status() {
    return status;
  },
  get systemStreamed() {
    return systemPanel.streamed;
  },
  get cluster() {
    return systemPanel.last?.cluster;
  },
  get messages() {
    return messages;
  },
  get markets() {
    return [...cards.values()].map((c) => c.market.symbol);
  },
  market(symbol) {
    const card = [...cards.values()].find((c) => c.market.symbol === symbol);
    return card === undefined ? undefined : { ...card.market, recent: [...card.transitions] };
  },
  get withdrawals() {
    return [...withdrawalCards.keys()];
  },
  get logEntries() {
    return eventLog.size;
  },
  withdrawal(id) {
    const card = withdrawalCards.get(id);
    return card === undefined ? undefined : { ...card.withdrawal, recent: [...card.transitions] };
  },
};

function setStatus(next: string, detail = ''): void {
  status = next;
  statusNode.dataset.status = next;
  setText(statusNode, detail === '' ? next : `${next}: ${detail}`);
}

function takeToken(): string | undefined {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get('token');
  if (fromUrl !== null && fromUrl !== '') {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    params.delete('token');
    const query = params.toString();
    history.replaceState(null, '', `${location.pathname}${query === '' ? '' : `?${query}`}${location.hash}`);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

function apply(message: ActorsMessage): void {
  messages++;
  supervisorCard.update(message.supervisor);
  if (message.kind === 'snapshot') {
    for (const card of cards.values()) card.element.remove();
    cards.clear();
    for (const card of withdrawalCards.values()) card.element.remove();
    withdrawalCards.clear();
  }
  for (const market of message.markets) {
    const card = cards.get(market.marketId);
    if (card === undefined) {
      const created = new MarketCard(market, DIAGRAMS.get(market.machine));
      cards.set(market.marketId, created);
      created.element.append(controlsFor(market.symbol));
      container.append(created.element);
      followLifecycle(market.symbol);
    } else {
      card.update(market, market.transitions, message.kind === 'update');
    }
    const c = controls.get(market.symbol);
    if (c !== undefined) {
      c.pause.disabled = market.state !== 'active';
      c.resume.disabled = market.state !== 'paused';
    }
    if (message.kind === 'update') {
      for (const t of market.transitions) {
        eventLog.add({
          ts: t.ts,
          actor: `market ${market.symbol}`,
          event: t.event,
          from: t.from,
          to: t.to,
          payload: t,
        });
      }
    }
  }
  for (const withdrawal of message.withdrawals ?? []) {
    const card = withdrawalCards.get(withdrawal.withdrawalId);
    if (card === undefined) {
      const created = new WithdrawalCard(withdrawal, DIAGRAMS.get(withdrawal.machine));
      withdrawalCards.set(withdrawal.withdrawalId, created);
      container.append(created.element);
    } else {
      card.update(withdrawal, message.kind === 'update');
      if (message.kind === 'update') {
        for (const t of withdrawal.transitions) {
          eventLog.add({
            ts: t.ts,
            actor: `withdrawal ${withdrawal.withdrawalId}`,
            event: t.event,
            from: t.from,
            to: t.to,
            payload: t,
          });
        }
      }
    }
  }
  // Finished withdrawals beyond the last few leave the page, oldest first (Map order: first seen).
  const finished = [...withdrawalCards.values()].filter((c) => c.withdrawal.final);
  for (const card of finished.slice(0, Math.max(0, finished.length - FINISHED_WITHDRAWALS_SHOWN))) {
    card.element.remove();
    withdrawalCards.delete(card.withdrawal.withdrawalId);
  }
}

/** Pause and resume from the diagram, through the same admin routes outside clients use. */
function controlsFor(symbol: string): HTMLElement {
  const note = el('span', { class: 'muted', 'data-testid': 'control-result' });
  const button = (action: 'pause' | 'resume') => {
    const b = el('button', { type: 'button', 'data-testid': `control-${action}` }, [action]);
    b.addEventListener('click', () => {
      note.textContent = '…';
      http.lifecycle(symbol, action, 'from the actor visualizer').then(
        () => {
          note.textContent = `${action} sent`;
        },
        (error: unknown) => {
          note.textContent = error instanceof Error ? error.message : String(error);
        },
      );
    });
    return b;
  };
  const pause = button('pause');
  const resume = button('resume');
  controls.set(symbol, { pause, resume, note });
  return el('div', { class: 'controls' }, [pause, resume, note]);
}

function followLifecycle(symbol: string): void {
  const c = lifecycleClient;
  if (c === undefined || lifecycleFollowed.has(symbol)) return;
  lifecycleFollowed.set(
    symbol,
    c
      .subscribe('lifecycle', { market: symbol }, (m) => {
        if (m.from === null) return;
        eventLog.add({
          ts: m.ts,
          actor: `lifecycle ${m.market}`,
          event: m.event,
          from: m.from,
          to: m.to,
          ...(m.actor === undefined ? {} : { by: m.actor }),
          ...(m.reason === undefined ? {} : { reason: m.reason }),
          payload: m,
        });
      })
      .catch(() => {
        lifecycleFollowed.delete(symbol);
        return undefined;
      }),
  );
}

async function openLifecycleClient(): Promise<void> {
  const c = new ExchangeClient({
    url: webSocketUrl(),
    onClose: () => {
      if (lifecycleClient === c) lifecycleClient = undefined;
      lifecycleFollowed.clear();
    },
    onError: (error) => {
      console.warn('actors: lifecycle:', error.message);
    },
  });
  await c.connect();
  lifecycleClient = c;
  for (const card of cards.values()) followLifecycle(card.market.symbol);
}

function connect(token: string): void {
  clearTimeout(reconnectTimer);
  http.setToken(token);
  systemPanel.start();
  if (lifecycleClient === undefined) {
    openLifecycleClient().catch((error: unknown) => {
      console.warn('actors: lifecycle client:', error instanceof Error ? error.message : error);
    });
  }
  socket?.close();
  setStatus('connecting');
  const ws = new WebSocket(webSocketUrl());
  socket = ws;
  ws.binaryType = 'arraybuffer';
  let refused = false;
  const send = (message: object) => {
    ws.send(encodeMessage(message));
  };
  ws.onopen = () => {
    setStatus('authenticating');
    send({ op: 'auth', rid: 1, token });
  };
  ws.onmessage = (event: MessageEvent<unknown>) => {
    if (!(event.data instanceof ArrayBuffer)) return;
    const decoded = decodeMessage(new Uint8Array(event.data));
    if (!decoded.ok) return;
    const message = decoded.message;
    switch (message.op) {
      case 'authed': {
        const roles = Array.isArray(message.roles) ? (message.roles as unknown[]) : [];
        if (!roles.includes('admin')) {
          refused = true;
          setStatus('forbidden', 'this token has no admin role');
          showForm();
          ws.close();
          return;
        }
        send({ op: 'sub', rid: 2, ch: 'actors' });
        return;
      }
      case 'subbed':
        reconnectDelay = 500;
        form.hidden = true;
        setStatus('live');
        return;
      case 'error': {
        const code = String(message.code);
        setStatus('error', `${code}: ${String(message.message)}`);
        if (code === 'unauthorized' || code === 'forbidden' || code === 'bad_request') {
          refused = true;
          showForm();
          ws.close();
        }
        return;
      }
      case 'actors':
        apply(message as unknown as ActorsMessage);
        return;
      case 'system':
        systemPanel.push(message as unknown as SystemSnapshot);
        return;
      default:
        return;
    }
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = undefined;
    if (refused) return;
    setStatus('disconnected', `retrying in ${Math.round(reconnectDelay / 100) / 10} s`);
    reconnectTimer = setTimeout(() => {
      connect(token);
    }, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
  };
}

function showForm(): void {
  form.hidden = false;
  tokenInput.focus();
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = tokenInput.value.trim();
  if (token === '') return;
  sessionStorage.setItem(TOKEN_KEY, token);
  tokenInput.value = '';
  connect(token);
});

const token = takeToken();
if (token === undefined) {
  setStatus('needs an admin token');
  showForm();
} else {
  form.hidden = true;
  connect(token);
}
