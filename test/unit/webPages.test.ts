import { describe, expect, it } from 'vitest';
import { marketLifecycleMachine } from '../../machines/marketLifecycle.ts';
import { diagramOf } from '../../web/actors/diagram.ts';
import { ladder } from '../../web/dashboard/ladder.ts';
import { changePercent, scaled, unscaled } from '../../web/shared/format.ts';

/** The pages' DOM-free parts: the state diagram from the machine itself, the ladder's figures. */

describe('state diagram', () => {
  const diagram = diagramOf(marketLifecycleMachine);

  it('has every state and every transition of the machine definition', () => {
    expect(diagram.id).toBe('marketLifecycle');
    expect(diagram.nodes.map((n) => n.key).sort()).toEqual(
      [
        'active',
        'activating',
        'approved',
        'archived',
        'draft',
        'paused',
        'pending_approval',
        'rejected',
      ].sort(),
    );
    const edges = diagram.edges.map((e) => `${e.from} -${e.label}-> ${e.to}`).sort();
    expect(edges).toEqual(
      [
        'draft -submit-> pending_approval',
        'pending_approval -approve-> approved',
        'pending_approval -reject-> rejected',
        'approved -activate-> activating',
        'activating -deployed-> active',
        'activating -deploy_failed-> approved',
        'active -pause-> paused',
        'active -archive-> archived',
        'paused -resume-> active',
        'paused -archive-> archived',
      ].sort(),
    );
    expect(diagram.edges.find((e) => e.label === 'pause')!.event).toBe('lifecycle.pause');
  });

  it('lays states out by distance from the initial one, without overlaps, inside the view box', () => {
    const at = new Map(diagram.nodes.map((n) => [n.key, n]));
    expect(at.get('draft')).toMatchObject({ column: 0, initial: true });
    expect(at.get('archived')!.final).toBe(true);
    expect(at.get('active')!.column).toBeLessThan(at.get('paused')!.column);
    for (const a of diagram.nodes) {
      expect(a.x).toBeGreaterThanOrEqual(0);
      expect(a.y).toBeGreaterThanOrEqual(0);
      expect(a.x + a.width).toBeLessThanOrEqual(diagram.width);
      expect(a.y + a.height).toBeLessThanOrEqual(diagram.height);
      for (const b of diagram.nodes) {
        if (a === b) continue;
        const apart =
          a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect(apart, `${a.key} overlaps ${b.key}`).toBe(true);
      }
    }
    for (const edge of diagram.edges) expect(edge.path).toMatch(/^M [-0-9. ]+ Q [-0-9. ]+$/);
  });
});

describe('depth ladder', () => {
  const decimals = { price: 2, qty: 3 };

  it('sums sizes from the best level outwards, exactly, and sizes the bars on the largest total', () => {
    const view = ladder(
      [
        ['100.00', '0.100'],
        ['99.50', '0.200'],
        ['99.00', '0.700'],
      ],
      [
        ['100.50', '0.300'],
        ['101.00', '0.200'],
      ],
      10,
      decimals,
    );
    expect(view.bids.map((r) => r.total)).toEqual(['0.100', '0.300', '1.000']);
    expect(view.asks.map((r) => r.total)).toEqual(['0.300', '0.500']);
    expect(view.bids.map((r) => r.depth)).toEqual([0.1, 0.3, 1]);
    expect(view.asks.map((r) => r.depth)).toEqual([0.3, 0.5]);
    expect(view.spread).toBe('0.50');
  });

  it('shows at most the rows asked for; an empty side has no spread', () => {
    const bids = Array.from({ length: 30 }, (_, i) => [`${100 - i}.00`, '1.000'] as const);
    const view = ladder(bids, [], 16, decimals);
    expect(view.bids).toHaveLength(16);
    expect(view.bids.at(-1)!.total).toBe('16.000');
    expect(view.spread).toBeUndefined();
  });
});

describe('formatting', () => {
  it('converts decimal strings exactly', () => {
    expect(scaled('1.5', 3)).toBe(1500n);
    expect(scaled('-0.25', 2)).toBe(-25n);
    expect(unscaled(1500n, 3)).toBe('1.500');
    expect(unscaled(5n, 3)).toBe('0.005');
    expect(unscaled(-25n, 2)).toBe('-0.25');
    expect(unscaled(7n, 0)).toBe('7');
  });

  it('reads change24h as an absolute change for the percent', () => {
    expect(changePercent('110.00', '10.00')).toBeCloseTo(10);
    expect(changePercent('90.00', '-10.00')).toBeCloseTo(-10);
    expect(changePercent('0', '0')).toBeUndefined();
  });
});
