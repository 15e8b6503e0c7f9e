import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { PageState } from './fold.ts';
import { pgArray } from './pgArray.ts';
import { RELATIONAL_PROJECTION } from './relational.ts';
import { statusOf } from '../../events/orders.ts';
import type { AuditRow, LifecycleRow, OrderState, TradeRow } from './rows.ts';

const Moved = z.object({ moved: z.number() });

/**
 * The page's one statement (data-modifying CTEs over unnest arrays): every table and the cursor,
 * only if the cursor is still at `from`. Resolves false, having changed nothing, when it was not.
 */
export async function writePage(
  pool: DatabasePool,
  state: PageState,
  from: number,
  last: number,
): Promise<boolean> {
  const created: OrderState[] = [];
  const changed: OrderState[] = [];
  for (const order of state.orders.values()) (order.isNew ? created : changed).push(order);
  const o = <T>(list: readonly OrderState[], f: (order: OrderState) => T) => list.map(f);
  const t = <T>(f: (trade: TradeRow) => T) => state.trades.map(f);
  const ps = state.postings;
  const l = <T>(f: (row: LifecycleRow) => T) => state.lifecycle.map(f);
  const a = <T>(f: (row: AuditRow) => T) => state.audit.map(f);
  const deltas = [...state.deltas.values()];
  const row = await pool.one(sql.type(Moved)`
      WITH cur AS (
        INSERT INTO projection_cursors (projection, global_seq) VALUES (${RELATIONAL_PROJECTION}, ${last})
        ON CONFLICT (projection) DO UPDATE SET global_seq = excluded.global_seq, updated_at = now()
        WHERE projection_cursors.global_seq = ${from}
        RETURNING 1
      ),
      new_orders AS (
        INSERT INTO orders (id, market_id, order_id, user_id, client_order_id, side, type, tif, price,
          stop_price, qty, filled_qty, remaining, status, created_global_seq, updated_global_seq,
          created_at, updated_at)
        SELECT u.* FROM unnest(
          ${pgArray(
            o(created, (x) => x.id),
            'text',
          )}, ${pgArray(
            o(created, (x) => x.marketId),
            'text',
          )},
          ${pgArray(
            o(created, (x) => x.orderId),
            'int8',
          )}, ${pgArray(
            o(created, (x) => x.userId),
            'text',
          )},
          ${pgArray(
            o(created, (x) => x.clientOrderId),
            'text',
          )}, ${pgArray(
            o(created, (x) => x.side),
            'text',
          )},
          ${pgArray(
            o(created, (x) => x.type),
            'text',
          )}, ${pgArray(
            o(created, (x) => x.tif),
            'text',
          )},
          ${pgArray(
            o(created, (x) => x.price),
            'int8',
          )}, ${pgArray(
            o(created, (x) => x.stopPrice),
            'int8',
          )},
          ${pgArray(
            o(created, (x) => x.qty),
            'int8',
          )},
          ${pgArray(
            o(created, (x) => x.qty - x.remaining),
            'int8',
          )},
          ${pgArray(
            o(created, (x) => x.remaining),
            'int8',
          )}, ${pgArray(o(created, statusOf), 'text')},
          ${pgArray(
            o(created, (x) => x.createdGlobalSeq),
            'int8',
          )},
          ${pgArray(
            o(created, (x) => x.updatedGlobalSeq),
            'int8',
          )},
          ${pgArray(
            o(created, (x) => x.createdAt),
            'timestamptz',
          )},
          ${pgArray(
            o(created, (x) => x.updatedAt),
            'timestamptz',
          )}
        ) AS u WHERE EXISTS (SELECT FROM cur)
      ),
      changed_orders AS (
        UPDATE orders SET price = u.price, stop_price = u.stop_price, qty = u.qty, filled_qty = u.qty - u.remaining,
          remaining = u.remaining, status = u.status, updated_global_seq = u.g, updated_at = u.at
        FROM unnest(
          ${pgArray(
            o(changed, (x) => x.id),
            'text',
          )}, ${pgArray(
            o(changed, (x) => x.price),
            'int8',
          )},
          ${pgArray(
            o(changed, (x) => x.stopPrice),
            'int8',
          )},
          ${pgArray(
            o(changed, (x) => x.qty),
            'int8',
          )}, ${pgArray(
            o(changed, (x) => x.remaining),
            'int8',
          )},
          ${pgArray(o(changed, statusOf), 'text')},
          ${pgArray(
            o(changed, (x) => x.updatedGlobalSeq),
            'int8',
          )},
          ${pgArray(
            o(changed, (x) => x.updatedAt),
            'timestamptz',
          )}
        ) AS u(id, price, stop_price, qty, remaining, status, g, at)
        WHERE orders.id = u.id AND EXISTS (SELECT FROM cur)
      ),
      new_trades AS (
        INSERT INTO trades (id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id,
          taker_side, price, qty, ts, global_seq)
        SELECT u.* FROM unnest(
          ${pgArray(
            t((x) => x.id),
            'text',
          )}, ${pgArray(
            t((x) => x.marketId),
            'text',
          )},
          ${pgArray(
            t((x) => x.makerOrderId),
            'text',
          )}, ${pgArray(
            t((x) => x.takerOrderId),
            'text',
          )},
          ${pgArray(
            t((x) => x.makerUserId),
            'text',
          )}, ${pgArray(
            t((x) => x.takerUserId),
            'text',
          )},
          ${pgArray(
            t((x) => x.takerSide),
            'text',
          )}, ${pgArray(
            t((x) => x.price),
            'int8',
          )},
          ${pgArray(
            t((x) => x.qty),
            'int8',
          )}, ${pgArray(
            t((x) => x.ts),
            'timestamptz',
          )},
          ${pgArray(
            t((x) => x.globalSeq),
            'int8',
          )}
        ) AS u WHERE EXISTS (SELECT FROM cur)
      ),
      -- Per journal record and account's asset, the sums of its postings (migration 1763800000201).
      new_postings AS (
        INSERT INTO ledger_postings (global_seq, account, asset, market_id, available, locked, postings, ts)
        SELECT u.* FROM unnest(
          ${pgArray(ps.globalSeq, 'int8')}, ${pgArray(ps.account, 'text')}, ${pgArray(ps.asset, 'text')},
          ${pgArray(ps.marketId, 'text')}, ${pgArray(
            ps.available.map((x) => x.toString()),
            'numeric',
          )},
          ${pgArray(
            ps.locked.map((x) => x.toString()),
            'numeric',
          )}, ${pgArray(ps.count, 'int4')}, ${pgArray(ps.ts, 'timestamptz')}
        ) AS u WHERE EXISTS (SELECT FROM cur)
      ),
      -- The final balance is computed here and proposed as the row, so a CHECK sees the page's
      -- result, never a (possibly negative) delta.
      new_balances AS (
        INSERT INTO balances (account, asset, available, locked)
        SELECT u.account, u.asset, coalesce(b.available, 0) + u.available, coalesce(b.locked, 0) + u.locked
        FROM unnest(
          ${pgArray(
            deltas.map((d) => d.account),
            'text',
          )}, ${pgArray(
            deltas.map((d) => d.asset),
            'text',
          )},
          ${pgArray(
            deltas.map((d) => d.available.toString()),
            'numeric',
          )}, ${pgArray(
            deltas.map((d) => d.locked.toString()),
            'numeric',
          )}
        ) AS u(account, asset, available, locked)
        LEFT JOIN balances b ON b.account = u.account AND b.asset = u.asset
        WHERE EXISTS (SELECT FROM cur)
        ON CONFLICT (account, asset) DO UPDATE SET available = excluded.available, locked = excluded.locked
      ),
      new_lifecycle AS (
        INSERT INTO market_lifecycle_events (market_id, market_seq, lifecycle_seq, outcome, from_state,
          to_state, event_type, actor_id, actor_type, reason, error_code, error_message, contract_address,
          tx_hash, deploy_error, ts, global_seq, metadata)
        SELECT u.market_id, u.market_seq, u.lifecycle_seq, u.outcome, u.from_state, u.to_state,
          u.event_type, u.actor_id, u.actor_type, u.reason, u.error_code, u.error_message,
          u.contract_address, u.tx_hash, u.deploy_error, u.ts, u.global_seq, u.metadata::jsonb
        FROM unnest(
          ${pgArray(
            l((x) => x.marketId),
            'text',
          )}, ${pgArray(
            l((x) => x.marketSeq),
            'int8',
          )},
          ${pgArray(
            l((x) => x.lifecycleSeq),
            'int8',
          )}, ${pgArray(
            l((x) => x.outcome),
            'text',
          )},
          ${pgArray(
            l((x) => x.from),
            'text',
          )}, ${pgArray(
            l((x) => x.to),
            'text',
          )},
          ${pgArray(
            l((x) => x.eventType),
            'text',
          )}, ${pgArray(
            l((x) => x.actorId),
            'text',
          )},
          ${pgArray(
            l((x) => x.actorType),
            'text',
          )}, ${pgArray(
            l((x) => x.reason),
            'text',
          )},
          ${pgArray(
            l((x) => x.errorCode),
            'text',
          )}, ${pgArray(
            l((x) => x.errorMessage),
            'text',
          )},
          ${pgArray(
            l((x) => x.contractAddress),
            'text',
          )}, ${pgArray(
            l((x) => x.txHash),
            'text',
          )},
          ${pgArray(
            l((x) => x.deployError),
            'text',
          )}, ${pgArray(
            l((x) => x.ts),
            'timestamptz',
          )},
          ${pgArray(
            l((x) => x.globalSeq),
            'int8',
          )}, ${pgArray(
            l((x) => x.metadata),
            'text',
          )}
        ) AS u(market_id, market_seq, lifecycle_seq, outcome, from_state, to_state, event_type,
          actor_id, actor_type, reason, error_code, error_message, contract_address, tx_hash,
          deploy_error, ts, global_seq, metadata)
        WHERE EXISTS (SELECT FROM cur)
      ),
      new_audit AS (
        INSERT INTO audit_log (global_seq, entry_index, ledger_seq, kind, account, asset, amount, ts)
        SELECT u.* FROM unnest(
          ${pgArray(
            a((x) => x.globalSeq),
            'int8',
          )}, ${pgArray(
            a((x) => x.entryIndex),
            'int4',
          )},
          ${pgArray(
            a((x) => x.ledgerSeq),
            'int8',
          )}, ${pgArray(
            a((x) => x.kind),
            'text',
          )},
          ${pgArray(
            a((x) => x.account),
            'text',
          )}, ${pgArray(
            a((x) => x.asset),
            'text',
          )},
          ${pgArray(
            a((x) => x.amount.toString()),
            'numeric',
          )}, ${pgArray(
            a((x) => x.ts),
            'timestamptz',
          )}
        ) AS u WHERE EXISTS (SELECT FROM cur)
      )
      SELECT count(*)::int AS moved FROM cur`);
  return row.moved === 1;
}
