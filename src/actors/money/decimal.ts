/**
 * Plain decimal strings <-> exact integers, with no floating point: digits are read one character
 * at a time into integers that stay below 2^53, or into a bigint when they might not.
 *
 * Grammar (the only accepted form): `0|[1-9][0-9]*` optionally followed by `.` and one or more
 * digits. So "0.5", "1000", "1000.50" are accepted; "", ".5", "1.", "007", "00.5", "+1", "-1",
 * "1e5", " 1", "0x10", "NaN", "Infinity", "1,5" are not.
 */

const DOT = 46;
const ZERO = 48;
const NINE = 57;

export const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/** 10^k for k = 0..15, every one exact in a double. */
const POW10: readonly number[] = Array.from({ length: 16 }, (_, k) => 10 ** k);
/** Below 10^15 every integer built by the fast path is exact, with room to spare under 2^53. */
const FAST_DIGITS = 15;

export function pow10n(k: number): bigint {
  return 10n ** BigInt(k);
}

/** Where a syntactically valid decimal string splits; `intLen` counts the integer digits. */
export interface DecimalShape {
  readonly intLen: number;
  readonly fracLen: number;
  readonly isZero: boolean;
}

/** Checks the grammar in one pass; `undefined` when the string is not a plain decimal. */
export function scanDecimal(s: string): DecimalShape | undefined {
  const n = s.length;
  let dot = -1;
  let nonZero = false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT) {
      if (dot !== -1) return undefined;
      dot = i;
    } else if (c < ZERO || c > NINE) {
      return undefined;
    } else if (c !== ZERO) {
      nonZero = true;
    }
  }
  const intLen = dot === -1 ? n : dot;
  if (intLen === 0 || dot === n - 1) return undefined;
  if (intLen > 1 && s.charCodeAt(0) === ZERO) return undefined;
  return { intLen, fracLen: dot === -1 ? 0 : n - dot - 1, isZero: !nonZero };
}

/** The value × 10^decimals as a bigint; requires a scanned string with fracLen <= decimals. */
export function unitsBig(s: string, shape: DecimalShape, decimals: number): bigint {
  const digits = shape.fracLen === 0 ? s : s.slice(0, shape.intLen) + s.slice(shape.intLen + 1);
  return BigInt(digits) * pow10n(decimals - shape.fracLen);
}

/**
 * A decimal measured in whole steps of `stepUnits` (at `decimals` decimals): `steps` is the value
 * divided by the step rounded down, `exact` tells whether nothing was dropped. `steps` is -1 when
 * it would pass Number.MAX_SAFE_INTEGER.
 */
export interface Steps {
  readonly steps: number;
  readonly exact: boolean;
}

const TOO_BIG: Steps = Object.freeze({ steps: -1, exact: false });

export class StepScale {
  readonly decimals: number;
  readonly stepUnits: bigint;
  /** stepUnits as a number, or 0 when it is not a safe integer (then only the bigint path runs). */
  private readonly stepNum: number;
  /** More integer digits than this always means more than Number.MAX_SAFE_INTEGER steps. */
  private readonly maxIntLen: number;
  /** Largest |steps| whose units (steps × stepUnits) stay a safe integer. */
  private readonly fastFormatLimit: number;
  private readonly zeros: string;

  constructor(decimals: number, stepUnits: bigint) {
    this.decimals = decimals;
    this.stepUnits = stepUnits;
    this.stepNum = stepUnits <= MAX_SAFE_BIG ? Number(stepUnits) : 0;
    this.maxIntLen = String(((MAX_SAFE_BIG + 1n) * stepUnits) / pow10n(decimals)).length;
    this.fastFormatLimit = Number(MAX_SAFE_BIG / stepUnits);
    this.zeros = '0'.repeat(decimals + 1);
  }

  /** Requires a scanned string with fracLen <= decimals. */
  toSteps(s: string, shape: DecimalShape): Steps {
    const d = this.decimals;
    if (shape.intLen > this.maxIntLen) return TOO_BIG;
    if (this.stepNum !== 0 && shape.intLen + d <= FAST_DIGITS) {
      // Every intermediate is an integer below 10^15, so each operation is exact.
      let units = 0;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c !== DOT) units = units * 10 + (c - ZERO);
      }
      units *= POW10[d - shape.fracLen] ?? 1;
      const rem = units % this.stepNum;
      return { steps: (units - rem) / this.stepNum, exact: rem === 0 };
    }
    const units = unitsBig(s, shape, d);
    const steps = units / this.stepUnits;
    if (steps > MAX_SAFE_BIG) return TOO_BIG;
    return { steps: Number(steps), exact: units % this.stepUnits === 0n };
  }

  /** `steps` × step as a decimal string with exactly `decimals` decimals; steps must be a safe integer. */
  format(steps: number): string {
    if (!Number.isSafeInteger(steps)) {
      throw new RangeError(`cannot format ${String(steps)}: not a safe integer`);
    }
    const negative = steps < 0;
    const abs = negative ? -steps : steps;
    const digits =
      abs <= this.fastFormatLimit ? String(abs * this.stepNum) : String(BigInt(abs) * this.stepUnits);
    return (negative ? '-' : '') + placePoint(digits, this.decimals, this.zeros);
  }
}

/** Writes non-negative integer `digits` (units of 10^-decimals) with exactly `decimals` decimals. */
export function placePoint(digits: string, decimals: number, zeros = '0'.repeat(decimals + 1)): string {
  if (decimals === 0) return digits;
  const padded = digits.length > decimals ? digits : zeros.slice(digits.length) + digits;
  const cut = padded.length - decimals;
  return padded.slice(0, cut) + '.' + padded.slice(cut);
}

/** Formats a bigint count of 10^-decimals units, sign included. */
export function formatUnits(units: bigint, decimals: number): string {
  const negative = units < 0n;
  return (negative ? '-' : '') + placePoint(String(negative ? -units : units), decimals);
}

/** Why `s` fails the grammar, for the human message; only called on the failure path. */
export function explainNotDecimal(s: string): string {
  const t = s.trim();
  if (t !== s || /\s/.test(s)) return 'spaces are not allowed';
  if (s.startsWith('+') || s.startsWith('-')) return 'no sign is allowed';
  if (/^[0-9.]*[eE][+-]?[0-9]*$/.test(s)) return 'exponent notation is not allowed';
  if (/^0[xXoObB]/.test(s)) return 'only base-10 digits are allowed';
  if (/^[0-9.]+$/.test(s)) {
    if ((s.match(/\./g) ?? []).length > 1) return 'at most one decimal point is allowed';
    if (s.startsWith('.')) return 'a digit is required before the decimal point (write "0.5")';
    if (s.endsWith('.')) return 'a digit is required after the decimal point';
    return 'leading zeros are not allowed';
  }
  return 'only digits and one decimal point are allowed';
}
