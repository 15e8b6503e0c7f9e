/*
 * Display formatting for decimal strings: exact arithmetic on scaled bigints where sums are shown
 * (cumulative book sizes), plain numbers only where the result is a ratio (bar widths, percents).
 * DOM-free, so unit tests import it.
 */

/** A plain non-negative or negative decimal string as an integer scaled by 10^scale (truncating). */
export function scaled(value: string, scale: number): bigint {
  const negative = value.startsWith('-');
  const digits = negative ? value.slice(1) : value;
  const dot = digits.indexOf('.');
  const int = dot < 0 ? digits : digits.slice(0, dot);
  const frac = (dot < 0 ? '' : digits.slice(dot + 1)).slice(0, scale).padEnd(scale, '0');
  const units = BigInt((int === '' ? '0' : int) + frac);
  return negative ? -units : units;
}

/** The decimal string of an integer scaled by 10^scale, with exactly `scale` decimals. */
export function unscaled(units: bigint, scale: number): string {
  const negative = units < 0n;
  const text = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const int = text.slice(0, text.length - scale);
  const frac = text.slice(text.length - scale);
  return `${negative ? '-' : ''}${int}${scale > 0 ? `.${frac}` : ''}`;
}

/** Decimals of a decimal string (`"1.250"` → 3). */
export function decimalsOf(value: string): number {
  const dot = value.indexOf('.');
  return dot < 0 ? 0 : value.length - dot - 1;
}

/**
 * The 24h change as a percent of the price 24h ago, reading `change24h` as the absolute change
 * in price (`last - open24h`); undefined when that price is unknown or zero.
 */
export function changePercent(last: string, change: string): number | undefined {
  const lastValue = Number(last);
  const changeValue = Number(change);
  const open = lastValue - changeValue;
  if (!Number.isFinite(open) || open <= 0 || !Number.isFinite(changeValue)) return undefined;
  return (changeValue / open) * 100;
}

export function formatPercent(percent: number | undefined): string {
  if (percent === undefined) return '—';
  const sign = percent > 0 ? '+' : '';
  return `${sign}${percent.toFixed(2)}%`;
}

/** `HH:MM:SS` in the viewer's time zone. */
export function formatTime(ts: number): string {
  const d = new Date(ts);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A count with thousands separators (`12,345`). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
