/*
 * The `actors` channel's messages as the page reads them: the protocol's own shapes
 * (src/protocol/actors.ts), bundled into the page.
 */

export type {
  ActorTransition,
  ActorsMessage,
  ClusterFigures,
  ClusterMarketFigures,
  MarketUpdate,
  SupervisorFigures,
  WithdrawalActorUpdate,
} from '../../src/protocol/actors.ts';
