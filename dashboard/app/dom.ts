/** A few DOM helpers: elements are built with textContent, never from HTML strings. */

type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') node.className = String(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

/** The element with this id; throws when the page lacks it (a bug in page.ts). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`dashboard page has no #${id}`);
  return node as T;
}

export function swatch(color: string): HTMLSpanElement {
  const s = el('span', { class: 'swatch' });
  s.style.background = color;
  return s;
}

/** The canvas inside a chart container. */
export function canvasIn(container: HTMLElement): HTMLCanvasElement {
  const c = container.querySelector('canvas');
  if (!c) throw new Error(`#${container.id} has no canvas`);
  return c;
}
