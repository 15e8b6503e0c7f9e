import { formatAssetAmount } from '../actors/money.ts';
import type { CommittedBatch, InProcessConsumer } from '../events/stream.ts';
import type { FundingMessage } from '../protocol/pushes.ts';
import { topics, type Publication } from '../protocol/topics.ts';

/**
 * The private `funding` channel (PROTOCOL v1.1): one push per deposit.changed and
 * withdrawal.changed of the committed event stream, to the user's topic, right after the commit
 * (an in-process consumer, like the publisher's balances).
 */
export function fundingPushes(
  decimalsOf: (asset: string) => number | undefined,
  publish: (publications: readonly Publication<FundingMessage>[]) => void,
): InProcessConsumer {
  return {
    name: 'funding',
    onCommitted({ events }: CommittedBatch) {
      let out: Publication<FundingMessage>[] | undefined;
      for (const event of events) {
        if (event.type !== 'deposit.changed' && event.type !== 'withdrawal.changed') continue;
        const decimals = decimalsOf(event.asset) ?? 2;
        const message: FundingMessage = {
          op: event.type === 'deposit.changed' ? 'deposit' : 'withdrawal',
          id: event.type === 'deposit.changed' ? event.depositId : event.withdrawalId,
          status: event.status,
          asset: event.asset,
          amount: formatAssetAmount(event.amount, decimals),
          ts: event.ts,
          ...(event.type === 'withdrawal.changed' && event.txHash !== undefined
            ? { txHash: event.txHash }
            : {}),
          ...(event.reason === undefined ? {} : { reason: event.reason }),
        };
        (out ??= []).push({ topic: topics.private('funding', event.userId), message });
      }
      if (out !== undefined) publish(out);
    },
  };
}
