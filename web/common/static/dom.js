// DOM helpers of every page: each piece of data reaches the page as text, never as markup.

/** The element with `id` (throws if the page lacks it: a typo should fail loudly). */
export function $(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`no element #${id}`);
  return node;
}

/**
 * A new element: `h("li", {class: "seg", dataset: {speaker: "caller"}}, "text", child)`.
 * Strings become text nodes; null/undefined/false props and children are skipped.
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Set `node`'s text (null shows nothing). */
export function text(node, value) {
  node.textContent = value === null || value === undefined ? "" : String(value);
}

/** Show or hide `node`. */
export function show(node, visible) {
  node.hidden = !visible;
}

/** A short date and time of an ISO time, in the reader's time zone. */
export function clock(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString([], {dateStyle: "short", timeStyle: "short"});
}

/** A date and time in the page's locale and the reader's zone (UNIX seconds or ISO text). */
export function when(value) {
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(document.documentElement.lang || undefined,
                             {dateStyle: "medium", timeStyle: "short"});
}

/** "m:ss" of a number of seconds. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
