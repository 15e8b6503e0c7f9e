/*
 * Reading Prometheus's text exposition format in tests, and the naming rules of
 * https://prometheus.io/docs/practices/naming/ that `promtool check metrics` enforces (base units,
 * `_total` on counters and only on them, a HELP text for each metric).
 */

export interface ExposedMetric {
  readonly name: string;
  readonly type: string;
  readonly help: string | undefined;
  /** Sample lines' series names (with suffixes such as `_bucket`) and their label names. */
  readonly samples: readonly { readonly series: string; readonly labels: readonly string[] }[];
}

export function parseExposition(text: string): Map<string, ExposedMetric> {
  const metrics = new Map<
    string,
    { name: string; type: string; help?: string; samples: ExposedMetric['samples'][number][] }
  >();
  const of = (name: string) => {
    let metric = metrics.get(name);
    if (metric === undefined) metrics.set(name, (metric = { name, type: 'untyped', samples: [] }));
    return metric;
  };
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help !== null) {
      of(help[1]!).help = help[2];
      continue;
    }
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      of(type[1]!).type = type[2]!;
      current = type[1];
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (sample === null) throw new Error(`not an exposition line: ${line}`);
    const labels = [...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((m) => m[1]!);
    const owner = current !== undefined && sample[1]!.startsWith(current) ? current : sample[1]!;
    of(owner).samples.push({ series: sample[1]!, labels });
  }
  return metrics as Map<string, ExposedMetric>;
}

/** Units Prometheus wants converted to base units (seconds, bytes). */
const NON_BASE_UNITS =
  /_(ms|millis|milliseconds|us|micros|microseconds|ns|nanoseconds|minutes|hours|days|kb|mb|gb|kilobytes|megabytes|gigabytes|percent)(_total|_sum|_count|_bucket)?$/;

/** What promtool's `check metrics` would complain about, one line per problem. */
export function checkMetricNames(metrics: ReadonlyMap<string, ExposedMetric>): string[] {
  const problems: string[] = [];
  for (const metric of metrics.values()) {
    const { name, type } = metric;
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) problems.push(`${name}: not a valid metric name`);
    if (metric.help === undefined || metric.help === '') problems.push(`${name}: no HELP text`);
    if (type === 'counter' && !name.endsWith('_total'))
      problems.push(`${name}: a counter's name ends in _total`);
    if (type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: only counters end in _total`);
    if (NON_BASE_UNITS.test(name)) problems.push(`${name}: use base units (seconds, bytes)`);
    if (
      /(duration|latency|lag|_time)(_|$)/.test(name) &&
      !/(_seconds|_records|_timestamp_seconds)$/.test(name.replace(/_total$/, ''))
    ) {
      problems.push(`${name}: a time is measured in seconds (name ends in _seconds)`);
    }
    for (const sample of metric.samples) {
      for (const label of sample.labels) {
        if (label.startsWith('__')) problems.push(`${name}: label ${label} is reserved`);
      }
    }
  }
  return problems;
}
