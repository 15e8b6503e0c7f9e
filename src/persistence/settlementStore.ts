import { sql, type CommonQueryMethods, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';

/*
 * The settlement and mint tables (migration 1763800000210_chain_settlement.sql): the exchange's
 * contracts per chain, settlement rounds with their netted deltas and trades, and mints. Amounts
 * travel as text (numeric would be parsed to a float).
 */

export type RoundStatus = 'pending' | 'submitted' | 'settled' | 'failed';

export interface NewRound {
  readonly firstGlobalSeq: number;
  readonly lastGlobalSeq: number;
  /** Net ledger change per asset and account (zero entries left out). */
  readonly deltas: readonly { readonly asset: string; readonly account: string; readonly amount: bigint }[];
  readonly trades: readonly { readonly tradeId: string; readonly marketId: string; readonly ts: number }[];
}

export interface RecordedTx {
  readonly txHash: string;
  readonly raw: string;
  readonly from: string;
  readonly nonce: number;
}

export interface RoundRow {
  readonly id: number;
  readonly status: RoundStatus;
  readonly trades: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly tx: RecordedTx | undefined;
  readonly error: string | undefined;
}

export interface Delta {
  readonly asset: string;
  readonly account: string;
  readonly amount: bigint;
}

export interface SettlementOfTrade {
  readonly status: RoundStatus;
  readonly txHash: string | undefined;
}

export interface ListedSettlement {
  readonly tradeId: string;
  readonly marketId: string;
  readonly roundId: number;
  readonly status: RoundStatus;
  readonly txHash: string | undefined;
  readonly attempts: number;
  readonly error: string | undefined;
  readonly ts: number;
}

const Round = z.object({
  id: z.string(),
  status: z.enum(['pending', 'submitted', 'settled', 'failed']),
  trades: z.number(),
  attempts: z.number(),
  next_attempt_at: z.string(),
  tx_hash: z.string().nullable(),
  raw_tx: z.string().nullable(),
  from_address: z.string().nullable(),
  nonce: z.string().nullable(),
  error: z.string().nullable(),
});
const ROUND_COLUMNS = sql.fragment`id::text, status, trades, attempts,
  (extract(epoch FROM next_attempt_at) * 1000)::int8::text AS next_attempt_at, tx_hash, raw_tx,
  from_address, nonce::text, error`;

function roundOf(r: z.infer<typeof Round>): RoundRow {
  return {
    id: Number(r.id),
    status: r.status,
    trades: r.trades,
    attempts: r.attempts,
    nextAttemptAt: Number(r.next_attempt_at),
    tx:
      r.tx_hash === null || r.raw_tx === null || r.from_address === null || r.nonce === null
        ? undefined
        : { txHash: r.tx_hash, raw: r.raw_tx, from: r.from_address, nonce: Number(r.nonce) },
    error: r.error ?? undefined,
  };
}

const DeltaRow = z.object({ asset: z.string(), account: z.string(), amount: z.string() });
const Contract = z.object({ tx_hash: z.string(), address: z.string().nullable() });
const TradeStatus = z.object({
  trade_id: z.string(),
  status: z.enum(['pending', 'submitted', 'settled', 'failed']),
  tx_hash: z.string().nullable(),
});
const Listed = z.object({
  trade_id: z.string(),
  market_id: z.string(),
  round_id: z.string(),
  status: z.enum(['pending', 'submitted', 'settled', 'failed']),
  tx_hash: z.string().nullable(),
  attempts: z.number(),
  error: z.string().nullable(),
  ts: z.string(),
});

export class SettlementStore {
  constructor(
    private readonly pool: DatabasePool,
    private readonly chainId: number,
  ) {}

  // --- the exchange's contracts ------------------------------------------------------------

  async contract(name: string): Promise<{ txHash: string; address: string | undefined } | undefined> {
    const row = await this.pool.maybeOne(sql.type(Contract)`
      SELECT tx_hash, address FROM chain_contracts WHERE chain_id = ${this.chainId} AND name = ${name}`);
    return row === null ? undefined : { txHash: row.tx_hash, address: row.address ?? undefined };
  }

  /** The deployment's hash, before its broadcast (replacing one that never mined). */
  async recordContractTx(name: string, txHash: string): Promise<void> {
    await this.pool.query(sql.unsafe`
      INSERT INTO chain_contracts (chain_id, name, tx_hash) VALUES (${this.chainId}, ${name}, ${txHash})
      ON CONFLICT (chain_id, name) DO UPDATE SET tx_hash = EXCLUDED.tx_hash, address = NULL, updated_at = now()`);
  }

  async recordContractAddress(name: string, txHash: string, address: string): Promise<void> {
    await this.pool.query(sql.unsafe`
      INSERT INTO chain_contracts (chain_id, name, tx_hash, address)
      VALUES (${this.chainId}, ${name}, ${txHash}, ${address})
      ON CONFLICT (chain_id, name) DO UPDATE SET tx_hash = EXCLUDED.tx_hash, address = EXCLUDED.address,
        updated_at = now()`);
  }

  // --- rounds ------------------------------------------------------------------------------

  /** Inserts a round with its deltas and trades in the consumer's transaction; answers its id. */
  async insertRound(tx: DatabaseTransactionConnection, round: NewRound): Promise<number> {
    const id = Number(
      await tx.oneFirst(sql.type(z.object({ id: z.string() }))`
        INSERT INTO settlement_rounds (chain_id, status, trades, first_global_seq, last_global_seq)
        VALUES (${this.chainId}, 'pending', ${round.trades.length}, ${round.firstGlobalSeq},
          ${round.lastGlobalSeq})
        RETURNING id::text AS id`),
    );
    if (round.deltas.length > 0)
      await tx.query(sql.unsafe`
        INSERT INTO settlement_deltas (round_id, asset, account, amount)
        SELECT ${id}, * FROM unnest(
          ${sql.array(
            round.deltas.map((d) => d.asset),
            'text',
          )},
          ${sql.array(
            round.deltas.map((d) => d.account),
            'text',
          )},
          ${sql.array(
            round.deltas.map((d) => d.amount.toString()),
            'numeric',
          )})`);
    if (round.trades.length > 0)
      await tx.query(sql.unsafe`
        INSERT INTO trade_settlements (trade_id, market_id, round_id, ts)
        SELECT t.trade_id, t.market_id, ${id}, t.ts FROM unnest(
          ${sql.array(
            round.trades.map((t) => t.tradeId),
            'text',
          )},
          ${sql.array(
            round.trades.map((t) => t.marketId),
            'text',
          )},
          ${sql.array(
            round.trades.map((t) => String(t.ts)),
            'int8',
          )}) AS t (trade_id, market_id, ts)
        ON CONFLICT (trade_id) DO NOTHING`);
    return id;
  }

  /** Open rounds (pending or submitted), oldest first. */
  async openRounds(limit: number): Promise<RoundRow[]> {
    const rows = await this.pool.any(sql.type(Round)`
      SELECT ${ROUND_COLUMNS} FROM settlement_rounds
      WHERE chain_id = ${this.chainId} AND status IN ('pending', 'submitted')
      ORDER BY id LIMIT ${limit}`);
    return rows.map(roundOf);
  }

  async round(id: number): Promise<RoundRow | undefined> {
    const row = await this.pool.maybeOne(sql.type(Round)`
      SELECT ${ROUND_COLUMNS} FROM settlement_rounds WHERE id = ${id}`);
    return row === null ? undefined : roundOf(row);
  }

  async deltas(roundId: number): Promise<Delta[]> {
    const rows = await this.pool.any(sql.type(DeltaRow)`
      SELECT asset, account, amount::text FROM settlement_deltas WHERE round_id = ${roundId}
      ORDER BY asset, account`);
    return rows.map((r) => ({ asset: r.asset, account: r.account, amount: BigInt(r.amount) }));
  }

  /** Net deltas of every round not settled on chain (pending, submitted, failed): per asset and account. */
  async unsettledDeltas(): Promise<Delta[]> {
    const rows = await this.pool.any(sql.type(DeltaRow)`
      SELECT d.asset, d.account, sum(d.amount)::text AS amount
      FROM settlement_deltas d JOIN settlement_rounds r ON r.id = d.round_id
      WHERE r.chain_id = ${this.chainId} AND r.status <> 'settled'
      GROUP BY d.asset, d.account`);
    return rows.map((r) => ({ asset: r.asset, account: r.account, amount: BigInt(r.amount) }));
  }

  /**
   * Records the round's signed transaction before its broadcast (compare-and-set: the round is
   * pending and holds no transaction, or exactly `replacing`, a dropped one); the round is then
   * `submitted`. Throws when another runner recorded one first.
   */
  async recordRoundTx(
    id: number,
    tx: RecordedTx,
    replacing: string | undefined,
    legs: number,
  ): Promise<void> {
    const replaced =
      replacing === undefined ? sql.fragment`tx_hash IS NULL` : sql.fragment`tx_hash = ${replacing}`;
    const updated = await this.pool.query(sql.unsafe`
      UPDATE settlement_rounds SET status = 'submitted', tx_hash = ${tx.txHash}, raw_tx = ${tx.raw},
        from_address = ${tx.from}, nonce = ${tx.nonce}, legs = ${legs}
      WHERE id = ${id} AND status = 'pending' AND ${replaced}`);
    if (updated.rowCount !== 1) throw new Error(`settlement round ${id} was recorded by another runner`);
  }

  /** A submitted round's transaction will never mine (its nonce went elsewhere): sign anew. */
  async reopen(id: number): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE settlement_rounds SET status = 'pending' WHERE id = ${id} AND status = 'submitted'`);
  }

  async settled(id: number, fields: { txHash?: string; gasUsed?: bigint; legs?: number }): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE settlement_rounds SET status = 'settled', settled_at = now(),
        legs = COALESCE(${fields.legs ?? null}, legs),
        tx_hash = COALESCE(${fields.txHash ?? null}, tx_hash),
        gas_used = ${fields.gasUsed === undefined ? null : fields.gasUsed.toString()}, error = NULL
      WHERE id = ${id} AND status IN ('pending', 'submitted')`);
  }

  /** One refused attempt: back to pending after `backoffMs`, or failed when it was the last. */
  async refused(id: number, error: string, final: boolean, backoffMs: number): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE settlement_rounds SET attempts = attempts + 1, error = ${error.slice(0, 500)},
        status = ${final ? 'failed' : 'pending'},
        next_attempt_at = now() + make_interval(secs => ${backoffMs / 1000})
      WHERE id = ${id} AND status IN ('pending', 'submitted')`);
  }

  /** The settlement of each trade id that has a round. */
  async ofTrades(
    db: Pick<CommonQueryMethods, 'any'>,
    tradeIds: readonly string[],
  ): Promise<Map<string, SettlementOfTrade>> {
    if (tradeIds.length === 0) return new Map();
    const rows = await db.any(sql.type(TradeStatus)`
      SELECT t.trade_id, r.status, r.tx_hash FROM trade_settlements t JOIN settlement_rounds r ON r.id = t.round_id
      WHERE t.trade_id = ANY(${sql.array(tradeIds, 'text')})`);
    return new Map(rows.map((r) => [r.trade_id, { status: r.status, txHash: r.tx_hash ?? undefined }]));
  }

  /** Trades whose round has `status`, oldest first after `afterTradeId`'s round (operators' list). */
  async listTrades(status: RoundStatus, limit: number, after?: { roundId: number; tradeId: string }) {
    const from =
      after === undefined
        ? sql.fragment`TRUE`
        : sql.fragment`(t.round_id, t.trade_id) > (${after.roundId}, ${after.tradeId})`;
    const rows = await this.pool.any(sql.type(Listed)`
      SELECT t.trade_id, t.market_id, t.round_id::text, r.status, r.tx_hash, r.attempts, r.error, t.ts::text
      FROM trade_settlements t JOIN settlement_rounds r ON r.id = t.round_id
      WHERE r.chain_id = ${this.chainId} AND r.status = ${status} AND ${from}
      ORDER BY t.round_id, t.trade_id LIMIT ${limit}`);
    return rows.map((r): ListedSettlement => ({
      tradeId: r.trade_id,
      marketId: r.market_id,
      roundId: Number(r.round_id),
      status: r.status,
      txHash: r.tx_hash ?? undefined,
      attempts: r.attempts,
      error: r.error ?? undefined,
      ts: Number(r.ts),
    }));
  }

  /** Per trade: its ts and its round's settled_at (ms), for rounds settled in [fromMs, ∞) (bench). */
  async lags(fromTs: number): Promise<{ ts: number; settledAt: number }[]> {
    const rows = await this.pool.any(sql.type(z.object({ ts: z.string(), settled_at: z.string() }))`
      SELECT t.ts::text, (extract(epoch FROM r.settled_at) * 1000)::int8::text AS settled_at
      FROM trade_settlements t JOIN settlement_rounds r ON r.id = t.round_id
      WHERE r.status = 'settled' AND t.ts >= ${fromTs}`);
    return rows.map((r) => ({ ts: Number(r.ts), settledAt: Number(r.settled_at) }));
  }

  // --- mints -------------------------------------------------------------------------------

  async insertMint(mint: Omit<MintRow, 'status' | 'tx' | 'error'>): Promise<void> {
    await this.pool.query(sql.unsafe`
      INSERT INTO chain_mints (id, market_id, user_id, asset, amount, requested_by, status)
      VALUES (${mint.id}, ${mint.marketId}, ${mint.userId}, ${mint.asset}, ${mint.amount.toString()},
        ${mint.requestedBy}, 'pending')`);
  }

  async mint(id: string): Promise<MintRow | undefined> {
    const row = await this.pool.maybeOne(sql.type(Mint)`
      SELECT id::text, market_id, user_id, asset, amount::text, requested_by, status, tx_hash, raw_tx,
        from_address, nonce::text, error
      FROM chain_mints WHERE id = ${id}`);
    return row === null ? undefined : mintOf(row);
  }

  /** The mint's signed transaction, before its broadcast (compare-and-set as rounds do). */
  async recordMintTx(id: string, tx: RecordedTx, replacing: string | undefined): Promise<void> {
    const replaced =
      replacing === undefined ? sql.fragment`tx_hash IS NULL` : sql.fragment`tx_hash = ${replacing}`;
    const updated = await this.pool.query(sql.unsafe`
      UPDATE chain_mints SET status = 'submitted', tx_hash = ${tx.txHash}, raw_tx = ${tx.raw},
        from_address = ${tx.from}, nonce = ${tx.nonce}, updated_at = now()
      WHERE id = ${id} AND status IN ('pending', 'submitted') AND ${replaced}`);
    if (updated.rowCount !== 1) throw new Error(`mint ${id} was recorded by another runner`);
  }

  /** Mints not credited or failed yet (resumed at start). */
  async openMints(limit: number): Promise<string[]> {
    const rows = await this.pool.any(sql.type(z.object({ id: z.string() }))`
      SELECT id::text FROM chain_mints WHERE status IN ('pending', 'submitted') ORDER BY created_at LIMIT ${limit}`);
    return rows.map((r) => r.id);
  }

  async mintDone(id: string, status: 'credited' | 'failed', error?: string): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE chain_mints SET status = ${status}, error = ${error?.slice(0, 500) ?? null}, updated_at = now()
      WHERE id = ${id} AND status IN ('pending', 'submitted')`);
  }
}

export type MintStatus = 'pending' | 'submitted' | 'credited' | 'failed';

export interface MintRow {
  readonly id: string;
  readonly marketId: string;
  /** The issuer: receives the tokens and the credit. */
  readonly userId: string;
  readonly asset: string;
  readonly amount: bigint;
  readonly requestedBy: string;
  readonly status: MintStatus;
  readonly tx: RecordedTx | undefined;
  readonly error: string | undefined;
}

const Mint = z.object({
  id: z.string(),
  market_id: z.string(),
  user_id: z.string(),
  asset: z.string(),
  amount: z.string(),
  requested_by: z.string(),
  status: z.enum(['pending', 'submitted', 'credited', 'failed']),
  tx_hash: z.string().nullable(),
  raw_tx: z.string().nullable(),
  from_address: z.string().nullable(),
  nonce: z.string().nullable(),
  error: z.string().nullable(),
});

function mintOf(r: z.infer<typeof Mint>): MintRow {
  return {
    id: r.id,
    marketId: r.market_id,
    userId: r.user_id,
    asset: r.asset,
    amount: BigInt(r.amount),
    requestedBy: r.requested_by,
    status: r.status,
    tx:
      r.tx_hash === null || r.raw_tx === null || r.from_address === null || r.nonce === null
        ? undefined
        : { txHash: r.tx_hash, raw: r.raw_tx, from: r.from_address, nonce: Number(r.nonce) },
    error: r.error ?? undefined,
  };
}
