import { z } from 'zod/v4';
import {
  SimulationQuery,
  TrendAccepted,
  TrendBody,
  TrendMarketBody,
  TrendMarketView,
  ValuationBody,
} from '../../trends/schemas.ts';

/*
 * The trend routes' descriptions (http/trends.ts), spread into OPERATIONS (which checks their
 * type: importing its types here would make a cycle).
 */

const BASE = '/api/v1';

const TrendMarketListing = z.object({
  symbol: z.string(),
  marketId: z.string(),
  market: z.string(),
  basePrice: z.string(),
  pointValue: z.string(),
  floorPrice: z.string(),
  baselineScore: z.number(),
  indexPrice: z.string(),
  viralityScore: z.number(),
  sentiment: z.number(),
});

const Simulation = z.object({
  symbol: z.string(),
  model: z.literal('bootstrap-v1'),
  seed: z.number().int(),
  points: z.array(
    z.object({ t: z.number().int(), priceTicks: z.number().int(), scoreCenti: z.number().int() }),
  ),
});

const simulationQuery = [
  { name: 'symbol', schema: z.string(), description: 'the trend symbol (VIRAL/...)' },
  { name: 'from', schema: SimulationQuery.shape.from, description: 'window start, ms' },
  { name: 'to', schema: SimulationQuery.shape.to, description: 'window end, ms' },
  { name: 'steps', schema: SimulationQuery.shape.steps, description: 'points after the start (default 100)' },
  {
    name: 'seed',
    schema: z.number().int(),
    description: 'the generator seed (default: a hash of the request)',
  },
] as const;

const marketRead = {
  summary: 'A trend market in the blueprint shape (the symbol URL-encoded: VIRAL%2FSA_DJ_ZINHLE_001)',
  tag: 'markets',
  ok: { status: 200, shape: TrendMarketView },
  errors: ['unknown_market'],
} as const;

const Valuation = z.object({
  marketId: z.string(),
  value: z.string(),
  currency: z.string(),
  perUnit: z.string(),
  valuationDate: z.string(),
  source: z.string(),
  documentRef: z.string(),
  recordedBy: z.string(),
  recordedAt: z.number().int(),
});

export const TREND_OPERATIONS = {
  [`post ${BASE}/markets/:id/valuations`]: {
    summary:
      "Record an RWA valuation (the market's issuer or an admin); its value per token unit becomes the indexPrice",
    tag: 'issuance',
    body: { schema: ValuationBody },
    ok: { status: 201, shape: Valuation },
    errors: ['unknown_market', 'forbidden', 'conflict', 'unavailable'],
  },
  [`get ${BASE}/markets/:id/valuations`]: {
    summary: "An RWA market's valuations, newest first",
    tag: 'issuance',
    ok: { status: 200, shape: { list: Valuation } },
    errors: ['unknown_market'],
  },
  [`post ${BASE}/trends`]: {
    summary:
      'Trend metrics for a topic (admin, or a service token with the ingest role); rate limited per token',
    tag: 'markets',
    body: { schema: TrendBody },
    ok: { status: 201, shape: TrendAccepted },
    errors: ['rate_limited', 'unavailable'],
  },
  [`post ${BASE}/trends/markets`]: {
    summary: 'List a trend symbol as a market, with its base price and pricing terms',
    tag: 'admin',
    body: { schema: TrendMarketBody },
    ok: { status: 201, shape: TrendMarketListing },
    errors: ['conflict', 'not_found', 'unavailable'],
  },
  [`get ${BASE}/trends/markets`]: {
    summary: 'The trend markets and their index prices',
    tag: 'markets',
    ok: { status: 200, shape: { list: TrendMarketListing } },
  },
  [`get ${BASE}/trends/simulation`]: {
    summary: 'simulatePriceMovement: a seeded simulated price path of a trend market over a window',
    tag: 'markets',
    query: simulationQuery,
    ok: { status: 200, shape: Simulation },
    errors: ['unknown_market'],
  },
  [`get ${BASE}/market/:symbol`]: marketRead,
  [`get ${BASE}/market/VIRAL/:rest`]: {
    ...marketRead,
    summary: 'A trend market, its symbol with a literal slash',
  },
} as const;
