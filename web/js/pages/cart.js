// Cart page: lines with quantity and remove, the total, and the notices
// the API returns (a quantity lowered to the stock, a changed price).

import { apiGet, apiSend } from '../api.js';
import { h, money } from '../dom.js';
import { t } from '../i18n.js';
import { errorBox, showCartCount } from '../ui.js';

const QUANTITY_MAX = 99;

function notices(line, currency) {
	const texts = [];

	if (line.notice && line.notice.message)
		texts.push(line.notice.message);
	if (line.price_changed)
		texts.push(t('price_changed', { before: money(line.previous_price, currency), now: money(line.unit_price, currency) }));
	return texts;
}

function lineRow(line, cart, change) {
	const id = `quantity-${line.variant_id}`;
	const texts = notices(line, cart.currency);
	const quantity = h('input', {
		id, type: 'number', min: 1, max: QUANTITY_MAX, value: line.quantity, inputMode: 'numeric',
		'data-testid': 'cart-line-quantity', disabled: !line.available,
		onchange: () => {
			const value = Math.trunc(Number(quantity.value));

			if (value >= 1 && value <= QUANTITY_MAX)
				change('PATCH', line.variant_id, { quantity: value });
			else
				quantity.value = line.quantity;
		},
	});
	const title = line.available ? line.name : t('line_unavailable');

	return h('li', { className: 'cart-line', 'data-testid': 'cart-line', 'data-variant-id': line.variant_id },
		h('div', {},
			h('p', { className: 'line-title', 'data-testid': 'cart-line-title' }, title),
			line.available ? h('p', { className: 'muted' },
				t('line_variant', { size: line.talla, color: line.color }), ' · ', money(line.unit_price, cart.currency))
				: null,
			texts.map((text) => h('p', { className: 'notice', 'data-testid': 'cart-line-notice' }, text))),
		h('div', { className: 'line-actions' },
			h('label', { htmlFor: id }, t('quantity')), quantity,
			h('p', { className: 'line-total', 'data-testid': 'cart-line-total' },
				line.available ? money(line.line_total, cart.currency) : ''),
			h('button', { type: 'button', className: 'link', 'data-testid': 'cart-line-remove',
				'aria-label': t('remove_named', { name: title }),
				onclick: () => change('DELETE', line.variant_id) }, t('remove'))));
}

function cartView(cart, error, change) {
	const all = cart.lines.flatMap((line) => notices(line, cart.currency));

	showCartCount(cart);
	return h('section', { className: 'page cart', 'data-testid': 'page-cart' },
		h('h1', {}, t('cart_title')),
		error ? errorBox(error) : null,
		all.length ? h('ul', { className: 'notices', role: 'status', 'data-testid': 'cart-notices' },
			all.map((text) => h('li', {}, text))) : null,
		cart.lines.length
			? h('ul', { className: 'cart-lines' }, cart.lines.map((line) => lineRow(line, cart, change)))
			: h('p', { 'data-testid': 'cart-empty' }, t('cart_empty'), ' ', h('a', { href: '/catalogo' }, t('see_all'))),
		h('p', { className: 'total' }, t('total'), ' ',
			h('strong', { 'data-testid': 'cart-total' }, money(cart.total, cart.currency))),
		cart.lines.length ? h('p', { className: 'checkout-link' },
			h('a', { href: '/pedido', className: 'button primary', 'data-testid': 'checkout' }, t('checkout'))) : null);
}

export async function renderCart() {
	const body = await apiGet('/api/v1/cart');
	let page;

	// Sends one change and redraws the page in place with the cart it returns.
	async function change(method, variantId, payload) {
		let cart = body.cart;
		let error = '';

		try {
			cart = (await apiSend(method, `/api/v1/cart/lines/${variantId}`, payload)).cart;
			body.cart = cart;
		} catch (err) {
			error = err.message;
		}
		const next = cartView(cart, error, change);

		page.replaceWith(next);
		page = next;
	}

	page = cartView(body.cart, '', change);
	return page;
}
