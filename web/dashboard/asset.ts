import type { ComplianceDocument, ExchangeHttp, MarketDetails } from '../../src/client/index.ts';
import { el } from '../shared/dom.ts';

/*
 * The RWA asset panel: what the issuer registered (valuation, location, supply, documents) and
 * where its token lives (contract address, deployment transaction). Markets listed directly (no
 * issuance) have no asset record: the panel says so.
 */

export class AssetPanel {
  #generation = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly http: ExchangeHttp,
  ) {}

  show(symbol: string): void {
    const generation = ++this.#generation;
    this.container.replaceChildren(el('p', { class: 'empty' }, ['…']));
    this.http.details(symbol).then(
      (details) => {
        if (generation === this.#generation) this.#render(details);
      },
      () => {
        if (generation === this.#generation)
          this.container.replaceChildren(el('p', { class: 'empty' }, ['asset details not available']));
      },
    );
  }

  #render(d: MarketDetails): void {
    if (d.asset === null) {
      this.container.replaceChildren(
        el('p', { class: 'empty', 'data-testid': 'asset-none' }, [
          `${d.symbol}: listed pair, no registered asset`,
        ]),
      );
      return;
    }
    const a = d.asset;
    const rows: [string, Node | string][] = [
      ['Name', d.name ?? d.symbol],
      ['Type', d.assetType ?? '—'],
      ['Valuation', a.valuation === undefined ? '—' : `${String(a.valuation)} ${a.currency ?? ''}`.trim()],
      ['Location', a.location ?? '—'],
      ['Supply', d.totalSupply === undefined ? '—' : `${d.totalSupply} ${d.tokenSymbol ?? d.baseAsset}`],
      ['Token', d.tokenName ?? '—'],
      ['Contract', d.contractAddress === undefined ? 'not deployed' : el('code', {}, [d.contractAddress])],
      ['Deployment tx', d.deploymentTxHash === undefined ? '—' : el('code', {}, [d.deploymentTxHash])],
      ['Documents', documents(a.complianceDocuments ?? [])],
    ];
    this.container.replaceChildren(
      el(
        'dl',
        { class: 'asset-details', 'data-testid': 'asset-details' },
        rows.flatMap(([k, v]) => [el('dt', {}, [k]), el('dd', {}, [v])]),
      ),
    );
  }
}

function documents(docs: readonly ComplianceDocument[]): Node {
  if (docs.length === 0) return document.createTextNode('—');
  return el(
    'ul',
    { class: 'documents' },
    docs.map((doc) =>
      el('li', {}, [
        typeof doc === 'string'
          ? doc
          : /^https?:\/\//.test(doc.url)
            ? el('a', { href: doc.url, target: '_blank', rel: 'noopener noreferrer' }, [doc.name])
            : doc.name,
      ]),
    ),
  );
}
