/*
 * A machine's state diagram computed from its definition (DOM-free, so unit tests run it on the
 * real machine): the top-level states and their transitions are read from `machine.root`, states
 * are laid out in columns by their distance from the initial state, and each transition becomes a
 * quadratic curve between two boxes: straight between neighbouring columns, bent otherwise (a
 * transition back or within a column arcs around the others) with its event name at the middle.
 * Nested states, if a machine had them, are drawn as their top-level state.
 */

export interface StateNodeLike {
  readonly key: string;
  readonly type: string;
  readonly transitions: ReadonlyMap<
    string,
    readonly { readonly target?: readonly { readonly key: string }[] | undefined }[]
  >;
}

export interface MachineLike {
  readonly id: string;
  readonly root: {
    readonly initial?: { readonly target: readonly { readonly key: string }[] } | undefined;
    readonly states: Readonly<Record<string, StateNodeLike>>;
  };
}

export interface DiagramNode {
  readonly key: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly column: number;
  readonly initial: boolean;
  readonly final: boolean;
}

export interface DiagramEdge {
  readonly from: string;
  readonly to: string;
  readonly event: string;
  /** The event without the prefix all the machine's events share (`lifecycle.`). */
  readonly label: string;
  /** SVG path data. */
  readonly path: string;
  readonly labelX: number;
  readonly labelY: number;
}

export interface Diagram {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly DiagramNode[];
  readonly edges: readonly DiagramEdge[];
}

export const NODE_WIDTH = 128;
export const NODE_HEIGHT = 34;
const COLUMN_GAP = 84;
const ROW_GAP = 46;
const MARGIN = 44;

interface Point {
  readonly x: number;
  readonly y: number;
}

export function diagramOf(machine: MachineLike): Diagram {
  const states = machine.root.states;
  const keys = Object.keys(states);
  const initial = machine.root.initial?.target[0]?.key ?? keys[0];
  const transitions: { from: string; to: string; event: string }[] = [];
  for (const key of keys) {
    for (const [event, definitions] of states[key]!.transitions) {
      for (const definition of definitions) {
        for (const target of definition.target ?? []) transitions.push({ from: key, to: target.key, event });
      }
    }
  }

  // Columns: breadth-first distance from the initial state; unreachable states after the rest.
  const column = new Map<string, number>();
  if (initial !== undefined) column.set(initial, 0);
  const queue = initial === undefined ? [] : [initial];
  for (let i = 0; i < queue.length; i++) {
    const from = queue[i]!;
    for (const t of transitions) {
      if (t.from === from && !column.has(t.to) && t.to in states) {
        column.set(t.to, column.get(from)! + 1);
        queue.push(t.to);
      }
    }
  }
  const lastColumn = Math.max(-1, ...column.values());
  for (const key of keys) if (!column.has(key)) column.set(key, lastColumn + 1);

  const columns: string[][] = [];
  for (const key of keys) (columns[column.get(key)!] ??= []).push(key);
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const height = MARGIN * 2 + tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP;
  const nodes = new Map<string, DiagramNode>();
  columns.forEach((members, c) => {
    const span = members.length * NODE_HEIGHT + (members.length - 1) * ROW_GAP;
    members.forEach((key, row) => {
      nodes.set(key, {
        key,
        x: MARGIN + c * (NODE_WIDTH + COLUMN_GAP),
        y: (height - span) / 2 + row * (NODE_HEIGHT + ROW_GAP),
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        column: c,
        initial: key === initial,
        final: states[key]!.type === 'final',
      });
    });
  });
  const width = MARGIN * 2 + columns.length * NODE_WIDTH + (columns.length - 1) * COLUMN_GAP;

  const prefix = commonPrefix(transitions.map((t) => t.event));
  const edges = transitions.flatMap((t): DiagramEdge[] => {
    const a = nodes.get(t.from);
    const b = nodes.get(t.to);
    if (a === undefined || b === undefined) return [];
    return [{ ...t, label: t.event.slice(prefix.length), ...route(a, b) }];
  });
  return { id: machine.id, width, height, nodes: [...nodes.values()], edges };
}

function route(a: DiagramNode, b: DiagramNode): { path: string; labelX: number; labelY: number } {
  const p0 = centre(a);
  const p2 = centre(b);
  const mid = { x: (p0.x + p2.x) / 2, y: (p0.y + p2.y) / 2 };
  const span = b.column - a.column;
  let control = mid;
  if (a.key === b.key) {
    // A self-transition: a loop above the box.
    const top = a.y;
    return {
      path: `M ${p0.x - 14} ${top} C ${p0.x - 30} ${top - 36}, ${p0.x + 30} ${top - 36}, ${p0.x + 14} ${top}`,
      labelX: p0.x,
      labelY: top - 32,
    };
  }
  if (span !== 1) {
    // Backwards or within a column: bend away from the straight line, further for longer spans.
    const dx = p2.x - p0.x;
    const dy = p2.y - p0.y;
    const length = Math.hypot(dx, dy) || 1;
    const bend = span === 0 ? 56 : 40 + 12 * Math.abs(span);
    control = { x: mid.x + (-dy / length) * bend, y: mid.y + (dx / length) * bend };
  }
  const start = boxExit(a, control);
  const end = boxExit(b, control);
  const label = {
    x: 0.25 * start.x + 0.5 * control.x + 0.25 * end.x,
    y: 0.25 * start.y + 0.5 * control.y + 0.25 * end.y,
  };
  return {
    path: `M ${r(start.x)} ${r(start.y)} Q ${r(control.x)} ${r(control.y)} ${r(end.x)} ${r(end.y)}`,
    labelX: r(label.x),
    labelY: r(label.y - 4),
  };
}

function centre(node: DiagramNode): Point {
  return { x: node.x + node.width / 2, y: node.y + node.height / 2 };
}

/** Where the ray from the box's centre towards `towards` leaves the box. */
function boxExit(node: DiagramNode, towards: Point): Point {
  const c = centre(node);
  const dx = towards.x - c.x;
  const dy = towards.y - c.y;
  if (dx === 0 && dy === 0) return c;
  const t = Math.min(
    dx === 0 ? Infinity : node.width / 2 / Math.abs(dx),
    dy === 0 ? Infinity : node.height / 2 / Math.abs(dy),
  );
  return { x: c.x + dx * t, y: c.y + dy * t };
}

function commonPrefix(events: readonly string[]): string {
  if (events.length < 2) return '';
  let prefix = events[0]!.slice(0, events[0]!.lastIndexOf('.') + 1);
  for (const event of events) while (prefix !== '' && !event.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.endsWith('.') ? prefix : '';
}

const r = (n: number) => Math.round(n * 10) / 10;
