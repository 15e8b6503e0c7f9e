import { Counter, Gauge, register } from 'prom-client';

/*
 * The cluster's figures on /metrics (prom-client's default register): lease takeovers and losses,
 * redelivered commands answered from the journal, command retries at a gateway, markets owned.
 * Registered once per process, on first use (ROLE=all never registers them).
 */

function counter(name: string, help: string): Counter {
  const existing = register.getSingleMetric(name);
  return existing instanceof Counter ? existing : new Counter({ name, help });
}

function gauge(name: string, help: string): Gauge {
  const existing = register.getSingleMetric(name);
  return existing instanceof Gauge ? existing : new Gauge({ name, help });
}

export interface ClusterMetrics {
  readonly takeovers: Counter;
  readonly leaseLosses: Counter;
  readonly leaseRenewals: Gauge;
  readonly redeliveries: Counter;
  readonly retries: Counter;
  readonly ownedMarkets: Gauge;
}

let metrics: ClusterMetrics | undefined;

export function clusterMetrics(): ClusterMetrics {
  metrics ??= {
    takeovers: counter(
      'exchange_cluster_takeovers_total',
      'Markets this engine took over (lease, claim, catch-up)',
    ),
    leaseLosses: counter('exchange_cluster_lease_losses_total', 'Market leases this engine lost'),
    leaseRenewals: gauge(
      'exchange_cluster_lease_renewals',
      'Successful lease renewals of the markets held now',
    ),
    redeliveries: counter(
      'exchange_cluster_redeliveries_total',
      'Commands asked again (same id) and answered with their first result',
    ),
    retries: counter(
      'exchange_cluster_command_retries_total',
      'Command requests a gateway sent again (timeout, no responder, owner moving)',
    ),
    ownedMarkets: gauge('exchange_cluster_owned_markets', 'Markets this engine owns'),
  };
  return metrics;
}
