/**
 * What the gateway sends to a uWS topic: a message encoded once for every subscriber. The market-data
 * publisher's publications (src/marketdata/publisher.ts) and the visualizer's feed (inspection.ts)
 * are of this shape; kept apart from the gateway so neither imports it.
 */
export interface Publication {
  readonly topic: string;
  readonly message: object;
}
