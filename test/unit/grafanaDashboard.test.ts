import { readFileSync } from 'node:fs';
import { register } from 'prom-client';
import { describe, expect, it } from 'vitest';
import '../../src/transport/http/metrics.ts';
import '../../src/persistence/metrics.ts';
import '../../src/jobs/metrics.ts';
import { checkMetricNames, parseExposition } from '../support/metrics.ts';

/*
 * docs/grafana/exchange-dashboard.json (issue 12 §5): a Grafana 10 dashboard on a Prometheus
 * datasource variable whose every query names metrics the exchange exports, with a panel for each
 * of the exchange's own figures. The registry is the one GET /metrics serves.
 */

interface Target {
  readonly expr: string;
  readonly refId: string;
  readonly datasource: { readonly type: string; readonly uid: string };
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly gridPos: { readonly h: number; readonly w: number; readonly x: number; readonly y: number };
  readonly targets?: readonly Target[];
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly templating: { readonly list: readonly Record<string, unknown>[] };
  readonly panels: readonly Panel[];
}

const dashboard = JSON.parse(
  readFileSync(new URL('../../docs/grafana/exchange-dashboard.json', import.meta.url), 'utf8'),
) as Dashboard;
const queried = dashboard.panels.flatMap((p) => p.targets ?? []);

/** Metric names a PromQL expression reads (our own prefixes; functions and labels are not). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:exchange|process|nodejs)_[a-zA-Z0-9_:]*)/g)].map((m) => m[1]!);
}

describe('finding 5.4: the Grafana dashboard', () => {
  it('is a Grafana 10 dashboard on a Prometheus datasource variable', () => {
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36); // Grafana 9.0 and later; 10.x writes 37-39
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const ids = new Set<number>();
    for (const panel of dashboard.panels) {
      expect(ids.has(panel.id), `panel id ${panel.id} twice`).toBe(false);
      ids.add(panel.id);
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      if (panel.type === 'row') continue;
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(target.expr).not.toBe('');
      }
    }
    // Panels do not overlap.
    const cells = new Set<string>();
    for (const { gridPos: g, title } of dashboard.panels) {
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });

  it('queries only metrics the exchange exports, and shows every figure of its own', async () => {
    const exported = parseExposition(await register.metrics());
    const series = new Set<string>();
    for (const metric of exported.values()) {
      series.add(metric.name);
      if (metric.type === 'histogram')
        for (const s of ['_bucket', '_sum', '_count']) series.add(metric.name + s);
    }
    const used = new Set(queried.flatMap((t) => metricNames(t.expr)));
    expect([...used].filter((name) => !series.has(name))).toEqual([]);
    const ours = [...exported.keys()].filter((name) => name.startsWith('exchange_'));
    const shown = (name: string) => [...used].some((u) => u === name || u.startsWith(`${name}_`));
    expect(ours.filter((name) => !shown(name))).toEqual([]);
    expect(ours.length).toBeGreaterThanOrEqual(20);
  });

  it('finding 5.4: the registry names follow Prometheus conventions (what promtool check metrics checks)', async () => {
    const exported = parseExposition(await register.metrics());
    expect(checkMetricNames(exported)).toEqual([]);
    expect(exported.has('exchange_projection_lag_seconds')).toBe(true);
    expect(exported.has('exchange_projection_lag_ms')).toBe(false);
  });
});
