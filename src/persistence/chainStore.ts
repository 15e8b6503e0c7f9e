import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';

/*
 * The chain tables (migration 1763800000140_chain_custody.sql): custodial deposit addresses, the
 * sync cursor and the Transfer logs it read. Amounts travel as text (numeric would be parsed to a
 * float); addresses are stored checksummed as the chain client gives them.
 */

export interface CustodyRow {
  readonly userId: string;
  readonly index: number;
  readonly address: string;
}

export interface TransferRow {
  readonly txHash: string;
  readonly logIndex: number;
  readonly blockNumber: number;
  readonly blockHash: string;
  readonly token: string;
  readonly from: string;
  readonly to: string;
  readonly amount: bigint;
  /** The user whose deposit address received it from outside (a deposit); undefined otherwise. */
  readonly depositUser: string | undefined;
}

export interface SyncCursor {
  readonly nextBlock: number;
  readonly headBlock: number;
}

const Custody = z.object({ user_id: z.string(), address_index: z.number(), address: z.string() });
const Cursor = z.object({ next_block: z.string(), head_block: z.string() });
const Transfer = z.object({
  tx_hash: z.string(),
  log_index: z.number(),
  block_number: z.string(),
  block_hash: z.string(),
  token: z.string(),
  from_address: z.string(),
  to_address: z.string(),
  amount: z.string(),
  deposit_user: z.string().nullable(),
});
const TRANSFER_COLUMNS = sql.fragment`tx_hash, log_index, block_number::text, block_hash, token, from_address,
  to_address, amount::text, deposit_user`;

const custodyOf = (r: z.infer<typeof Custody>): CustodyRow => ({
  userId: r.user_id,
  index: r.address_index,
  address: r.address,
});

const transferOf = (r: z.infer<typeof Transfer>): TransferRow => ({
  txHash: r.tx_hash,
  logIndex: r.log_index,
  blockNumber: Number(r.block_number),
  blockHash: r.block_hash,
  token: r.token,
  from: r.from_address,
  to: r.to_address,
  amount: BigInt(r.amount),
  depositUser: r.deposit_user ?? undefined,
});

export interface RecordedPayout {
  readonly txHash: string;
  readonly raw: string;
  readonly from: string;
  readonly nonce: number;
}

const Payout = z.object({
  tx_hash: z.string(),
  raw_tx: z.string(),
  from_address: z.string(),
  nonce: z.string(),
});

export class ChainStore {
  constructor(
    private readonly pool: DatabasePool,
    private readonly chainId: number,
  ) {}

  async custody(userId: string): Promise<CustodyRow | undefined> {
    const row = await this.pool.maybeOne(sql.type(Custody)`
      SELECT user_id, address_index, address FROM custody_addresses WHERE user_id = ${userId}`);
    return row === null ? undefined : custodyOf(row);
  }

  /**
   * The user's address, assigning the next index on first use. Two concurrent first calls both
   * take an index; the insert of the second does nothing and it answers the first's row (the
   * sequence skips one index, which derives an address nobody is shown).
   */
  async allocateCustody(userId: string, derive: (index: number) => string): Promise<CustodyRow> {
    const existing = await this.custody(userId);
    if (existing !== undefined) return existing;
    const { n } = await this.pool.one(
      sql.type(z.object({ n: z.number() }))`SELECT nextval('custody_address_index')::int AS n`,
    );
    await this.pool.query(sql.unsafe`
      INSERT INTO custody_addresses (user_id, address_index, address) VALUES (${userId}, ${n}, ${derive(n)})
      ON CONFLICT (user_id) DO NOTHING`);
    const row = await this.custody(userId);
    if (row === undefined) throw new Error(`custody address of ${userId} vanished`);
    return row;
  }

  async custodyAddresses(): Promise<CustodyRow[]> {
    const rows = await this.pool.any(sql.type(Custody)`
      SELECT user_id, address_index, address FROM custody_addresses ORDER BY address_index`);
    return rows.map(custodyOf);
  }

  async cursor(): Promise<SyncCursor | undefined> {
    const row = await this.pool.maybeOne(sql.type(Cursor)`
      SELECT next_block::text, head_block::text FROM chain_sync_cursors WHERE chain_id = ${this.chainId}`);
    return row === null
      ? undefined
      : { nextBlock: Number(row.next_block), headBlock: Number(row.head_block) };
  }

  /**
   * One page of the sync, in one transaction: the logs read in blocks `from`..`to` replace the
   * pending ones recorded there (a pending log not read again was reorganised away: orphaned),
   * those at or below `finalBlock` become final, and the cursor moves to `finalBlock + 1`.
   */
  async recordPage(page: {
    readonly from: number;
    readonly to: number;
    readonly finalBlock: number;
    readonly head: number;
    readonly logs: readonly TransferRow[];
  }): Promise<{ orphaned: number }> {
    const { chainId } = this;
    return this.pool.transaction(async (tx) => {
      const orphaned = await tx.query(sql.unsafe`
        UPDATE blockchain_events SET status = 'orphaned'
        WHERE chain_id = ${chainId} AND status = 'pending' AND block_number BETWEEN ${page.from} AND ${page.to}
          AND (tx_hash, log_index, block_hash) NOT IN (
            SELECT * FROM unnest(${sql.array(
              page.logs.map((l) => l.txHash),
              'text',
            )}::text[], ${sql.array(
              page.logs.map((l) => l.logIndex),
              'int4',
            )}::int4[], ${sql.array(
              page.logs.map((l) => l.blockHash),
              'text',
            )}::text[]))`);
      for (const log of page.logs) {
        const status = log.blockNumber <= page.finalBlock ? 'final' : 'pending';
        // A final row never changes again: the page that finalised it read it at that depth.
        await tx.query(sql.unsafe`
          INSERT INTO blockchain_events (chain_id, tx_hash, log_index, block_number, block_hash, token,
                                         from_address, to_address, amount, status, deposit_user)
          VALUES (${chainId}, ${log.txHash}, ${log.logIndex}, ${log.blockNumber}, ${log.blockHash}, ${log.token},
                  ${log.from}, ${log.to}, ${log.amount.toString()}::numeric, ${status}, ${log.depositUser ?? null})
          ON CONFLICT (chain_id, tx_hash, log_index) DO UPDATE
            SET block_number = excluded.block_number, block_hash = excluded.block_hash, status = excluded.status,
                deposit_user = excluded.deposit_user, seen_at = now()
            WHERE blockchain_events.status <> 'final'`);
      }
      await tx.query(sql.unsafe`
        INSERT INTO chain_sync_cursors (chain_id, next_block, head_block) VALUES (${chainId}, ${page.finalBlock + 1}, ${page.head})
        ON CONFLICT (chain_id) DO UPDATE SET next_block = excluded.next_block, head_block = excluded.head_block,
          updated_at = now()`);
      return { orphaned: orphaned.rowCount };
    });
  }

  /** Final deposits not credited yet (credited after the page's commit: a crash leaves them here). */
  async uncreditedDeposits(limit: number): Promise<TransferRow[]> {
    const rows = await this.pool.any(sql.type(Transfer)`
      SELECT ${TRANSFER_COLUMNS} FROM blockchain_events
      WHERE chain_id = ${this.chainId} AND status = 'final' AND deposit_user IS NOT NULL AND deposit_id IS NULL
      ORDER BY block_number, log_index LIMIT ${limit}`);
    return rows.map(transferOf);
  }

  async markCredited(txHash: string, logIndex: number, depositId: string): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE blockchain_events SET deposit_id = ${depositId}::uuid
      WHERE chain_id = ${this.chainId} AND tx_hash = ${txHash} AND log_index = ${logIndex}`);
  }

  async payout(reference: string): Promise<RecordedPayout | undefined> {
    const row = await this.pool.maybeOne(sql.type(Payout)`
      SELECT tx_hash, raw_tx, from_address, nonce::text FROM chain_payouts WHERE reference = ${reference}`);
    return row === null
      ? undefined
      : { txHash: row.tx_hash, raw: row.raw_tx, from: row.from_address, nonce: Number(row.nonce) };
  }

  /**
   * The payout's signed transaction, before its broadcast: the first for the reference, or the one
   * replacing `replacing` (a recorded transaction that can never be mined). Compare and set: throws
   * when another record got there first, so nothing is broadcast beside it.
   */
  async recordPayout(reference: string, tx: RecordedPayout, replacing: string | undefined): Promise<void> {
    const written =
      replacing === undefined
        ? await this.pool.query(sql.unsafe`
            INSERT INTO chain_payouts (reference, tx_hash, raw_tx, from_address, nonce)
            VALUES (${reference}, ${tx.txHash}, ${tx.raw}, ${tx.from}, ${tx.nonce})
            ON CONFLICT (reference) DO NOTHING`)
        : await this.pool.query(sql.unsafe`
            UPDATE chain_payouts SET tx_hash = ${tx.txHash}, raw_tx = ${tx.raw}, from_address = ${tx.from},
              nonce = ${tx.nonce}, updated_at = now()
            WHERE reference = ${reference} AND tx_hash = ${replacing}`);
    if (written.rowCount !== 1) throw new Error(`payout ${reference} was recorded by another run`);
  }

  /** Recorded logs of a transaction (tests, operators). */
  async transfers(txHash: string): Promise<(TransferRow & { status: string; depositId: string | null })[]> {
    const rows = await this.pool.any(sql.type(
      Transfer.extend({ status: z.string(), deposit_id: z.string().nullable() }),
    )`
      SELECT ${TRANSFER_COLUMNS}, status, deposit_id::text FROM blockchain_events
      WHERE chain_id = ${this.chainId} AND tx_hash = ${txHash} ORDER BY log_index`);
    return rows.map((r) => ({ ...transferOf(r), status: r.status, depositId: r.deposit_id }));
  }
}
