import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { CommandResult, MarketCommand } from '../../actors/market/types.ts';
import type { CommandRoute } from '../../services/orderEntry.ts';
import { clusterSubjects, decodeCommandReply, encodeCommandRequest } from './commands.ts';
import { clusterMetrics } from '../../cluster/metrics.ts';

/*
 * ROLE=gateway's command route (docs/scale-out.md, "Commands"): each command goes to its market's
 * owner as a NATS request on `<cluster>.cmd.<marketId>`, with an id of its own and the edge's ts.
 * No responder, a timeout, or `unavailable` (the owner is moving, or its flush was refused by the
 * debit fence) → asked again with the same id and ts after a short backoff, until the deadline;
 * an owner answers an id it journaled already with that result. The client is answered once: the
 * first reply that is not a retry.
 */

export interface CommandRouterOptions {
  readonly cluster: string;
  /** The market id of a symbol (the catalog's). */
  readonly marketIdOf: (symbol: string) => string | undefined;
  /** One request's wait for the owner's reply (default 2 s: a commit under load, not a failover). */
  readonly requestTimeoutMs?: number;
  /** Give up (answer `unavailable`) this long after the first attempt (default 15 s: > TTL + recovery). */
  readonly deadlineMs?: number;
  readonly log: Logger;
}

export function commandRouter(nc: NatsConnection, options: CommandRouterOptions): CommandRoute {
  const subjects = clusterSubjects(options.cluster);
  const timeout = options.requestTimeoutMs ?? 2_000;
  const deadlineMs = options.deadlineMs ?? 15_000;
  const metrics = clusterMetrics();
  return (symbol, command: MarketCommand, ts, reply) => {
    const marketId = options.marketIdOf(symbol);
    if (marketId === undefined) {
      reply({ ok: false, code: 'unknown_market', message: `no market ${symbol}` });
      return;
    }
    const id = randomUUID();
    const data = encodeCommandRequest({ id, symbol, ts, command });
    const subject = subjects.command(marketId);
    const deadline = Date.now() + deadlineMs;
    const attempt = async (n: number): Promise<CommandResult> => {
      for (let tries = n; ; tries++) {
        let result: CommandResult | undefined;
        try {
          const msg = await nc.request(subject, data, { timeout });
          result = decodeCommandReply(msg.data);
        } catch {
          result = undefined; // no responder (failover), timeout, a reply that does not parse
        }
        if (result !== undefined && (result.ok || result.code !== 'unavailable')) return result;
        if (Date.now() >= deadline) {
          return (
            result ?? {
              ok: false,
              code: 'unavailable',
              message: `market ${symbol} has no owner now; try again`,
            }
          );
        }
        metrics.retries.inc();
        await new Promise((resolve) => setTimeout(resolve, Math.min(250, 25 * (tries + 1))));
      }
    };
    attempt(0).then(reply, (error: unknown) => {
      options.log.error({ err: error, symbol }, 'command route failed');
      reply({ ok: false, code: 'unavailable', message: `market ${symbol}: ${String(error)}` });
    });
  };
}
