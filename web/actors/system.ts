import { isRouteMissing, type ExchangeHttp } from '../../src/client/index.ts';
import { el, setText } from '../shared/dom.ts';
import { formatTime } from '../shared/format.ts';
import type { ClusterFigures } from './messages.ts';
import { ClusterCard } from './cluster.ts';
import { figures, rows } from './tables.ts';

/*
 * The rest of the system beside the markets (issue 20): the journal writer, the projector and
 * every durable consumer (cursor, lag), each BullMQ queue (waiting, active, failed) and the chain
 * client (nonce, pending transactions), and which engine owns which market (cluster.ts): read once from GET /admin/system, then live from the
 * `system` pushes of the actors channel (twice a second while the page listens; polled every second
 * instead while the channel is down or the server does not push them); and the event
 * log: every transition and lifecycle push the page hears, with its actor, reason and payload,
 * filterable.
 */

export interface Snapshot {
  readonly ts: number;
  readonly journal: Readonly<Record<string, number>>;
  readonly consumers: readonly { name: string; cursor: number; lag: number }[];
  readonly queues: readonly { name: string; counts: Readonly<Record<string, number>>; error?: string }[];
  readonly chain: {
    status: string;
    address?: string;
    chainId?: number;
    nonce?: number;
    pendingTransactions?: number;
  };
  /** Issue 22 (absent from a server that predates it). */
  readonly cluster?: ClusterFigures;
}

const REFRESH_MS = 1_000;

export class SystemPanel {
  readonly element: HTMLElement;
  readonly #journal: HTMLElement;
  readonly #consumers: HTMLElement;
  readonly #queues: HTMLElement;
  readonly #chain: HTMLElement;
  readonly #cluster = new ClusterCard();
  readonly #status: HTMLElement;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The last snapshot read (test hook). */
  last: Snapshot | undefined;

  constructor(private readonly http: ExchangeHttp) {
    const card = (title: string, testid: string, note: string) => {
      const body = el('div', { class: 'figures system-figures', 'data-testid': testid });
      const article = el('article', { class: 'actor-card system', 'data-testid': `${testid}-card` }, [
        el('header', {}, [el('h2', {}, [title]), el('span', { class: 'muted' }, [note])]),
        body,
      ]);
      return { article, body };
    };
    const journal = card('Journal writer', 'journal', 'group commit: flushes, batch sizes, commit latency');
    const consumers = card('Projector & durable consumers', 'consumers', 'cursor and lag behind the journal');
    const queues = card('Job queues (BullMQ)', 'queues', 'waiting, active, failed');
    const chain = card('Chain client', 'chain', 'nonce and pending transactions');
    this.#journal = journal.body;
    this.#consumers = consumers.body;
    this.#queues = queues.body;
    this.#chain = chain.body;
    this.#status = el('span', { class: 'muted', 'data-testid': 'system-status' }, ['—']);
    this.element = el('section', { class: 'system-panel', 'data-testid': 'system-panel' }, [
      this.#cluster.element,
      journal.article,
      consumers.article,
      queues.article,
      chain.article,
      this.#status,
    ]);
  }

  /** Reads the figures now, then every second until the channel pushes them (`push`). */
  start(): void {
    clearInterval(this.#timer);
    void this.#refresh();
    this.#timer = setInterval(() => void this.#refresh(), REFRESH_MS);
  }

  /** A `system` push of the actors channel: polling stops, the push draws. */
  push(snapshot: Snapshot): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.streamed = true;
    this.#draw(snapshot);
  }

  /** Whether the figures come from pushes (test hook). */
  streamed = false;

  async #refresh(): Promise<void> {
    let snapshot: Snapshot;
    try {
      snapshot = (await this.http.system()) as Snapshot;
    } catch (error) {
      setText(
        this.#status,
        isRouteMissing(error)
          ? 'system figures not available on this server'
          : `system figures: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    this.#draw(snapshot);
  }

  #draw(snapshot: Snapshot): void {
    this.last = snapshot;
    setText(this.#status, `figures as of ${formatTime(snapshot.ts)}`);
    const j = snapshot.journal;
    figures(this.#journal, [
      ['flushes', j.flushes],
      ['records', j.records],
      ['last flush', j.lastFlushRecords],
      [
        'commit ms',
        j.lastCommitLatencyMs === undefined ? undefined : Math.round(j.lastCommitLatencyMs * 10) / 10,
      ],
      ['pending', j.pending],
      ['failed', j.failedFlushes],
      ['global seq', j.lastGlobalSeq],
    ]);
    rows(
      this.#consumers,
      ['consumer', 'cursor', 'lag'],
      snapshot.consumers.map((c) => [c.name, String(c.cursor), String(c.lag)]),
      (i) => (snapshot.consumers[i]!.lag > 0 ? 'lagging' : ''),
      'consumer',
    );
    rows(
      this.#queues,
      ['queue', 'waiting', 'active', 'delayed', 'failed'],
      snapshot.queues.map((q) => [
        q.name,
        String(q.counts.waiting ?? 0),
        String(q.counts.active ?? 0),
        String(q.counts.delayed ?? 0),
        q.error ?? String(q.counts.failed ?? 0),
      ]),
      (i) => ((snapshot.queues[i]!.counts.failed ?? 0) > 0 ? 'alarm' : ''),
      'queue',
    );
    const c = snapshot.chain;
    figures(this.#chain, [
      ['status', c.status],
      ['chain id', c.chainId],
      ['nonce', c.nonce],
      ['pending tx', c.pendingTransactions],
      ['account', c.address === undefined ? undefined : `${c.address.slice(0, 8)}…${c.address.slice(-4)}`],
    ]);
    this.#cluster.draw(snapshot.cluster, snapshot.ts);
  }
}

export interface LogEntry {
  readonly ts: number;
  /** `market BTC-USDC`, `withdrawal w-1`, … */
  readonly actor: string;
  readonly event: string;
  readonly from?: string;
  readonly to?: string;
  /** Who caused it and why (lifecycle pushes carry them). */
  readonly by?: string;
  readonly reason?: string;
  readonly payload: unknown;
}

const LOG_KEEP = 500;

export class EventLog {
  readonly element: HTMLElement;
  readonly #list: HTMLElement;
  readonly #filter: HTMLInputElement;
  readonly #entries: LogEntry[] = [];

  constructor() {
    this.#filter = el('input', {
      type: 'search',
      placeholder: 'filter: actor, event, reason…',
      'aria-label': 'filter the event log',
      'data-testid': 'log-filter',
    });
    this.#list = el('ol', { class: 'event-log', 'data-testid': 'event-log' });
    this.#filter.addEventListener('input', () => {
      this.#render();
    });
    this.element = el('article', { class: 'actor-card log-card', 'data-testid': 'event-log-card' }, [
      el('header', {}, [el('h2', {}, ['Event log']), this.#filter]),
      this.#list,
    ]);
  }

  add(entry: LogEntry): void {
    this.#entries.unshift(entry);
    if (this.#entries.length > LOG_KEEP) this.#entries.length = LOG_KEEP;
    if (this.#matches(entry)) {
      this.#list.prepend(this.#row(entry));
      while (this.#list.childElementCount > LOG_KEEP) this.#list.lastElementChild!.remove();
    }
  }

  get size(): number {
    return this.#entries.length;
  }

  #matches(entry: LogEntry): boolean {
    const text = this.#filter.value.trim().toLowerCase();
    if (text === '') return true;
    return [entry.actor, entry.event, entry.from, entry.to, entry.by, entry.reason]
      .filter((v): v is string => v !== undefined)
      .some((v) => v.toLowerCase().includes(text));
  }

  #render(): void {
    this.#list.replaceChildren(...this.#entries.filter((e) => this.#matches(e)).map((e) => this.#row(e)));
  }

  #row(entry: LogEntry): HTMLElement {
    const payload = el('pre', { class: 'payload' }, [JSON.stringify(entry.payload, null, 1)]);
    const details = el('details', {}, [el('summary', {}, ['payload']), payload]);
    return el('li', { 'data-testid': 'log-entry', 'data-actor': entry.actor, 'data-event': entry.event }, [
      el('span', { class: 'time' }, [formatTime(entry.ts)]),
      el('span', { class: 'actor' }, [entry.actor]),
      el('span', { class: 'event' }, [
        entry.event,
        entry.from === undefined ? '' : ` ${entry.from} → ${entry.to ?? '?'}`,
      ]),
      el('span', { class: 'reason' }, [
        [entry.by, entry.reason].filter((v) => v !== undefined && v !== '').join(' · '),
      ]),
      details,
    ]);
  }
}
