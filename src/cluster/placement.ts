import { createHash } from 'node:crypto';

/*
 * Which engine should own a market (docs/scale-out.md, "Placement"): rendezvous (highest random
 * weight) hashing. Every engine scores every market with a hash of the pair; the highest score
 * wins. Every engine and gateway computes the same answer from the same set of live engines, with
 * no coordination and no table to keep; when an engine joins it takes only the markets it now
 * scores highest on (about 1/n of them) and when one leaves only its own markets move. The lease
 * (lease.ts) stays the truth: placement says who should try to take a market, the lease who has it.
 */

/** The pair's score: the first 8 bytes of SHA-256 (uniform; 100 markets × 10 engines is ~1 ms). */
export function rendezvousScore(marketId: string, engineId: string): bigint {
  const digest = createHash('sha256').update(marketId).update('\0').update(engineId).digest();
  return digest.readBigUInt64BE(0);
}

/** The engine that should own `marketId` among `engines` (undefined when there is none). */
export function ownerOf(marketId: string, engines: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = -1n;
  for (const engine of engines) {
    const score = rendezvousScore(marketId, engine);
    // Ties (never seen with 64 bits, but possible) go to the smaller id, so the order of
    // `engines` never matters.
    if (score > bestScore || (score === bestScore && best !== undefined && engine < best)) {
      best = engine;
      bestScore = score;
    }
  }
  return best;
}

/** Every market's owner among `engines`: engine id → its markets, in the order given. */
export function placeMarkets(
  marketIds: readonly string[],
  engines: readonly string[],
): Map<string, string[]> {
  const placed = new Map<string, string[]>(engines.map((e) => [e, []]));
  for (const market of marketIds) {
    const owner = ownerOf(market, engines);
    if (owner !== undefined) placed.get(owner)!.push(market);
  }
  return placed;
}

/**
 * Rendezvous with bounded loads: no engine owns more than ⌈loadFactor × markets / engines⌉; a
 * market whose first choice is full goes to its next-highest-scoring engine. Markets are taken in
 * id order and engines ranked by score (ties by id), so the answer depends only on the two sets.
 * It evens out plain rendezvous's binomial spread (100 markets over 10 engines: 20 on the busiest,
 * 13 at most here) at the price of more movement when an engine joins or leaves (a market can be
 * displaced by another's overflow), which the property test bounds but does not make minimal.
 * Returns market id → engine id (empty when there is no engine).
 */
export function placeMarketsBounded(
  marketIds: readonly string[],
  engines: readonly string[],
  loadFactor = 1.25,
): Map<string, string> {
  if (!(loadFactor >= 1)) throw new Error(`loadFactor must be at least 1, got ${loadFactor}`);
  const placed = new Map<string, string>();
  const unique = [...new Set(engines)].sort();
  if (unique.length === 0) return placed;
  const markets = [...new Set(marketIds)].sort();
  const cap = Math.ceil((loadFactor * markets.length) / unique.length);
  const load = new Map(unique.map((e) => [e, 0]));
  for (const market of markets) {
    const ranked = unique
      .map((engine) => ({ engine, score: rendezvousScore(market, engine) }))
      .sort((a, b) => (a.score === b.score ? (a.engine < b.engine ? -1 : 1) : a.score > b.score ? -1 : 1));
    // cap × engines ≥ markets, so some engine always has room.
    const chosen = ranked.find((r) => load.get(r.engine)! < cap)!.engine;
    load.set(chosen, load.get(chosen)! + 1);
    placed.set(market, chosen);
  }
  return placed;
}
