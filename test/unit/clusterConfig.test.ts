import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

/** ROLE and the lease settings (src/cluster/config.ts): only `all` runs today, and says so. */
describe('cluster config', () => {
  it('defaults to ROLE=all with a 3 s lease renewed every second', () => {
    const config = loadConfig({});
    expect(config.ROLE).toBe('all');
    expect(config.LEASE_TTL_MS).toBe(3_000);
    expect(config.LEASE_RENEW_MS).toBe(1_000);
    expect(config.NATS_URL).toBeUndefined();
  });

  it('takes NATS_URL and ENGINE_ID', () => {
    const config = loadConfig({ NATS_URL: 'nats://127.0.0.1:4222', ENGINE_ID: 'engine-1' });
    expect(config.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(config.ENGINE_ID).toBe('engine-1');
  });

  it('refuses an unknown role, a role not built yet, and a renewal too slow for its TTL', () => {
    expect(() => loadConfig({ ROLE: 'router' })).toThrow(/ROLE/);
    expect(() => loadConfig({ ROLE: 'engine' })).toThrow(/ROLE=engine is not built yet/);
    expect(() => loadConfig({ LEASE_TTL_MS: '3000', LEASE_RENEW_MS: '2000' })).toThrow(/LEASE_RENEW_MS/);
    expect(() => loadConfig({ ENGINE_ID: 'bad id' })).toThrow(/ENGINE_ID/);
  });
});
