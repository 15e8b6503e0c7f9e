import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { LEDGER_JOURNAL_ID, type CommandResult, type MarketCommand } from '../../actors/market/types.ts';
import type { LedgerEntry } from '../../actors/supervisor.ts';
import type { CommandRoute } from '../../services/orderEntry.ts';
import { clusterSubjects, decodeCommandReply, encodeCommandRequest } from './commands.ts';
import { encodeLedgerRequest, fundingOutcome, type LedgerOp } from './ledgerCommands.ts';
import { clusterMetrics } from '../../cluster/metrics.ts';

/*
 * ROLE=gateway's command route (docs/scale-out.md, "Commands"): each command goes to its market's
 * owner as a NATS request on `<cluster>.cmd.<marketId>`, with an id of its own and the edge's ts.
 * No responder, a timeout, or `unavailable` (the owner is moving, or its flush was refused by the
 * debit fence) → asked again with the same id and ts after a short backoff, until the deadline;
 * an owner answers an id it journaled already with that result. The client is answered once: the
 * first reply that is not a retry. Credits and funding commands go the same way to the owner of
 * `@ledger` (ledgerRoute).
 */

export interface CommandRouterOptions {
  readonly cluster: string;
  /** The market id of a symbol (the catalog's). */
  readonly marketIdOf: (symbol: string) => string | undefined;
  /** What the owner must have applied before the command runs: its `after` (commands.ts). */
  readonly position?: () => number;
  /** One request's wait for the owner's reply (default 2 s: a commit under load, not a failover). */
  readonly requestTimeoutMs?: number;
  /** Give up (answer `unavailable`) this long after the first attempt (default 15 s: > TTL + recovery). */
  readonly deadlineMs?: number;
  readonly log: Logger;
}

export function commandRouter(nc: NatsConnection, options: CommandRouterOptions): CommandRoute {
  const subjects = clusterSubjects(options.cluster);
  const ask = asker(nc, options);
  return (symbol, command: MarketCommand, ts, reply) => {
    const marketId = options.marketIdOf(symbol);
    if (marketId === undefined) {
      reply({ ok: false, code: 'unknown_market', message: `no market ${symbol}` });
      return;
    }
    const data = encodeCommandRequest({ id: randomUUID(), symbol, ts, command, after: options.position?.() });
    ask(subjects.command(marketId), data, `market ${symbol}`).then(
      ({ result }) => {
        reply(result);
      },
      (error: unknown) => {
        options.log.error({ err: error, symbol }, 'command route failed');
        reply({ ok: false, code: 'unavailable', message: `market ${symbol}: ${String(error)}` });
      },
    );
  };
}

export interface LedgerRouteOptions extends Omit<CommandRouterOptions, 'marketIdOf'> {
  /** Resolves once this gateway's replica applied the journal up to `globalSeq` (read your writes). */
  readonly applied: (globalSeq: number) => Promise<void>;
}

/**
 * ROLE=gateway's `@ledger`: credits and funding commands answered by the engine that owns it,
 * once this gateway's replica holds the record (a balance read here right after shows it).
 */
export function ledgerRoute(nc: NatsConnection, options: LedgerRouteOptions): LedgerEntry {
  const subject = clusterSubjects(options.cluster).command(LEDGER_JOURNAL_ID);
  const ask = asker(nc, options);
  const request = async (op: LedgerOp, ts: number): Promise<CommandResult> => {
    try {
      const { result, globalSeq } = await ask(
        subject,
        encodeLedgerRequest({ id: randomUUID(), ts, op }),
        'the ledger',
      );
      if (result.ok && globalSeq !== undefined) await options.applied(globalSeq);
      return result;
    } catch (error) {
      options.log.error({ err: error, op: op.kind }, 'ledger route failed');
      return { ok: false, code: 'unavailable', message: `the ledger: ${String(error)}` };
    }
  };
  return {
    credit: (userId, asset, amount, ts) => request({ kind: 'credit', userId, asset, amount }, ts),
    fund: async (command, ts) => fundingOutcome(await request({ kind: 'fund', command }, ts)),
  };
}

/**
 * ROLE=gateway's lifecycle commands of a listing (admin, issuance): routed like any command, and
 * answered once this gateway's replica holds the commit (the listing's state read here after is it).
 */
export function awaitedRoute(
  nc: NatsConnection,
  options: CommandRouterOptions & Pick<LedgerRouteOptions, 'applied'>,
): (symbol: string, command: MarketCommand, ts: number) => Promise<CommandResult> {
  const subjects = clusterSubjects(options.cluster);
  const ask = asker(nc, options);
  return async (symbol, command, ts) => {
    const marketId = options.marketIdOf(symbol);
    if (marketId === undefined) return { ok: false, code: 'unknown_market', message: `no market ${symbol}` };
    const data = encodeCommandRequest({ id: randomUUID(), symbol, ts, command, after: options.position?.() });
    try {
      const { result, globalSeq } = await ask(subjects.command(marketId), data, `market ${symbol}`);
      if (result.ok && globalSeq !== undefined) await options.applied(globalSeq);
      return result;
    } catch (error) {
      options.log.error({ err: error, symbol }, 'command route failed');
      return { ok: false, code: 'unavailable', message: `market ${symbol}: ${String(error)}` };
    }
  };
}

/** Asks `subject` with the same request until an answer that is not a retry, or the deadline. */
function asker(nc: NatsConnection, options: Pick<CommandRouterOptions, 'requestTimeoutMs' | 'deadlineMs'>) {
  const timeout = options.requestTimeoutMs ?? 2_000;
  const deadlineMs = options.deadlineMs ?? 15_000;
  const metrics = clusterMetrics();
  return async (
    subject: string,
    data: Uint8Array,
    what: string,
  ): Promise<{ result: CommandResult; globalSeq?: number | undefined }> => {
    const deadline = Date.now() + deadlineMs;
    for (let tries = 0; ; tries++) {
      let reply: ReturnType<typeof decodeCommandReply> | undefined;
      try {
        const msg = await nc.request(subject, data, { timeout });
        reply = decodeCommandReply(msg.data);
      } catch {
        reply = undefined; // no responder (failover), timeout, a reply that does not parse
      }
      if (reply !== undefined && (reply.result.ok || reply.result.code !== 'unavailable')) return reply;
      if (Date.now() >= deadline) {
        return (
          reply ?? {
            result: { ok: false, code: 'unavailable', message: `${what} has no owner now; try again` },
          }
        );
      }
      metrics.retries.inc();
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, 25 * (tries + 1))));
    }
  };
}
