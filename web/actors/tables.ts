import { el } from '../shared/dom.ts';

/*
 * The system panel's two ways of drawing figures (system.ts, cluster.ts): labelled values, and a
 * table with a row per item (`data-testid` = the item kind, `data-name` = its first cell, more
 * `data-*` attributes per row when given).
 */

export function figures(
  container: HTMLElement,
  values: readonly [string, string | number | undefined][],
): void {
  container.replaceChildren(
    ...values.map(([label, value]) =>
      el('div', { class: 'figure', 'data-figure': label }, [
        el('span', {}, [label]),
        el('b', {}, [value === undefined ? '—' : String(value)]),
      ]),
    ),
  );
}

export function rows(
  container: HTMLElement,
  head: readonly string[],
  body: readonly (readonly string[])[],
  rowClass: (index: number) => string,
  testid: string,
  /** More attributes of a row (`data-owner`, …). */
  rowData: (index: number) => Readonly<Record<string, string>> = () => ({}),
): void {
  container.replaceChildren(
    el('table', { class: 'system-table' }, [
      el('thead', {}, [
        el(
          'tr',
          {},
          head.map((h) => el('th', {}, [h])),
        ),
      ]),
      el(
        'tbody',
        {},
        body.length === 0
          ? [el('tr', {}, [el('td', { colspan: head.length, class: 'muted' }, ['none'])])]
          : body.map((cells, i) =>
              el(
                'tr',
                { ...rowData(i), class: rowClass(i), 'data-testid': testid, 'data-name': cells[0] },
                cells.map((c) => el('td', {}, [c])),
              ),
            ),
      ),
    ]),
  );
}
