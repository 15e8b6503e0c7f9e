import type { ActorInspection } from '../actors/supervisor.ts';
import type { MarketStatusMessage } from '../protocol/messages.ts';
import { topics, type Publication } from '../protocol/topics.ts';

/*
 * The supervisor's halted markets as `market_status` pushes on the `lifecycle` channel (issue 20,
 * PROTOCOL.md lets the server add ops): `halted` when a market faults or a commit of its fails
 * (ActorInspection `market.fault`), `running` once it is rebuilt (`market.recovered`). The halted
 * ones are kept, so a `sub` to `lifecycle` gets the status after the lifecycle snapshot. The
 * fault's own message (SQL errors, stack details) stays in the logs: clients get why in words.
 */

export interface MarketStatusFeed {
  /** The supervisor's inspection events (core.inspections). */
  readonly inspect: (event: ActorInspection) => void;
  /** The market's `market_status` while it is halted; undefined while it runs. */
  snapshot(symbol: string): MarketStatusMessage | undefined;
}

export function createMarketStatusFeed(
  publish: (publications: readonly Publication<MarketStatusMessage>[]) => void,
  now: () => number = Date.now,
): MarketStatusFeed {
  const halted = new Map<string, MarketStatusMessage>();
  return {
    inspect(event) {
      if (event.type === 'market.fault') {
        if (halted.has(event.symbol)) return;
        const message: MarketStatusMessage = {
          op: 'market_status',
          market: event.symbol,
          status: 'halted',
          ts: now(),
          reason: event.message.startsWith('commit failed')
            ? 'its last batch could not be committed: the market is being rebuilt'
            : 'the market faulted: it is being rebuilt',
        };
        halted.set(event.symbol, message);
        publish([{ topic: topics.lifecycle(event.symbol), message }]);
      } else if (event.type === 'market.recovered') {
        if (!halted.delete(event.symbol)) return;
        publish([
          {
            topic: topics.lifecycle(event.symbol),
            message: { op: 'market_status', market: event.symbol, status: 'running', ts: now() },
          },
        ]);
      }
    },
    snapshot: (symbol) => halted.get(symbol),
  };
}
