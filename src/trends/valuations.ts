import type { Logger } from 'pino';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { z as z4 } from 'zod/v4';
import type { Catalog } from '../actors/catalog.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import { startJobQueue, type JobPlacement } from '../jobs/queue.ts';
import { errorText, failure, success, type Outcome } from '../protocol/errors.ts';
import type { AssetRecords } from '../services/assetRecords.ts';
import { hasRole, type Principal } from '../services/principal.ts';
import { divRoundHalfUp } from './pricing.ts';
import { ValuationBody } from './schemas.ts';

export { ValuationBody } from './schemas.ts';

/*
 * RWA valuations (docs/trends.md "RWA valuations"): the `update-token-metadata` daily job pulls
 * each RWA's valuation from a configured source, and the issuer of the market or an admin records
 * one by hand (POST /markets/:id/valuations). Each is stored with its source, date and document
 * reference (rwa_valuations: append-only, each row its own audit: who, when); its value per token
 * unit (the value over the token's total supply, half up to the market's price decimals) becomes
 * the market's ticker `indexPrice`, a net-asset-value reference beside the traded price. The
 * value is in the market's quote units (the valuation's currency is recorded and taken at par).
 */

/** The source's document: {"valuations": [{tokenSymbol, value, currency, valuationDate, documentRef}]}. */
const FeedItem = ValuationBody.omit({ source: true }).extend({ tokenSymbol: z4.string().min(1).max(16) });
const Feed = z4.object({ valuations: z4.array(z4.unknown()).max(10_000) });

export interface Valuation {
  readonly marketId: string;
  readonly value: string;
  readonly currency: string;
  readonly perUnit: string;
  readonly valuationDate: string;
  readonly source: string;
  readonly documentRef: string;
  readonly recordedBy: string;
  readonly recordedAt: number;
}

const Row = z.object({
  market_id: z.string(),
  value: z.string(),
  currency: z.string(),
  per_unit: z.string(),
  valuation_date: z.string(),
  source: z.string(),
  document_ref: z.string(),
  recorded_by: z.string(),
  recorded_at: z.string(),
});

function valuationOf(r: z.infer<typeof Row>): Valuation {
  return {
    marketId: r.market_id,
    value: r.value,
    currency: r.currency,
    perUnit: r.per_unit,
    valuationDate: r.valuation_date,
    source: r.source,
    documentRef: r.document_ref,
    recordedBy: r.recorded_by,
    recordedAt: Number(r.recorded_at),
  };
}

const COLUMNS = sql.fragment`market_id, value::text AS value, currency, per_unit::text AS per_unit,
  to_char(valuation_date, 'YYYY-MM-DD') AS valuation_date, source, document_ref, recorded_by,
  (extract(epoch FROM recorded_at) * 1000)::int8::text AS recorded_at`;

/** value / supply at `decimals`, rounded half up; undefined for a non-positive result. */
export function perUnit(value: string, supply: string, decimals: number): string | undefined {
  const [vi = '0', vf = ''] = value.split('.');
  const [si = '0', sf = ''] = supply.split('.');
  const v = BigInt(vi + vf);
  const s = BigInt(si + sf);
  if (s <= 0n) return undefined;
  // (v / 10^|vf|) / (s / 10^|sf|) × 10^decimals
  const numerator = v * 10n ** BigInt(sf.length + decimals);
  const denominator = s * 10n ** BigInt(vf.length);
  const units = divRoundHalfUp(numerator, denominator);
  return units > 0n ? formatUnits(units, decimals) : undefined;
}

export interface ValuationOptions {
  readonly pool: DatabasePool;
  readonly catalog: Catalog;
  readonly records: AssetRecords;
  readonly setIndexPrice: (marketId: string, price: string) => void;
  readonly log: Logger;
}

export class RwaValuations {
  constructor(private readonly options: ValuationOptions) {}

  /** Sets each RWA market's indexPrice from its latest valuation (at start). */
  async start(): Promise<void> {
    const rows = await this.options.pool.any(sql.type(Row)`
      SELECT DISTINCT ON (market_id) ${COLUMNS} FROM rwa_valuations
      ORDER BY market_id, valuation_date DESC, id DESC`);
    for (const row of rows) this.options.setIndexPrice(row.market_id, row.per_unit);
  }

  /** A valuation by hand: the market's issuer or an admin. */
  async record(principal: Principal, idOrSymbol: string, body: ValuationBody): Promise<Outcome<Valuation>> {
    const market = this.options.catalog.market(idOrSymbol);
    const record = market === undefined ? undefined : this.options.records.get(market.definition.id);
    if (market === undefined || record === undefined)
      return failure('unknown_market', `no RWA market ${idOrSymbol}`);
    if (!hasRole(principal, 'admin') && record.issuerId !== principal.userId) {
      return failure('forbidden', 'only the market’s issuer or an admin records its valuations');
    }
    return this.#store(market.definition.id, body, body.source ?? 'manual', principal.userId);
  }

  async #store(
    marketId: string,
    body: Omit<ValuationBody, 'source'>,
    source: string,
    by: string,
  ): Promise<Outcome<Valuation>> {
    const market = this.options.catalog.market(marketId);
    const record = this.options.records.get(marketId);
    if (market === undefined || record === undefined)
      return failure('unknown_market', `no RWA market ${marketId}`);
    const unit = perUnit(body.value, record.totalSupply, market.money.priceDecimals);
    if (unit === undefined) return failure('bad_request', 'value: gives no positive value per token unit');
    let row: z.infer<typeof Row> | null;
    try {
      row = await this.options.pool.maybeOne(sql.type(Row)`
        INSERT INTO rwa_valuations (market_id, value, currency, per_unit, valuation_date, source, document_ref, recorded_by)
        VALUES (${marketId}, ${body.value}, ${body.currency}, ${unit}, ${body.valuationDate}::date, ${source},
          ${body.documentRef}, ${by})
        ON CONFLICT (market_id, valuation_date, source) DO NOTHING
        RETURNING ${COLUMNS}`);
    } catch (error) {
      return failure('unavailable', `the valuation was not stored: ${errorText(error)}`);
    }
    if (row === null)
      return failure('conflict', `${source} has a valuation of ${body.valuationDate} already`);
    const latest = await this.latest(marketId);
    if (latest !== undefined) this.options.setIndexPrice(marketId, latest.perUnit);
    return success(valuationOf(row));
  }

  async latest(marketId: string): Promise<Valuation | undefined> {
    const row = await this.options.pool.maybeOne(sql.type(Row)`
      SELECT ${COLUMNS} FROM rwa_valuations WHERE market_id = ${marketId}
      ORDER BY valuation_date DESC, id DESC LIMIT 1`);
    return row === null ? undefined : valuationOf(row);
  }

  /** A market's valuations, newest first (at most 1000). */
  async list(idOrSymbol: string): Promise<Valuation[] | undefined> {
    const market = this.options.catalog.market(idOrSymbol);
    if (market === undefined || !this.options.records.has(market.definition.id)) return undefined;
    const rows = await this.options.pool.any(sql.type(Row)`
      SELECT ${COLUMNS} FROM rwa_valuations WHERE market_id = ${market.definition.id}
      ORDER BY valuation_date DESC, id DESC LIMIT 1000`);
    return rows.map(valuationOf);
  }

  /** One read of the valuation source; never throws. Items are keyed by token symbol. */
  async pull(url: string, timeoutMs = 10_000): Promise<{ stored: number; skipped: number }> {
    const { log } = this.options;
    const source = `feed:${new URL(url).host}`;
    let document: unknown;
    try {
      const response = await fetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      document = JSON.parse(await response.text()) as unknown;
    } catch (error) {
      log.warn({ job: VALUATION_QUEUE, url, err: errorText(error) }, 'valuation source skipped');
      return { stored: 0, skipped: 0 };
    }
    const feed = Feed.safeParse(document);
    if (!feed.success) {
      log.warn({ job: VALUATION_QUEUE, url }, 'valuation source answered no {"valuations": [...]}');
      return { stored: 0, skipped: 0 };
    }
    let stored = 0;
    let skipped = 0;
    for (const item of feed.data.valuations) {
      const parsed = FeedItem.safeParse(item);
      const record = parsed.success ? this.options.records.ofToken(parsed.data.tokenSymbol) : undefined;
      if (!parsed.success || record === undefined) {
        skipped++;
        continue;
      }
      const done = await this.#store(record.marketId, parsed.data, source, 'system');
      if (done.ok) stored++;
      else if (done.code !== 'conflict') {
        skipped++;
        log.warn(
          { job: VALUATION_QUEUE, token: parsed.data.tokenSymbol, code: done.code },
          'valuation skipped',
        );
      }
    }
    if (skipped > 0) log.warn({ job: VALUATION_QUEUE, url, skipped }, 'valuation items skipped');
    return { stored, skipped };
  }
}

export const VALUATION_QUEUE = 'update-token-metadata';

export async function startValuationJob(options: {
  readonly redisUrl: string;
  readonly prefix: string;
  /** Where the work runs (src/app/roles.ts); default here. */
  readonly placement?: JobPlacement;
  readonly intervalMs: number;
  readonly url: string;
  readonly valuations: RwaValuations;
  readonly log: Logger;
}): Promise<{ close(): Promise<void>; runOnce(): Promise<{ stored: number; skipped: number }> }> {
  const queue = await startJobQueue({
    name: VALUATION_QUEUE,
    redisUrl: options.redisUrl,
    prefix: options.prefix,
    placement: options.placement,
    payload: z4.strictObject({}),
    attempts: 1,
    concurrency: 1,
    keepEnded: 100,
    schedule: { everyMs: options.intervalMs, data: {} },
    logDone: 'debug',
    log: options.log,
    run: async () => {
      await options.valuations.pull(options.url);
    },
  });
  return { close: () => queue.close(), runOnce: () => options.valuations.pull(options.url) };
}
