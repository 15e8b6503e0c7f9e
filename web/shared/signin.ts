import { ExchangeError, ExchangeHttp, type Role } from '../../src/client/index.ts';
import { el } from './dom.ts';

/*
 * The sign-in bar of the issuer and admin pages: the session's token (the trading page's, kept
 * in sessionStorage for the tab), a paste field, and the development sign-in (POST /dev/token,
 * answered only by a server in development).
 */

export const TOKEN_KEY = 'rwa.session.token';

export function storedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function signInBar(
  container: HTMLElement,
  http: ExchangeHttp,
  devRoles: readonly Role[],
  onToken: (token: string) => void,
): void {
  const token = el('input', {
    type: 'password',
    placeholder: 'paste a token',
    'aria-label': 'token',
    'data-testid': 'token-input',
  });
  const user = el('input', {
    placeholder: 'user id',
    value: devRoles.includes('admin') ? 'admin' : 'issuer',
    'aria-label': 'development user id',
    'data-testid': 'dev-user',
  });
  const dev = el('button', { type: 'button', 'data-testid': 'dev-sign-in' }, ['Dev sign-in']);
  const error = el('span', { class: 'field-error', role: 'alert', 'data-testid': 'session-error' });
  const form = el('form', { class: 'signin-form' }, [
    token,
    el('button', { type: 'submit', 'data-testid': 'sign-in' }, ['Sign in']),
    user,
    dev,
    error,
  ]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (token.value.trim() === '') return;
    sessionStorage.setItem(TOKEN_KEY, token.value.trim());
    onToken(token.value.trim());
  });
  dev.addEventListener('click', () => {
    http.devToken(user.value.trim(), devRoles).then(
      (minted) => {
        sessionStorage.setItem(TOKEN_KEY, minted.token);
        onToken(minted.token);
      },
      (e: unknown) => {
        error.textContent =
          e instanceof ExchangeError && e.code === 'not_found'
            ? 'development sign-in is not available (the server is not in development)'
            : String(e instanceof Error ? e.message : e);
      },
    );
  });
  container.replaceChildren(form);
}

export function messageOf(error: unknown): string {
  if (error instanceof ExchangeError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

export function isMissing(error: unknown): boolean {
  return error instanceof ExchangeError && error.code === 'not_found';
}
