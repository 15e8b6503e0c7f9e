/**
 * The notifier: a durable consumer of the committed event stream (src/persistence/durableConsumers.ts).
 * Per page of journal records, in the transaction that moves its cursor: the records' drafts
 * (mapping.ts) and the price alerts their trades cross, each draft's audience resolved, rendered,
 * written as notification rows, and an outbox row per delivery channel the user's preferences
 * name (held until quiet hours end). A restart, or a kill at any instant, neither loses nor
 * repeats a notification: rows and cursor commit together. Once a page committed, its rows go to
 * `onCommitted` (the in-app push on the `notifications` channel, the dispatcher's wake-up).
 */

import type { DatabaseTransactionConnection } from 'slonik';
import { PageNotReady, type DurableConsumer, type EventPage } from '../persistence/durableConsumers.ts';
import {
  crossings,
  draftsOf,
  kycDraftsOf,
  tradesOf,
  type MappingContext,
  type RecordTrade,
} from './mapping.ts';
import { deliveryChannels, digestWindowS, optedIn, quietUntil, type Preferences } from './preferences.ts';
import {
  armedAlerts,
  fireAlerts,
  insertDeliveries,
  insertNotifications,
  marketAudience,
  preferencesOf,
  projectedTo,
  usersNaming,
  watchers,
  type DeliveryRow,
  type NotificationRow,
  type StoredNotification,
} from './store.ts';
import type { Templates } from './templates.ts';
import { QUIET_CHANNELS, type Audience, type Draft, type NotificationType } from './types.ts';

export const NOTIFIER_CURSOR = 'notifier';

/**
 * The page names holders of an asset (a lifecycle transition, a breakout) before the relational
 * projection (balances) holds the records before it: the page is retried on the next round.
 */
export class NotifierBehind extends PageNotReady {
  override readonly name = 'NotifierBehind';
}

export interface NotifierOptions {
  readonly context: MappingContext;
  readonly templates: Templates;
  /** Rows of a committed page, with the preferences they were written under. */
  readonly onCommitted?: (
    rows: readonly StoredNotification[],
    preferences: ReadonlyMap<string, Preferences>,
  ) => void;
  readonly now?: () => number;
}

interface Addressed {
  readonly draft: Draft;
  readonly userId: string;
  readonly source: string;
}

export class Notifier implements DurableConsumer {
  readonly name = NOTIFIER_CURSOR;
  readonly #options: NotifierOptions;
  /** What the page being applied wrote: handed on only once its transaction committed. */
  #written: { rows: StoredNotification[]; preferences: Map<string, Preferences> } | undefined;

  constructor(options: NotifierOptions) {
    this.#options = options;
  }

  async apply(tx: DatabaseTransactionConnection, page: EventPage): Promise<void> {
    this.#written = undefined;
    const { context } = this.#options;
    const drafts: { draft: Draft; prefix: string; globalSeq: number }[] = [];
    /** Keyed by day, not by record: written with ON CONFLICT DO NOTHING (told once a day). */
    const kyc: Draft[] = [];
    const trades: (RecordTrade & { globalSeq: number })[] = [];
    let holdersAt = 0;
    for (const record of page.records) {
      const events = { marketId: record.batch.marketId, symbol: record.batch.symbol, events: record.events };
      for (const draft of draftsOf(events, context)) {
        drafts.push({ draft, prefix: `j:${record.globalSeq}:`, globalSeq: record.globalSeq });
        const kind = draft.audience.kind;
        if (kind === 'market' || kind === 'watchers') holdersAt = record.globalSeq;
      }
      for (const trade of tradesOf(events)) trades.push({ ...trade, globalSeq: record.globalSeq });
      kyc.push(...kycDraftsOf({ ...events, entries: record.batch.entries }, context));
    }
    if (holdersAt > 0 && (await projectedTo(tx)) < holdersAt)
      throw new NotifierBehind('balances trail the page');
    await this.#alerts(tx, trades, drafts);
    if (drafts.length === 0 && kyc.length === 0) return;

    const addressed = await this.#address(tx, drafts);
    const kycAddressed = kyc.map((draft) => ({
      draft,
      userId: (draft.audience as { userId: string }).userId,
      source: draft.source,
    }));
    const preferences = await preferencesOf(tx, [
      ...new Set([...addressed, ...kycAddressed].map((a) => a.userId)),
    ]);
    const render = (a: Addressed): NotificationRow => {
      const prefs = preferences.get(a.userId)!;
      const rendered = this.#options.templates.render(a.draft.type, a.draft.data, { locale: prefs.locale });
      return {
        userId: a.userId,
        type: a.draft.type,
        title: rendered.title,
        body: rendered.body,
        data: { ...a.draft.data },
        source: a.source,
        ts: a.draft.ts,
      };
    };
    const rows: NotificationRow[] = [];
    for (const a of addressed) {
      const prefs = preferences.get(a.userId)!;
      if (a.draft.audience.kind === 'opted_in' && !optedIn(prefs, a.draft.type)) continue;
      rows.push(render(a));
    }
    const written = [
      ...(await insertNotifications(tx, rows)),
      ...(await insertNotifications(tx, kycAddressed.map(render), 'skip')),
    ];
    const now = this.#options.now?.() ?? Date.now();
    await insertDeliveries(tx, deliveriesOf(written, preferences, now));
    this.#written = { rows: written, preferences };
  }

  committed(): void {
    const written = this.#written;
    this.#written = undefined;
    if (written !== undefined && written.rows.length > 0) {
      this.#options.onCommitted?.(written.rows, written.preferences);
    }
  }

  /** Fires each armed alert the page's trades cross (once: its row is marked in this transaction). */
  async #alerts(
    tx: DatabaseTransactionConnection,
    trades: readonly (RecordTrade & { globalSeq: number })[],
    drafts: { draft: Draft; prefix: string; globalSeq: number }[],
  ): Promise<void> {
    if (trades.length === 0) return;
    const alerts = await armedAlerts(tx, [...new Set(trades.map((t) => t.marketId))]);
    if (alerts.length === 0) return;
    const { context } = this.#options;
    const crossed = crossings(alerts, trades);
    // One statement for the page's fired alerts (each marked with the record that crossed it).
    await fireAlerts(
      tx,
      crossed.map(({ alert, trade }) => ({
        id: alert.id,
        globalSeq: (trade as RecordTrade & { globalSeq: number }).globalSeq,
      })),
    );
    for (const { alert, trade } of crossed) {
      const globalSeq = (trade as RecordTrade & { globalSeq: number }).globalSeq;
      const terms = context.market(alert.marketId);
      const stored = alerts.find((a) => a.id === alert.id)!;
      drafts.push({
        prefix: '',
        globalSeq,
        draft: {
          type: 'price_alert',
          audience: { kind: 'user', userId: alert.userId },
          source: `alert:${alert.id}`,
          ts: trade.ts,
          data: {
            alertId: alert.id,
            market: terms?.symbol ?? alert.marketId,
            direction: alert.direction,
            threshold: stored.price,
            price: terms?.formatPrice(trade.price) ?? String(trade.price),
            tradeId: trade.tradeId,
          },
        },
      });
    }
  }

  /** One entry per draft and recipient; audiences of a market resolved once per page. */
  async #address(
    tx: DatabaseTransactionConnection,
    drafts: readonly { draft: Draft; prefix: string; globalSeq: number }[],
  ): Promise<Addressed[]> {
    const resolved = new Map<string, Promise<string[]>>();
    const resolve = (audience: Audience, type: NotificationType, at: number): Promise<string[]> => {
      switch (audience.kind) {
        case 'user':
          return Promise.resolve([audience.userId]);
        case 'market': {
          const key = `m|${audience.marketId}|${at}`;
          let found = resolved.get(key);
          if (found === undefined)
            resolved.set(key, (found = marketAudience(tx, audience.marketId, audience.asset, at)));
          return found;
        }
        case 'watchers': {
          const key = `w|${audience.marketId}|${at}`;
          let found = resolved.get(key);
          if (found === undefined)
            resolved.set(key, (found = watchers(tx, audience.marketId, audience.asset, at)));
          return found;
        }
        case 'opted_in': {
          const key = `o|${type}`;
          let found = resolved.get(key);
          if (found === undefined) resolved.set(key, (found = usersNaming(tx, type)));
          return found;
        }
      }
    };
    const out: Addressed[] = [];
    // Sequential: one transaction's connection runs one query at a time.
    for (const { draft, prefix, globalSeq } of drafts) {
      const users = await resolve(draft.audience, draft.type, globalSeq);
      for (const userId of users) out.push({ draft, userId, source: `${prefix}${draft.source}` });
    }
    return out;
  }
}

/**
 * The outbox rows of written notifications: one per delivery channel the user's preferences name
 * for the type, released at once, when quiet hours end, or at the end of the type's digest window.
 */
export function deliveriesOf(
  rows: readonly StoredNotification[],
  preferences: ReadonlyMap<string, Preferences>,
  now: number,
): DeliveryRow[] {
  const out: DeliveryRow[] = [];
  for (const row of rows) {
    const prefs = preferences.get(row.userId);
    if (prefs === undefined) continue;
    const type = row.type as NotificationType;
    const windowS = digestWindowS(prefs, type);
    for (const channel of deliveryChannels(prefs, type)) {
      // A digest's window is aligned, so every notification of it is released at the same instant.
      // Digests gather people's channels (email, SMS, push); machines' hooks get every event.
      const digestAt =
        windowS === undefined || !QUIET_CHANNELS.has(channel)
          ? now
          : Math.ceil(now / (windowS * 1000)) * windowS * 1000;
      const quiet = quietUntil(prefs, type, channel, digestAt);
      out.push({ notificationId: row.id, channel, releaseAt: quiet ?? digestAt });
    }
  }
  return out;
}
