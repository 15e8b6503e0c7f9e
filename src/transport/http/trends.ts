import { z } from 'zod/v4';
import { describeIssues } from '../../protocol/schemas.ts';
import {
  firstField,
  MAX_TS_AGE_MS,
  MAX_TS_AHEAD_MS,
  SimulationQuery,
  TrendBody,
  TrendMarketBody,
  ValuationBody,
} from '../../trends/schemas.ts';
import type { TrendService } from '../../trends/trendService.ts';
import type { RwaValuations } from '../../trends/valuations.ts';
import { errorReply, json, outcomeReply, type createRouter, type HttpReply } from './router.ts';

/*
 * The trend routes (PROTOCOL v1.1, Trend markets; docs/trends.md): ingestion by an admin or a
 * service token with the `ingest` role, the listing of a trend symbol as a market (admin), and the
 * reads: GET /market/:symbol in the contract's shape (the symbol URL-encoded, or its slash
 * literal), the trend markets, and the simulation. A bad body answers 400 with the field named
 * (`error.field`, beside code and message).
 */

const BASE = '/api/v1';

function badRequest(error: z.ZodError): HttpReply {
  const field = firstField(error);
  return json(400, {
    error: { code: 'bad_request', message: describeIssues(error), ...(field === undefined ? {} : { field }) },
  });
}

const SymbolQuery = z.object({ symbol: z.string().min(1).max(80) });

export function registerTrendRoutes(
  route: ReturnType<typeof createRouter>,
  trends: TrendService,
  valuations: RwaValuations,
  clock: () => number = Date.now,
): void {
  // RWA valuations: the market's issuer or an admin records one; anyone reads them.
  route(
    'post',
    `${BASE}/markets/:id/valuations`,
    { role: ['issuer', 'admin'], body: true },
    async ({ body, principal, params }) => {
      const parsed = ValuationBody.safeParse(body);
      if (!parsed.success) return badRequest(parsed.error);
      return outcomeReply(await valuations.record(principal!, params[0]!, parsed.data), 201);
    },
  );
  route('get', `${BASE}/markets/:id/valuations`, {}, async ({ params }) => {
    const list = await valuations.list(params[0]!);
    return list === undefined ? errorReply('unknown_market', `no RWA market ${params[0]!}`) : json(200, list);
  });

  route('post', `${BASE}/trends`, { role: ['admin', 'ingest'], body: true }, async ({ body, principal }) => {
    const parsed = TrendBody.safeParse(body);
    if (!parsed.success) return badRequest(parsed.error);
    const { ts } = parsed.data;
    const now = clock();
    if (ts !== undefined && (ts < now - MAX_TS_AGE_MS || ts > now + MAX_TS_AHEAD_MS)) {
      return json(400, {
        error: { code: 'bad_request', message: 'ts: at most 7 days old and 5 minutes ahead', field: 'ts' },
      });
    }
    return outcomeReply(await trends.ingest(principal!, parsed.data), 201);
  });

  route('post', `${BASE}/trends/markets`, { role: 'admin', body: true }, async ({ body, principal }) => {
    const parsed = TrendMarketBody.safeParse(body);
    if (!parsed.success) return badRequest(parsed.error);
    return outcomeReply(await trends.listMarket(principal!, parsed.data), 201);
  });

  route('get', `${BASE}/trends/markets`, {}, () => json(200, trends.markets()));

  route('get', `${BASE}/trends/simulation`, {}, async ({ query }) => {
    const parsed = SymbolQuery.extend(SimulationQuery.shape).safeParse(Object.fromEntries(query));
    if (!parsed.success) return badRequest(parsed.error);
    const { symbol, ...window } = parsed.data;
    const simulation = await trends.simulate(symbol, window);
    return simulation === undefined
      ? errorReply('unknown_market', `no trend market ${symbol}`)
      : json(200, simulation);
  });

  const view = async (symbol: string): Promise<HttpReply> => {
    const found = await trends.view(symbol);
    return found === undefined ? errorReply('unknown_market', `no trend market ${symbol}`) : json(200, found);
  };
  route('get', `${BASE}/market/:symbol`, {}, ({ params }) => view(params[0]!));
  route('get', `${BASE}/market/VIRAL/:rest`, {}, ({ params }) => view(`VIRAL/${params[0]!}`));
}
