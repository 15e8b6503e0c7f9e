import { el, setText, svg } from '../shared/dom.ts';
import { formatCount, formatTime } from '../shared/format.ts';
import type { Diagram } from './diagram.ts';
import type { ActorTransition, MarketUpdate, SupervisorFigures, WithdrawalActorUpdate } from './messages.ts';

/*
 * One card per actor: the supervisor's figures, and for each market its machine's diagram with
 * the current state highlighted, the transition just taken lit for a moment, the mailbox figures
 * and the latest transitions. Cards are built once and updated in place.
 */

const TRANSITIONS_SHOWN = 12;
const FIRED_MS = 1500;
const SPARK_POINTS = 60;
let markerCount = 0;

export class SupervisorCard {
  readonly element: HTMLElement;
  readonly #values: Record<keyof SupervisorFigures, HTMLElement>;

  constructor() {
    const figure = (label: string, testid: string) => {
      const value = el('b', { 'data-testid': testid }, ['0']);
      return { value, node: el('div', { class: 'figure' }, [el('span', {}, [label]), value]) };
    };
    const markets = figure('markets', 'supervisor-markets');
    const halted = figure('halted', 'supervisor-halted');
    const depth = figure('mailbox depth', 'supervisor-mailbox-depth');
    const rate = figure('processed/s', 'supervisor-processed-per-sec');
    const faults = figure('faults', 'supervisor-faults');
    const recoveries = figure('recoveries', 'supervisor-recoveries');
    this.#values = {
      markets: markets.value,
      halted: halted.value,
      mailboxDepth: depth.value,
      processedPerSec: rate.value,
      faults: faults.value,
      recoveries: recoveries.value,
    };
    this.element = el('article', { class: 'actor-card supervisor', 'data-testid': 'supervisor-card' }, [
      el('header', {}, [
        el('h3', {}, ['supervisor']),
        el('span', { class: 'muted' }, ['owns and restarts the market actors']),
      ]),
      el('div', { class: 'figures' }, [
        markets.node,
        halted.node,
        depth.node,
        rate.node,
        faults.node,
        recoveries.node,
      ]),
    ]);
  }

  update(figures: SupervisorFigures): void {
    for (const key of Object.keys(this.#values) as (keyof SupervisorFigures)[]) {
      setText(this.#values[key], formatCount(figures[key]));
    }
    this.element.classList.toggle('alarm', figures.halted > 0);
  }
}

export class MarketCard {
  readonly element: HTMLElement;
  readonly transitions: ActorTransition[] = [];
  #market: MarketUpdate;
  readonly #diagram: DiagramView | undefined;
  readonly #title: HTMLElement;
  readonly #status: HTMLElement;
  readonly #depth: HTMLElement;
  readonly #rate: HTMLElement;
  readonly #batch: HTMLElement;
  readonly #processed: HTMLElement;
  readonly #fault: HTMLElement;
  readonly #list: HTMLOListElement;
  readonly #spark: SVGPolylineElement;
  readonly #depths: number[] = [];

  constructor(market: MarketUpdate, diagram: Diagram | undefined) {
    this.#market = market;
    this.#diagram = diagram === undefined ? undefined : new DiagramView(diagram);
    const figure = (label: string, testid: string) => {
      const value = el('b', { 'data-testid': testid }, ['0']);
      return { value, node: el('div', { class: 'figure' }, [el('span', {}, [label]), value]) };
    };
    const depth = figure('mailbox depth', 'mailbox-depth');
    const rate = figure('processed/s', 'processed-per-sec');
    const batch = figure('last batch', 'last-batch-size');
    const processed = figure('processed', 'processed-total');
    this.#depth = depth.value;
    this.#rate = rate.value;
    this.#batch = batch.value;
    this.#processed = processed.value;
    this.#title = el('h3', {}, [market.symbol]);
    this.#status = el('span', { class: 'status', 'data-testid': 'actor-status' }, [market.status]);
    this.#fault = el('p', { class: 'fault', hidden: true });
    this.#list = el('ol', { class: 'transitions' });
    this.#spark = svg('polyline', { class: 'spark-line', points: '' });
    const spark = svg(
      'svg',
      { class: 'spark', viewBox: `0 0 ${SPARK_POINTS - 1} 20`, preserveAspectRatio: 'none' },
      [this.#spark],
    );
    spark.append(svg('title', {}, ['mailbox depth, last updates']));
    this.element = el(
      'article',
      {
        class: 'actor-card market',
        'data-testid': 'actor-card',
        'data-market': market.symbol,
        'data-market-id': market.marketId,
      },
      [
        el('header', {}, [
          this.#title,
          el('span', { class: 'muted' }, [`${market.machine} · ${market.marketId}`]),
          this.#status,
        ]),
        el('div', { class: 'figures' }, [depth.node, rate.node, batch.node, processed.node, spark]),
        this.#fault,
        this.#diagram?.element ?? el('p', { class: 'muted' }, [`no diagram for machine ${market.machine}`]),
        el('h4', {}, ['last transitions']),
        this.#list,
      ],
    );
    this.update(market, market.transitions, false);
  }

  get market(): MarketUpdate {
    return this.#market;
  }

  update(market: MarketUpdate, transitions: readonly ActorTransition[], live: boolean): void {
    this.#market = market;
    const card = this.element;
    card.dataset.state = market.state;
    card.dataset.status = market.status;
    card.classList.toggle('halted', market.status === 'halted');
    setText(this.#title, market.symbol);
    setText(this.#status, market.status);
    setText(this.#depth, formatCount(market.peakMailboxDepth));
    setText(this.#rate, formatCount(market.processedPerSec));
    setText(this.#batch, formatCount(market.lastBatchSize));
    setText(this.#processed, formatCount(market.processed));
    this.#fault.hidden = market.lastFault === undefined;
    setText(
      this.#fault,
      market.lastFault === undefined ? '' : `last fault (${market.faults}): ${market.lastFault}`,
    );
    this.#diagram?.setCurrent(market.state);
    this.#depths.push(market.peakMailboxDepth);
    if (this.#depths.length > SPARK_POINTS) this.#depths.shift();
    const top = Math.max(1, ...this.#depths);
    this.#spark.setAttribute(
      'points',
      this.#depths
        .map((d, i) => `${i + SPARK_POINTS - this.#depths.length},${20 - (d / top) * 19}`)
        .join(' '),
    );
    if (transitions.length > 0) this.#addTransitions(transitions, live);
    if (market.droppedTransitions !== undefined) {
      this.#list.prepend(
        el('li', { class: 'dropped' }, [`… ${market.droppedTransitions} more transitions in that window`]),
      );
    }
  }

  #addTransitions(transitions: readonly ActorTransition[], live: boolean): void {
    this.transitions.push(...transitions);
    this.transitions.splice(0, Math.max(0, this.transitions.length - TRANSITIONS_SHOWN));
    prependTransitions(this.#list, transitions);
    if (live) this.#diagram?.fire(transitions.at(-1)!);
  }
}

/** A withdrawal (issue 15) on the `withdrawal` machine's diagram, with its amount and last transitions. */
export class WithdrawalCard {
  readonly element: HTMLElement;
  readonly transitions: ActorTransition[] = [];
  #withdrawal: WithdrawalActorUpdate;
  readonly #diagram: DiagramView | undefined;
  readonly #state: HTMLElement;
  readonly #reason: HTMLElement;
  readonly #list: HTMLOListElement;

  constructor(withdrawal: WithdrawalActorUpdate, diagram: Diagram | undefined) {
    this.#withdrawal = withdrawal;
    this.#diagram = diagram === undefined ? undefined : new DiagramView(diagram);
    this.#state = el('span', { class: 'status', 'data-testid': 'withdrawal-state' }, [withdrawal.state]);
    this.#reason = el('p', { class: 'fault', hidden: true });
    this.#list = el('ol', { class: 'transitions' });
    this.element = el(
      'article',
      {
        class: 'actor-card withdrawal',
        'data-testid': 'withdrawal-card',
        'data-withdrawal-id': withdrawal.withdrawalId,
      },
      [
        el('header', {}, [
          el('h3', {}, [`${withdrawal.amount} ${withdrawal.asset}`]),
          el('span', { class: 'muted' }, [
            `${withdrawal.machine} · ${withdrawal.withdrawalId} · ${withdrawal.userId}`,
          ]),
          this.#state,
        ]),
        this.#reason,
        this.#diagram?.element ??
          el('p', { class: 'muted' }, [`no diagram for machine ${withdrawal.machine}`]),
        el('h4', {}, ['last transitions']),
        this.#list,
      ],
    );
    this.update(withdrawal, false);
  }

  get withdrawal(): WithdrawalActorUpdate {
    return this.#withdrawal;
  }

  update(withdrawal: WithdrawalActorUpdate, live: boolean): void {
    this.#withdrawal = withdrawal;
    this.element.dataset.state = withdrawal.state;
    this.element.classList.toggle('final', withdrawal.final);
    setText(this.#state, withdrawal.state);
    this.#reason.hidden = withdrawal.reason === undefined;
    setText(this.#reason, withdrawal.reason ?? '');
    this.#diagram?.setCurrent(withdrawal.state);
    if (withdrawal.transitions.length === 0) return;
    this.transitions.push(...withdrawal.transitions);
    this.transitions.splice(0, Math.max(0, this.transitions.length - TRANSITIONS_SHOWN));
    prependTransitions(this.#list, withdrawal.transitions);
    if (live) this.#diagram?.fire(withdrawal.transitions.at(-1)!);
  }
}

/** Rows for `transitions` at the top of `list`, newest first, at most TRANSITIONS_SHOWN kept. */
function prependTransitions(list: HTMLOListElement, transitions: readonly ActorTransition[]): void {
  const rows = [...transitions].reverse().map((t) =>
    el(
      'li',
      {
        class: t.replayed === true ? 'replayed' : '',
        'data-testid': 'actor-transition',
        'data-from': t.from,
        'data-to': t.to,
        'data-event': t.event,
      },
      [
        el('span', { class: 'time' }, [formatTime(t.ts)]),
        el('span', { class: 'edge' }, [`${t.from} → ${t.to}`]),
        el('span', { class: 'event' }, [t.event + (t.replayed === true ? ' (replayed)' : '')]),
      ],
    ),
  );
  list.prepend(...rows);
  while (list.childElementCount > TRANSITIONS_SHOWN) list.lastElementChild!.remove();
}

/** A machine's state diagram: the current state highlighted, a transition just taken lit for a moment. */
export class DiagramView {
  readonly element: SVGSVGElement;
  readonly #nodes = new Map<string, SVGGElement>();
  readonly #edges: { readonly key: string; readonly path: SVGPathElement }[] = [];

  constructor(diagram: Diagram) {
    this.element = this.#draw(diagram);
    zoomAndPan(this.element, diagram.width, diagram.height);
  }

  setCurrent(state: string): void {
    for (const [key, node] of this.#nodes) {
      const current = key === state;
      node.classList.toggle('current', current);
      node.dataset.current = String(current);
    }
  }

  fire(transition: ActorTransition): void {
    const key = edgeKey(transition.from, transition.to, transition.event);
    for (const edge of this.#edges) {
      if (edge.key !== key) continue;
      edge.path.classList.add('fired');
      // When the page drew it (test hook: how soon after the change the highlight showed).
      edge.path.dataset.firedAt = String(Date.now());
      setTimeout(() => {
        edge.path.classList.remove('fired');
      }, FIRED_MS);
    }
  }

  #draw(diagram: Diagram): SVGSVGElement {
    const markerId = `arrow-${++markerCount}`;
    const root = svg('svg', {
      class: 'diagram',
      viewBox: `0 0 ${diagram.width} ${diagram.height}`,
      role: 'img',
      'aria-label': `${diagram.id} state diagram`,
      'data-testid': 'actor-diagram',
    });
    root.append(
      svg('defs', {}, [
        svg(
          'marker',
          {
            id: markerId,
            viewBox: '0 0 10 10',
            refX: 9,
            refY: 5,
            markerWidth: 7,
            markerHeight: 7,
            orient: 'auto-start-reverse',
          },
          [svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow-head' })],
        ),
      ]),
    );
    for (const edge of diagram.edges) {
      const path = svg('path', { d: edge.path, class: 'edge', 'marker-end': `url(#${markerId})` }, [
        svg('title', {}, [edge.event]),
      ]);
      this.#edges.push({ key: edgeKey(edge.from, edge.to, edge.event), path });
      root.append(
        path,
        svg('text', { x: edge.labelX, y: edge.labelY, class: 'edge-label', 'text-anchor': 'middle' }, [
          edge.label,
        ]),
      );
    }
    for (const node of diagram.nodes) {
      const group = svg('g', {
        class: `state${node.final ? ' final' : ''}${node.initial ? ' initial' : ''}`,
        'data-testid': 'actor-node',
        'data-state': node.key,
        'data-current': 'false',
      });
      group.append(
        svg('rect', { x: node.x, y: node.y, width: node.width, height: node.height, rx: 8 }),
        svg(
          'text',
          { x: node.x + node.width / 2, y: node.y + node.height / 2 + 4, 'text-anchor': 'middle' },
          [node.key],
        ),
      );
      if (node.initial) {
        const y = node.y + node.height / 2;
        root.append(svg('circle', { cx: node.x - 22, cy: y, r: 4, class: 'initial-dot' }));
        root.append(
          svg('path', {
            d: `M ${node.x - 18} ${y} L ${node.x - 2} ${y}`,
            class: 'edge',
            'marker-end': `url(#${markerId})`,
          }),
        );
      }
      this.#nodes.set(node.key, group);
      root.append(group);
    }
    return root;
  }
}

function edgeKey(from: string, to: string, event: string): string {
  return `${from}\u0000${to}\u0000${event}`;
}

/**
 * Zoom (Ctrl/⌘ + wheel, or a trackpad pinch, which browsers send as such) and pan (drag) by moving
 * the diagram's viewBox; a double click restores it. A plain wheel still scrolls the page.
 */
function zoomAndPan(root: SVGSVGElement, width: number, height: number): void {
  let box = { x: 0, y: 0, w: width, h: height };
  const apply = () => {
    root.setAttribute('viewBox', `${box.x} ${box.y} ${box.w} ${box.h}`);
  };
  const toDiagram = (clientX: number, clientY: number) => {
    const rect = root.getBoundingClientRect();
    return {
      x: box.x + ((clientX - rect.left) / Math.max(1, rect.width)) * box.w,
      y: box.y + ((clientY - rect.top) / Math.max(1, rect.height)) * box.h,
    };
  };
  root.addEventListener(
    'wheel',
    (event) => {
      if (!event.ctrlKey && !event.metaKey) return;
      event.preventDefault();
      const factor = Math.exp(event.deltaY * 0.002);
      const w = Math.min(width * 4, Math.max(width / 8, box.w * factor));
      const scale = w / box.w;
      const at = toDiagram(event.clientX, event.clientY);
      box = { x: at.x - (at.x - box.x) * scale, y: at.y - (at.y - box.y) * scale, w, h: box.h * scale };
      apply();
    },
    { passive: false },
  );
  let drag: { x: number; y: number; box: typeof box } | undefined;
  root.addEventListener('pointerdown', (event) => {
    drag = { x: event.clientX, y: event.clientY, box };
    root.setPointerCapture(event.pointerId);
  });
  root.addEventListener('pointermove', (event) => {
    if (drag === undefined) return;
    const rect = root.getBoundingClientRect();
    const dx = ((event.clientX - drag.x) / Math.max(1, rect.width)) * drag.box.w;
    const dy = ((event.clientY - drag.y) / Math.max(1, rect.height)) * drag.box.h;
    box = { ...drag.box, x: drag.box.x - dx, y: drag.box.y - dy };
    apply();
  });
  const end = () => {
    drag = undefined;
  };
  root.addEventListener('pointerup', end);
  root.addEventListener('pointercancel', end);
  root.addEventListener('dblclick', () => {
    box = { x: 0, y: 0, w: width, h: height };
    apply();
  });
}
