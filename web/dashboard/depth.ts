import { el } from '../shared/dom.ts';
import type { Level } from './ladder.ts';

/*
 * The depth chart: cumulative size from the best price outwards, bids to the left of the mid in
 * green, asks to the right in red, drawn on a canvas at the device's pixel ratio. Numbers here are
 * for drawing only (positions on screen), never for money.
 */

export class DepthChart {
  readonly #canvas: HTMLCanvasElement;
  /** Levels drawn: the test hook reads it. */
  levels = 0;

  constructor(container: HTMLElement) {
    this.#canvas = el('canvas', { 'data-testid': 'depth-canvas', role: 'img', 'aria-label': 'depth chart' });
    container.replaceChildren(this.#canvas);
  }

  render(bids: readonly Level[], asks: readonly Level[]): void {
    const canvas = this.#canvas;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext('2d');
    if (ctx === null) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const side = (levels: readonly Level[]) => {
      let sum = 0;
      return levels.map(([p, q]) => {
        sum += Number(q);
        return [Number(p), sum] as const;
      });
    };
    const b = side(bids);
    const a = side(asks);
    this.levels = b.length + a.length;
    if (b.length === 0 && a.length === 0) return;
    const prices = [...b, ...a].map(([p]) => p);
    const low = Math.min(...prices);
    const high = Math.max(...prices);
    const top = Math.max(b.at(-1)?.[1] ?? 0, a.at(-1)?.[1] ?? 0) || 1;
    const x = (p: number) => (high === low ? width / 2 : ((p - low) / (high - low)) * (width - 8) + 4);
    const y = (q: number) => height - 14 - (q / top) * (height - 22);
    const draw = (points: readonly (readonly [number, number])[], stroke: string, fill: string) => {
      if (points.length === 0) return;
      ctx.beginPath();
      ctx.moveTo(x(points[0]![0]), height - 14);
      for (const [p, q] of points) {
        ctx.lineTo(x(p), y(q));
      }
      ctx.lineTo(x(points.at(-1)![0]), height - 14);
      ctx.closePath();
      ctx.fillStyle = fill;
      ctx.fill();
      ctx.strokeStyle = stroke;
      ctx.stroke();
    };
    draw(b, '#16c784', 'rgba(22,199,132,0.18)');
    draw(a, '#ea3943', 'rgba(234,57,67,0.18)');
    ctx.fillStyle = '#8a94a6';
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillText(bids.at(-1)?.[0] ?? asks[0]?.[0] ?? '', 4, height - 2);
    const right = asks.at(-1)?.[0] ?? bids[0]?.[0] ?? '';
    ctx.fillText(right, width - ctx.measureText(right).width - 4, height - 2);
  }

  clear(): void {
    const ctx = this.#canvas.getContext('2d');
    ctx?.clearRect(0, 0, this.#canvas.width, this.#canvas.height);
    this.levels = 0;
  }
}
