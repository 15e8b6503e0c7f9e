/**
 * `npm run bench:cluster-costs`: what NATS adds per command on this machine, the per-stage costs
 * docs/scale-out.md's calculation of 100 markets over 10 engines and 4 gateways starts from (it is
 * not the bench:cluster, which needs the engine and gateway roles). Against the NATS of
 * NATS_URL (the services script provides it):
 *
 * - request/reply over core NATS (gateway → engine → gateway, the reply path), closed loop of 1;
 * - JetStream publish with a Nats-Msg-Id (the command stream), acknowledged: closed loop of 1 for
 *   the latency, then a window of 256 for the throughput; plus the same id again (deduplicated);
 * - a KV `update` at the expected revision (a lease renewal);
 * - this client's CPU µs per operation (the process's, not the server's).
 *
 * Progress on stderr; the last stdout line is one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, StringCodec } from 'nats';
import { loadAvg, machineCpu, machineDelta } from './lifecycle/common.ts';

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const N = Number(process.env.BENCH_N ?? 5_000);
const sc = StringCodec();

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
function summary(latenciesMs: number[]): { p50_ms: number; p99_ms: number } {
  latenciesMs.sort((a, b) => a - b);
  return { p50_ms: +pct(latenciesMs, 50).toFixed(3), p99_ms: +pct(latenciesMs, 99).toFixed(3) };
}
function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const loadBefore = loadAvg();
const machineBefore = machineCpu();
const nc = await connect({ servers: natsUrl });
const tag = randomBytes(4).toString('hex');

// 1. request/reply
const sub = nc.subscribe(`bench.${tag}.echo`, {
  callback: (_err, msg) => {
    msg.respond(msg.data);
  },
});
const payload = sc.encode('x'.repeat(200)); // about a place command's size on the wire
for (let i = 0; i < 500; i++) await nc.request(`bench.${tag}.echo`, payload);
let lat: number[] = [];
let cpu0 = cpuUs();
let t0 = performance.now();
for (let i = 0; i < N; i++) {
  const s = performance.now();
  await nc.request(`bench.${tag}.echo`, payload);
  lat.push(performance.now() - s);
}
const request = {
  ...summary(lat),
  per_s: Math.round(N / ((performance.now() - t0) / 1000)),
  client_cpu_us: +((cpuUs() - cpu0) / N).toFixed(1),
};
sub.unsubscribe();
process.stderr.write(`request/reply: ${JSON.stringify(request)}\n`);

// 2. JetStream publish with Nats-Msg-Id
const jsm = await nc.jetstreamManager();
const stream = `BENCH_CMDS_${tag}`;
await jsm.streams.add({ name: stream, subjects: [`bench.${tag}.cmd.>`], max_msgs: 1_000_000 });
const js = nc.jetstream();
/** `msgID` is sent as the Nats-Msg-Id header: the stream drops a repeat within its dedup window. */
const publish = (id: string) => js.publish(`bench.${tag}.cmd.m1`, payload, { msgID: id });
for (let i = 0; i < 500; i++) await publish(`warm-${i}`);
lat = [];
cpu0 = cpuUs();
t0 = performance.now();
for (let i = 0; i < N; i++) {
  const s = performance.now();
  await publish(`c-${i}`);
  lat.push(performance.now() - s);
}
const jsSerial = { ...summary(lat), per_s: Math.round(N / ((performance.now() - t0) / 1000)) };
const dup = await publish('c-0');
const WINDOW = 256;
const M = N * 4;
cpu0 = cpuUs();
t0 = performance.now();
let sent = 0;
const inflight = new Set<Promise<unknown>>();
while (sent < M) {
  while (inflight.size < WINDOW && sent < M) {
    const p: Promise<unknown> = publish(`w-${sent}`).then(() => inflight.delete(p));
    inflight.add(p);
    sent += 1;
  }
  await Promise.race(inflight);
}
await Promise.all(inflight);
const jsWindow = {
  per_s: Math.round(M / ((performance.now() - t0) / 1000)),
  client_cpu_us: +((cpuUs() - cpu0) / M).toFixed(1),
  window: WINDOW,
};
await jsm.streams.delete(stream);
process.stderr.write(`js publish: ${JSON.stringify({ jsSerial, jsWindow, duplicate: dup.duplicate })}\n`);

// 3. KV update at the expected revision (a lease renewal)
const kv = await js.views.kv(`bench_leases_${tag}`, { history: 1, ttl: 3_000 });
let rev = await kv.create('m1', 'h');
lat = [];
t0 = performance.now();
for (let i = 0; i < N / 5; i++) {
  const s = performance.now();
  rev = await kv.update('m1', 'h', rev);
  lat.push(performance.now() - s);
}
const kvUpdate = summary(lat);
await kv.destroy();
await nc.close();

const machine = machineDelta(machineBefore, machineCpu());
process.stdout.write(
  `${JSON.stringify({
    request_p50_ms: request.p50_ms,
    request_p99_ms: request.p99_ms,
    request_per_s_serial: request.per_s,
    request_client_cpu_us: request.client_cpu_us,
    js_publish_p50_ms: jsSerial.p50_ms,
    js_publish_p99_ms: jsSerial.p99_ms,
    js_publish_per_s_serial: jsSerial.per_s,
    js_publish_per_s_window: jsWindow.per_s,
    js_publish_client_cpu_us: jsWindow.client_cpu_us,
    js_duplicate_detected: dup.duplicate,
    kv_update_p50_ms: kvUpdate.p50_ms,
    kv_update_p99_ms: kvUpdate.p99_ms,
    n: N,
    steal_pct: +machine.stealPct.toFixed(2),
    busy_pct: +machine.busyPct.toFixed(1),
    load_avg: { before: loadBefore, after: loadAvg() },
    node: process.version,
  })}\n`,
);
