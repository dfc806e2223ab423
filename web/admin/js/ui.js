// Pieces shared by the admin pages. API text only reaches the page through
// h(), which inserts it as text nodes.

import { h } from '../../js/dom.js';

export function errorBox(message) {
	return h('p', { className: 'error', role: 'alert', 'data-testid': 'error-message' }, message);
}

// A table with a header row of titles and one row per item, made by row(item).
export function table(titles, items, row) {
	return h('table', { className: 'admin-table' },
		h('thead', {}, h('tr', {}, titles.map((title) => h('th', { scope: 'col' }, title)))),
		h('tbody', {}, items.map(row)));
}

// A status line that shows the result of the last action.
export function statusLine(testid) {
	return h('p', { role: 'status', className: 'status', 'data-testid': testid });
}

// Parses "12,5" or "12.50" euros into cents; null when empty, NaN when not a number.
export function parseEuros(text) {
	const value = String(text).trim().replace(',', '.');

	if (value === '')
		return null;
	if (!/^\d+(\.\d{1,2})?$/.test(value))
		return NaN;
	return Math.round(Number(value) * 100);
}

// Cents as the text of a euro input ("12.50").
export function centsToInput(cents) {
	return cents === null || cents === undefined ? '' : (cents / 100).toFixed(2);
}
