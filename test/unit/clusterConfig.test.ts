import { describe, expect, it } from 'vitest';
import { natsConnectionOptions } from '../../src/cluster/config.ts';
import { loadConfig } from '../../src/config.ts';

/** ROLE and the lease settings (src/cluster/config.ts): `all` runs alone; `engine`, `gateway` and `worker` need NATS_URL. */
describe('cluster config', () => {
  it('defaults to ROLE=all with a 3 s lease renewed every second', () => {
    const config = loadConfig({});
    expect(config.ROLE).toBe('all');
    expect(config.LEASE_TTL_MS).toBe(3_000);
    expect(config.LEASE_RENEW_MS).toBe(1_000);
    expect(config.NATS_URL).toBeUndefined();
    expect(config.NATS_KV_REPLICAS).toBe(1);
  });

  it('takes the servers of a NATS cluster in NATS_URL and the KV replicas', () => {
    const config = loadConfig({
      ROLE: 'engine',
      NATS_URL: 'nats://127.0.0.1:4222, nats://127.0.0.1:4223,nats://127.0.0.1:4224',
      NATS_KV_REPLICAS: '3',
    });
    expect(config.NATS_URL).toBe('nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224');
    expect(config.NATS_KV_REPLICAS).toBe(3);
    expect(natsConnectionOptions(config.NATS_URL!, 'engine e1')).toEqual({
      servers: ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223', 'nats://127.0.0.1:4224'],
      name: 'engine e1',
      maxReconnectAttempts: -1,
    });
    expect(() => loadConfig({ NATS_URL: 'nats://127.0.0.1:4222,not a url' })).toThrow(/NATS_URL/);
    expect(() => loadConfig({ NATS_URL: '' })).toThrow(/NATS_URL/);
    expect(() => loadConfig({ NATS_KV_REPLICAS: '0' })).toThrow(/NATS_KV_REPLICAS/);
    expect(() => loadConfig({ NATS_KV_REPLICAS: '6' })).toThrow(/NATS_KV_REPLICAS/);
    expect(() => loadConfig({ NATS_KV_REPLICAS: '2.5' })).toThrow(/NATS_KV_REPLICAS/);
  });

  it('takes NATS_URL and ENGINE_ID', () => {
    const config = loadConfig({ NATS_URL: 'nats://127.0.0.1:4222', ENGINE_ID: 'engine-1' });
    expect(config.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(config.ENGINE_ID).toBe('engine-1');
  });

  it('runs engine, gateway and worker roles with NATS_URL, in a cluster named by CLUSTER_NAME', () => {
    const engine = loadConfig({ ROLE: 'engine', NATS_URL: 'nats://127.0.0.1:4222', CLUSTER_NAME: 'c-1' });
    expect(engine.ROLE).toBe('engine');
    expect(engine.CLUSTER_NAME).toBe('c-1');
    expect(loadConfig({ ROLE: 'gateway', NATS_URL: 'nats://127.0.0.1:4222' }).CLUSTER_NAME).toBe('exchange');
    expect(loadConfig({ ROLE: 'worker', NATS_URL: 'nats://127.0.0.1:4222' }).ROLE).toBe('worker');
  });

  it('refuses an unknown role, a cluster role without NATS, and a renewal too slow for its TTL', () => {
    expect(() => loadConfig({ ROLE: 'router' })).toThrow(/ROLE/);
    expect(() => loadConfig({ ROLE: 'engine' })).toThrow(/ROLE=engine needs NATS_URL/);
    expect(() => loadConfig({ ROLE: 'worker' })).toThrow(/ROLE=worker needs NATS_URL/);
    expect(() => loadConfig({ CLUSTER_NAME: 'a.b' })).toThrow(/CLUSTER_NAME/);
    expect(() => loadConfig({ LEASE_TTL_MS: '3000', LEASE_RENEW_MS: '2000' })).toThrow(/LEASE_RENEW_MS/);
    expect(() => loadConfig({ ENGINE_ID: 'bad id' })).toThrow(/ENGINE_ID/);
  });
});
