import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { launchChromium, openPage, PAGE_WAIT, screenshot, type WatchedPage } from './support.ts';

/*
 * The dashboard shows a trend market's virality score and sentiment beside its price (issue 19),
 * in headless Chromium against a whole exchange: metrics posted over HTTP move the index price
 * (ticker push) and the score shown.
 */

const MARKET = 'SADJZINHLE001-USDC';

let running: RunningExchange;
let browser: Browser;
let watched: WatchedPage;
let feeder: string;

const post = (viralityScore: number, velocity: number, sentiment: number) =>
  running.request('POST', '/api/v1/trends', {
    token: feeder,
    body: {
      topic: 'DJ Zinhle dance challenge',
      region: 'SA',
      metrics: { viralityScore, velocity, sentiment },
    },
  });

beforeAll(async () => {
  [running, browser] = await Promise.all([runExchange(), launchChromium()]);
  feeder = await running.token('feeder', ['ingest']);
  await running.asset('USDC', 6, 'stable');
  expect((await post(50, 0, 0)).status).toBe(201);
  const listed = await running.request('POST', '/api/v1/trends/markets', {
    token: await running.token('admin', ['admin']),
    body: {
      symbol: 'VIRAL/SA_DJ_ZINHLE_001',
      quoteAsset: 'USDC',
      basePrice: '10.00',
      priceDecimals: 2,
      qtyDecimals: 0,
      tickSize: '0.01',
      lotSize: '1',
      minQty: '1',
    },
  });
  expect(listed.status).toBe(201);
  watched = await openPage(browser);
});

afterAll(async () => {
  await watched.close();
  await browser.close();
  await running.stop();
});

const text = (testid: string) => watched.page.getByTestId(testid).textContent();

describe('the dashboard with a trend market', () => {
  it('shows the virality score and sentiment beside the index price, and follows updates', async () => {
    expect((await watched.page.goto(`${running.http}/#${MARKET}`))?.status()).toBe(200);
    await eventually(async () => (await text('trend-virality')) === '50.00', {
      ...PAGE_WAIT,
      what: 'the score',
    });
    expect(await text('trend-symbol')).toBe('VIRAL/SA_DJ_ZINHLE_001');
    await eventually(async () => (await text('ticker-index')) === '10.00', {
      ...PAGE_WAIT,
      what: 'the index price',
    });
    expect((await post(60, 50, 0.5)).body).toMatchObject({ indexPrice: '12.25' });
    await eventually(async () => (await text('ticker-index')) === '12.25', {
      ...PAGE_WAIT,
      what: 'the new index price',
    });
    await eventually(async () => (await text('trend-virality')) === '60.00', {
      ...PAGE_WAIT,
      what: 'the new score',
    });
    expect(await text('trend-sentiment')).toBe('+0.50');
    await screenshot(watched.page, 'dashboard-trend-market');
    expect(watched.errors, `console:\n${watched.console.join('\n')}`).toEqual([]);
  });
});
