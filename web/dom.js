// Small DOM and formatting helpers shared by both pages. Everything from the daemon (customer
// names, notes, caller names from the switch) is untrusted text: it only ever goes into the
// page through textContent, never innerHTML.

/**
 * Build an element. props: `test` (data-test), `text`, `class`, `attrs` (attributes),
 * `data` (dataset), `on` (event listeners); other keys are set as properties.
 */
export function el(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'test') element.dataset.test = value;
    else if (key === 'text') element.textContent = value;
    else if (key === 'class') element.className = value;
    else if (key === 'attrs') for (const [name, v] of Object.entries(value)) element.setAttribute(name, v);
    else if (key === 'data') Object.assign(element.dataset, value);
    else if (key === 'on') for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    else element[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** The element with this data-test value (the same hook the tests use). */
export function byTest(name, root = document) {
  return root.querySelector(`[data-test="${name}"]`);
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

/** "15:04:05" in the browser's zone, from an ISO timestamp; '' when there is none. */
export function clockTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString([], { hour12: false });
}

/** "22 Nov 2026, 15:04" in the browser's zone. */
export function dateTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short', hour12: false });
}

/**
 * A local time as the daemon sends it ("2026-11-30T08:00:00-05:00"): shown as written, on
 * the customer's clock, because that is the clock the calling window is read on.
 */
export function customerClock(local) {
  if (!local) return '';
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2})?(.*)$/.exec(local);
  return match ? `${match[1]} ${match[2]} (UTC${match[3] === 'Z' ? '' : match[3]})` : local;
}

/** "4 s", "2 min 05 s", "1 h 03 min". */
export function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** A field that is shown only when the daemon sent something in it. */
export function labelled(label, value, test) {
  if (value === undefined || value === null || value === '') return null;
  return el('div', { class: 'field' },
    el('span', { class: 'field-label', text: label }),
    el('span', { class: 'field-value', test, text: String(value) }));
}
