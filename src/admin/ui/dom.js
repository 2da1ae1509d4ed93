// Builds DOM nodes from data without ever parsing it as HTML: client ids and
// config values are shown as text, so none of them can inject markup.

/**
 * @param {string} tag
 * @param {Record<string, string | number | boolean | ((e: Event) => void) | undefined>} [attrs]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value)
    else if (key === 'class') el.className = String(value)
    else if (value === true) el.setAttribute(key, '')
    else el.setAttribute(key, String(value))
  }
  append(el, children)
  return el
}

/** @param {Node} el @param {unknown[]} children */
export function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
}

/** Replaces the children of `el`. @param {Element} el @param {...unknown} children */
export function fill(el, ...children) {
  el.replaceChildren()
  append(el, children)
}

/**
 * A table with a header row; `rows` are arrays of cells, `empty` shown when there are none.
 * @param {string[]} head @param {unknown[][]} rows @param {string} [empty] @param {string} [testid]
 */
export function table(head, rows, empty = 'none', testid) {
  return h(
    'table',
    { 'data-testid': testid },
    h('thead', {}, h('tr', {}, ...head.map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      rows.length === 0
        ? h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, empty))
        : rows.map((r) =>
            h(
              'tr',
              {},
              ...r.map((c) => (c instanceof HTMLElement && c.tagName === 'TD' ? c : h('td', {}, c))),
            ),
          ),
    ),
  )
}

/** A figure card: a label and a value carrying `data-field` for tests. @param {string} label @param {string} field @param {unknown} value */
export function stat(label, field, value) {
  return h(
    'div',
    { class: 'stat' },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value', 'data-field': field }, value),
  )
}
