import { Counter } from 'prom-client';

/*
 * What the gateway's bounds refuse and what its snapshot caches save, on prom-client's default
 * register (GET /metrics). Labels come from closed sets written here, never from input.
 */

/** Book snapshots encoded for the wire: once per market, depth and seq, whoever asks. */
export const bookSnapshotEncodings = new Counter({
  name: 'exchange_book_snapshot_encodings_total',
  help: 'Book snapshots encoded (msgpack for WebSocket subs, json for GET /markets/:id/book); cached until the book changes',
  labelNames: ['format'] as const,
});

/** Requests refused by a bound, by the bound's name. */
export const boundRefusals = new Counter({
  name: 'exchange_bound_refusals_total',
  help: 'Requests and connections refused by a configured bound',
  labelNames: ['bound'] as const,
});

export type Bound =
  | 'ws_frames'
  | 'ws_subs'
  | 'ws_snapshot_bytes'
  | 'ws_pending_requests'
  | 'ws_connections'
  | 'ws_connections_per_ip'
  | 'http_pending_requests'
  | 'http_rate';

export function refused(bound: Bound): void {
  boundRefusals.inc({ bound });
}
