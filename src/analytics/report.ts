/*
 * A back-test's downloadable report (issue 18, Reports): one self-contained HTML page with the
 * equity curve and the drawdown as inline SVG, the metrics table and the trades; and CSV exports
 * of the trades and of the equity curve. Pure functions of the stored result. Curves past
 * MAX_POINTS are drawn from every k-th point (the last always kept); the CSVs hold every row.
 */

export interface ReportInput {
  readonly id: string;
  readonly config: unknown;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly performance: Readonly<Record<string, number | null>>;
  readonly trades: readonly { t: number; side: string; price: string; qty: string; fee: string }[];
  readonly equity: readonly { t: number; equity: string }[];
}

const MAX_POINTS = 1_000;
const MAX_TRADE_ROWS = 1_000;
const WIDTH = 800;
const HEIGHT = 220;

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function sampled<T>(items: readonly T[]): T[] {
  if (items.length <= MAX_POINTS) return [...items];
  const step = Math.ceil(items.length / MAX_POINTS);
  const picked = items.filter((_, i) => i % step === 0);
  if (picked.at(-1) !== items.at(-1)) picked.push(items.at(-1)!);
  return picked;
}

/** A polyline of values (doubles: drawing only) scaled into the chart box. */
function chart(title: string, values: readonly number[], color: string, fill = false): string {
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const x = (i: number) => ((i / Math.max(1, values.length - 1)) * WIDTH).toFixed(1);
  const y = (v: number) => (HEIGHT - ((v - min) / span) * HEIGHT).toFixed(1);
  const points = values.map((v, i) => `${x(i)},${y(v)}`).join(' ');
  const area = fill
    ? `<polygon points="0,${y(max)} ${points} ${WIDTH},${y(max)}" fill="${color}" opacity="0.25"/>`
    : '';
  return `<figure><figcaption>${escapeHtml(title)} (min ${min.toPrecision(6)}, max ${max.toPrecision(6)})</figcaption>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img">
${area}<polyline points="${points}" fill="none" stroke="${color}" stroke-width="1.5"/></svg></figure>`;
}

export function renderReport(input: ReportInput): string {
  const curve = sampled(input.equity).map((p) => Number(p.equity));
  let peak = Number.NEGATIVE_INFINITY;
  const drawdown = curve.map((e) => {
    peak = Math.max(peak, e);
    return peak > 0 ? -(1 - e / peak) : 0;
  });
  const metrics = Object.entries(input.performance)
    .map(
      ([name, value]) =>
        `<tr><th>${escapeHtml(name)}</th><td>${value === null ? '—' : String(value)}</td></tr>`,
    )
    .join('\n');
  const trades = input.trades
    .slice(0, MAX_TRADE_ROWS)
    .map(
      (t) =>
        `<tr><td>${new Date(t.t).toISOString()}</td><td>${escapeHtml(t.side)}</td><td>${escapeHtml(t.price)}</td><td>${escapeHtml(t.qty)}</td><td>${escapeHtml(t.fee)}</td></tr>`,
    )
    .join('\n');
  const more =
    input.trades.length > MAX_TRADE_ROWS
      ? `<p>${input.trades.length - MAX_TRADE_ROWS} more trades in the CSV export.</p>`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Back-test ${escapeHtml(input.id)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:${WIDTH + 40}px}table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}th{text-align:left}svg{background:#fafafa}</style></head>
<body><h1>Back-test ${escapeHtml(input.id)}</h1>
<pre>${escapeHtml(JSON.stringify({ params: input.params, config: withoutCandles(input.config) }, null, 1))}</pre>
${curve.length > 0 ? chart('Equity', curve, '#1f6feb') : '<p>No equity points.</p>'}
${drawdown.length > 0 ? chart('Drawdown', drawdown, '#d1242f', true) : ''}
<h2>Performance</h2><table>${metrics}</table>
<h2>Trades (${input.trades.length})</h2>
<table><tr><th>time</th><th>side</th><th>price</th><th>qty</th><th>fee</th></tr>
${trades}</table>${more}
</body></html>
`;
}

function withoutCandles(config: unknown): unknown {
  if (typeof config !== 'object' || config === null) return config;
  const copy = { ...(config as Record<string, unknown>) };
  if (Array.isArray(copy.candles)) copy.candles = `${copy.candles.length} candles`;
  return copy;
}

export function tradesCsv(trades: ReportInput['trades']): string {
  return (
    ['t,side,price,qty,fee', ...trades.map((t) => `${t.t},${t.side},${t.price},${t.qty},${t.fee}`)].join(
      '\n',
    ) + '\n'
  );
}

export function equityCsv(equity: ReportInput['equity']): string {
  return ['t,equity', ...equity.map((p) => `${p.t},${p.equity}`)].join('\n') + '\n';
}
