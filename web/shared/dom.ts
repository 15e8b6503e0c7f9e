/*
 * The few DOM helpers the pages share: no framework, so the pages stay small and every update is
 * an explicit write to a node that already exists.
 */

type Attributes = Readonly<Record<string, string | number | boolean | undefined>>;

/** Creates an element with attributes (`class`, `data-*`, …) and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  children: readonly (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  node.append(...children);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  children: readonly (Node | string)[] = [],
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attributes);
  node.append(...children);
  return node;
}

function setAttributes(node: Element, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
}

/** The element with this id; throws when the page lacks it (a broken page should fail loudly). */
export function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node;
}

/** The element with this id, checked to be of `type`. */
export function byIdOf<T extends HTMLElement>(id: string, type: new () => T): T {
  const node = byId(id);
  if (!(node instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return node;
}

/** Sets text only when it changed: cheaper than a layout-invalidating write of the same text. */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

/** The WebSocket endpoint of the server that served the page. */
export function webSocketUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

/** A table with a header row of these column names over `body` (a scrolling wrapper around it). */
export function table(headers: readonly string[], body: HTMLElement): HTMLElement {
  return el('div', { class: 'table-wrap' }, [
    el('table', {}, [
      el('thead', {}, [
        el(
          'tr',
          {},
          headers.map((h) => el('th', { scope: 'col' }, [h])),
        ),
      ]),
      body,
    ]),
  ]);
}

/** The one row of an empty table, spanning its columns. */
export function emptyRow(columns: number, text: string): HTMLElement {
  return el('tr', { class: 'empty' }, [el('td', { colspan: columns }, [text])]);
}
