import { el, setText } from '../shared/dom.ts';
import { formatTime } from '../shared/format.ts';
import type { ClusterFigures, ClusterMarketFigures } from './messages.ts';
import { figures, rows } from './tables.ts';

/*
 * Which engine owns which market (issue 22, docs/scale-out.md), from the `cluster` field of the
 * system figures: in ROLE=all "single process" (one process owns every market); on a gateway the
 * live engines with the markets each holds, and per market its owner (the lease holder), the
 * lease's epoch, the epoch fenced in Postgres and since when. A market with no owner, an owner
 * that is not live, or epochs that differ (a takeover under way) is marked.
 *
 * Test hooks: `data-testid="cluster"` (`data-mode`), rows `cluster-engine` and `cluster-market`
 * (`data-name` = engine id / symbol, `data-owner`).
 */

export class ClusterCard {
  readonly element: HTMLElement;
  readonly #note: HTMLElement;
  readonly #figures: HTMLElement;
  readonly #engines: HTMLElement;
  readonly #markets: HTMLElement;
  /** The last figures drawn (test hook). */
  last: ClusterFigures | undefined;

  constructor() {
    this.#note = el('span', { class: 'muted', 'data-testid': 'cluster-note' }, ['—']);
    this.#figures = el('div', { class: 'figures system-figures', 'data-testid': 'cluster' });
    this.#engines = el('div', { 'data-testid': 'cluster-engines' });
    this.#markets = el('div', { 'data-testid': 'cluster-markets' });
    this.element = el('article', { class: 'actor-card system cluster', 'data-testid': 'cluster-card' }, [
      el('header', {}, [el('h2', {}, ['Cluster']), this.#note]),
      this.#figures,
      this.#engines,
      this.#markets,
    ]);
  }

  draw(cluster: ClusterFigures | undefined, now: number): void {
    this.last = cluster;
    if (cluster === undefined) {
      this.#figures.dataset.mode = 'unknown';
      setText(this.#note, 'not reported by this server');
      this.#figures.replaceChildren();
      this.#engines.replaceChildren();
      this.#markets.replaceChildren();
      return;
    }
    this.#figures.dataset.mode = cluster.mode;
    if (cluster.mode === 'single') {
      setText(this.#note, 'ROLE=all: this process owns every market');
      figures(this.#figures, [['mode', 'single process']]);
      this.#engines.replaceChildren();
      this.#markets.replaceChildren();
      return;
    }
    setText(
      this.#note,
      cluster.error === undefined
        ? 'owner per market: lease holder, lease and Postgres epochs, since'
        : `cluster not read: ${cluster.error}`,
    );
    figures(this.#figures, [
      ['mode', 'cluster'],
      ['name', cluster.name],
      ['engines', cluster.engines.length],
      ['replica seq', cluster.replicaGlobalSeq],
    ]);
    const owned = (engine: string) => cluster.markets.filter((m) => m.owner === engine);
    rows(
      this.#engines,
      ['engine', 'markets'],
      cluster.engines.map((engine) => [
        engine,
        owned(engine)
          .map((m) => m.symbol)
          .join(', ') || '—',
      ]),
      () => '',
      'cluster-engine',
    );
    const live = new Set(cluster.engines);
    rows(
      this.#markets,
      ['market', 'owner', 'lease epoch', 'fenced epoch', 'since'],
      cluster.markets.map((m) => [
        m.symbol,
        m.owner ?? 'none',
        m.leaseEpoch === undefined ? '—' : String(m.leaseEpoch),
        m.fencedEpoch === undefined ? '—' : String(m.fencedEpoch),
        since(m, now),
      ]),
      (i) => (settled(cluster.markets[i]!, live) ? '' : 'alarm'),
      'cluster-market',
      (i) => ({ 'data-owner': cluster.markets[i]!.owner ?? '' }),
    );
  }
}

/** Owned by a live engine, fenced at its lease's epoch: no takeover under way. */
function settled(market: ClusterMarketFigures, live: ReadonlySet<string>): boolean {
  return market.owner !== undefined && live.has(market.owner) && market.leaseEpoch === market.fencedEpoch;
}

function since(market: ClusterMarketFigures, now: number): string {
  if (market.ownedSince === undefined) return '—';
  const seconds = Math.max(0, Math.round((now - market.ownedSince) / 1000));
  return `${formatTime(market.ownedSince)} (${seconds} s)`;
}
