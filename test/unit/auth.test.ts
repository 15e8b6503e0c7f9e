import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { Authenticator } from '../../src/transport/auth.ts';

/*
 * The gateway checks a `?token=` synchronously (Authenticator.verifyNow): a WebSocket upgrade
 * finished later from a promise is closed by uWS 20's cork() right after open (the intermittent
 * 1006 of 2026-12-01). Every other path uses jose (verify); both must answer every token alike.
 */

const SECRET = 'a-test-secret-of-some-length';
const auth = new Authenticator(SECRET);
const key = new TextEncoder().encode(SECRET);
const now = Math.floor(Date.now() / 1000);

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
/** A compact JWS of exactly this header and payload, signed HS256 with `secret`. */
function hand(header: unknown, payload: unknown, secret = SECRET): string {
  const signed = `${b64(header)}.${b64(payload)}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

const good = { sub: 'alice', roles: ['trader'] };
const HS256 = { alg: 'HS256', typ: 'JWT' };

describe('Authenticator.verifyNow', () => {
  it('answers what verify (jose) answers, for good, expired, forged and malformed tokens', async () => {
    const minted = await auth.mint('alice', ['trader', 'admin']);
    const [head, body] = minted.split('.');
    const tokens: Record<string, string> = {
      minted,
      'minted, no exp': await new SignJWT({ roles: ['issuer'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ivy')
        .sign(key),
      'roles repeated': hand(HS256, { ...good, roles: ['trader', 'trader'] }),
      'exp ahead': hand(HS256, { ...good, exp: now + 60 }),
      'exp passed': hand(HS256, { ...good, exp: now - 1 }),
      'exp now': hand(HS256, { ...good, exp: now - 0.5 }),
      'exp a string': hand(HS256, { ...good, exp: String(now + 60) }),
      'nbf ahead': hand(HS256, { ...good, nbf: now + 60 }),
      'nbf passed': hand(HS256, { ...good, nbf: now - 60 }),
      'iat a string': hand(HS256, { ...good, iat: 'yesterday' }),
      'other secret': hand(HS256, good, 'another-secret'),
      'alg none': `${b64({ alg: 'none' })}.${b64(good)}.`,
      'alg HS512': hand({ alg: 'HS512' }, good),
      'no alg': hand({ typ: 'JWT' }, good),
      'header an array': hand(['HS256'], good),
      'payload an array': hand(HS256, [good]),
      'payload not JSON': hand(HS256, 'not json'),
      'no sub': hand(HS256, { roles: ['trader'] }),
      'unknown role': hand(HS256, { sub: 'alice', roles: ['root'] }),
      'signature cut': minted.slice(0, -2),
      'signature of another payload': `${head}.${b64(good)}.${minted.split('.')[2]}`,
      'two parts': `${head}.${body}`,
      'four parts': `${minted}.x`,
      'not base64url': `${head}.${body}+.${minted.split('.')[2]}`,
      empty: '',
      garbage: 'not.a.jwt',
    };
    for (const [name, token] of Object.entries(tokens)) {
      const byJose = await auth.verify(token);
      const sync = auth.verifyNow(token);
      expect(sync.ok, name).toBe(byJose.ok);
      if (byJose.ok && sync.ok) expect(sync.value, name).toEqual(byJose.value);
      if (!byJose.ok && !sync.ok) {
        expect(sync.code, name).toBe(byJose.code);
        expect(sync.message === 'token expired', name).toBe(byJose.message === 'token expired');
      }
    }
    expect(auth.verifyNow(minted)).toMatchObject({
      ok: true,
      value: { userId: 'alice', roles: ['trader', 'admin'] },
    });
  });

  it('refuses a crit header, which jose would accept for b64 (stricter on purpose)', () => {
    const token = hand({ alg: 'HS256', crit: ['b64'], b64: true }, good);
    expect(auth.verifyNow(token)).toMatchObject({ ok: false, code: 'unauthorized' });
  });
});

describe('Authenticator.verifyNow, remembered tokens', () => {
  it('answers an accepted token alike the second time, and expired once its exp passes', () => {
    const fresh = new Authenticator(SECRET);
    const start = Date.UTC(2026, 0, 1, 12, 0, 0);
    vi.useFakeTimers({ now: start });
    try {
      const token = hand(HS256, { ...good, exp: start / 1000 + 60 });
      const first = fresh.verifyNow(token);
      expect(first).toMatchObject({ ok: true, value: { userId: 'alice', roles: ['trader'] } });
      expect(fresh.verifyNow(token)).toEqual(first);
      vi.setSystemTime(start + 59_999);
      expect(fresh.verifyNow(token).ok).toBe(true);
      vi.setSystemTime(start + 60_000);
      expect(fresh.verifyNow(token)).toMatchObject({
        ok: false,
        code: 'unauthorized',
        message: 'token expired',
      });
      // Not remembered as good afterwards either.
      expect(fresh.verifyNow(token)).toMatchObject({ ok: false, message: 'token expired' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('remembers only accepted tokens: a forged one is refused every time', () => {
    const fresh = new Authenticator(SECRET);
    const forged = hand(HS256, good, 'another-secret');
    for (let i = 0; i < 3; i++) expect(fresh.verifyNow(forged).ok).toBe(false);
    // Past the cache's bound every token is still answered (the cache starts over).
    for (let i = 0; i < 1_100; i++)
      expect(fresh.verifyNow(hand(HS256, { ...good, sub: `u${i}` })).ok).toBe(true);
    expect(fresh.verifyNow(hand(HS256, { ...good, sub: 'u0' }))).toMatchObject({
      ok: true,
      value: { userId: 'u0' },
    });
  });
});
