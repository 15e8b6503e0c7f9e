import type { LedgerSnapshot, Posting } from '../actors/ledger/index.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import type { BalanceMessage } from '../protocol/messages.ts';

/** What the publisher reads of the ledger once, at start: its balances and asset decimals. */
export interface LedgerSource {
  snapshot(): LedgerSnapshot;
}

interface Balance {
  available: bigint;
  locked: bigint;
  /** The net change of the batch being published (valid while `batch` is the current one). */
  netAvailable: bigint;
  netLocked: bigint;
  /** The publish() call that last touched this row (0: none). */
  batch: number;
}

/** A balance row a batch touched, in first-touch order. */
export interface TouchedBalance {
  readonly userId: string;
  readonly asset: string;
  readonly row: Balance;
}

/**
 * The publisher's committed balances per user (accounts starting with `@` are left out), moved
 * by the postings of published batches only, and the decimals their `balance` pushes read in.
 */
export class PublishedBalances {
  readonly #balances = new Map<string, Map<string, Balance>>();
  readonly #decimals = new Map<string, number>();
  #assetDecimals: (asset: string) => number | undefined = () => undefined;

  /** Replaces the balances with the ledger's (see MarketDataPublisher.addLedger). */
  load(ledger: LedgerSource, assetDecimals?: (asset: string) => number | undefined): void {
    const snapshot = ledger.snapshot();
    if (assetDecimals !== undefined) this.#assetDecimals = assetDecimals;
    for (const { symbol, decimals } of snapshot.assets) this.#decimals.set(symbol, decimals);
    this.#balances.clear();
    for (const { account, balances } of snapshot.accounts) {
      if (account.startsWith('@')) continue;
      const rows = new Map<string, Balance>();
      for (const { asset, available, locked } of balances) {
        rows.set(asset, balanceRow(BigInt(available), BigInt(locked)));
      }
      this.#balances.set(account, rows);
    }
  }

  /** The decimals of an asset a market names. */
  setDecimals(asset: string, decimals: number): void {
    this.#decimals.set(asset, decimals);
  }

  /** Applies committed postings to the balances and notes the batch's net change on each row touched. */
  post(postings: readonly Posting[], touched: TouchedBalance[], batch: number): void {
    for (let i = 0; i < postings.length; i++) {
      const { account, asset, bucket, amount } = postings[i]!;
      if (account.startsWith('@')) continue;
      let rows = this.#balances.get(account);
      if (rows === undefined) this.#balances.set(account, (rows = new Map<string, Balance>()));
      let row = rows.get(asset);
      if (row === undefined) rows.set(asset, (row = balanceRow(0n, 0n)));
      if (row.batch !== batch) {
        row.batch = batch;
        row.netAvailable = 0n;
        row.netLocked = 0n;
        touched.push({ userId: account, asset, row });
      }
      if (bucket === 'available') {
        row.available += amount;
        row.netAvailable += amount;
      } else {
        row.locked += amount;
        row.netLocked += amount;
      }
    }
  }

  /** The user's `balance` push for an asset; undefined without a row or known decimals. */
  message(userId: string, asset: string): BalanceMessage | undefined {
    const row = this.#balances.get(userId)?.get(asset);
    const decimals = this.#decimals.get(asset) ?? this.#assetDecimals(asset);
    if (row === undefined || decimals === undefined) return undefined;
    return {
      op: 'balance',
      asset,
      available: formatUnits(row.available, decimals),
      locked: formatUnits(row.locked, decimals),
    };
  }

  /** The user's `balance` pushes, one per asset they have a row for. */
  messages(userId: string): BalanceMessage[] {
    const rows = this.#balances.get(userId);
    if (rows === undefined) return [];
    const out: BalanceMessage[] = [];
    for (const asset of rows.keys()) {
      const message = this.message(userId, asset);
      if (message !== undefined) out.push(message);
    }
    return out;
  }
}

function balanceRow(available: bigint, locked: bigint): Balance {
  return { available, locked, netAvailable: 0n, netLocked: 0n, batch: 0 };
}
