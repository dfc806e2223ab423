// Checkout page: what is being ordered, the shipping address, the payment
// method and "place order". One Idempotency-Key is kept per checkout
// attempt in sessionStorage, so sending again after a timeout or a lost
// response returns the order already placed instead of placing a second one.

import { apiGet, apiSend, siteUrl } from '../api.js';
import { h, money } from '../dom.js';
import { field, input, onSubmit } from '../forms.js';
import { t } from '../i18n.js';
import { currentUser, loginHref } from '../session.js';
import { showCartCount } from '../ui.js';

const KEY_STORAGE = 'jkd.checkout-key';
const PAYMENT_METHODS = ['contra_entrega', 'transferencia'];

function newKey() {
	if (crypto.randomUUID)
		return crypto.randomUUID();
	// randomUUID needs a secure context; a node served over plain HTTP on a LAN address is not one.
	return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// The key of the current attempt, made on first use.
function checkoutKey() {
	let key = null;

	try {
		key = sessionStorage.getItem(KEY_STORAGE);
	} catch {
		// Storage refused: a key for this page only still covers retries without reload.
	}
	if (!key) {
		key = newKey();
		try {
			sessionStorage.setItem(KEY_STORAGE, key);
		} catch {
			// As above.
		}
	}
	return key;
}

function forgetKey() {
	try {
		sessionStorage.removeItem(KEY_STORAGE);
	} catch {
		// Nothing stored.
	}
}

function summary(cart) {
	return h('section', { className: 'summary', 'data-testid': 'checkout-summary', 'aria-labelledby': 'summary-title' },
		h('h2', { id: 'summary-title' }, t('checkout_summary')),
		h('ul', { className: 'cart-lines' }, cart.lines.filter((line) => line.available).map((line) =>
			h('li', { className: 'summary-line' },
				`${line.quantity} × ${line.name} (${t('line_variant', { size: line.talla, color: line.color })})`,
				' ', h('span', {}, money(line.line_total, cart.currency))))),
		h('p', { className: 'total' }, t('total'), ' ',
			h('strong', { 'data-testid': 'checkout-total' }, money(cart.total, cart.currency))));
}

const ADDRESS_FIELDS = [
	['name', 'address-name', { autocomplete: 'name', maxLength: 100 }],
	['street', 'address-street', { autocomplete: 'street-address', maxLength: 200 }],
	['postal_code', 'address-postal-code', { autocomplete: 'postal-code', inputMode: 'numeric', maxLength: 5 }],
	['city', 'address-city', { autocomplete: 'address-level2', maxLength: 100 }],
	['province', 'address-province', { autocomplete: 'address-level1', maxLength: 50 }],
	['phone', 'address-phone', { type: 'tel', autocomplete: 'tel', maxLength: 20 }],
];

function addressFieldset() {
	const country = h('select', { id: 'address-country', name: 'address-country', 'data-testid': 'address-country', autocomplete: 'country' },
		h('option', { value: 'ES' }, t('country_es')));

	return h('fieldset', {},
		h('legend', {}, t('shipping_address')),
		ADDRESS_FIELDS.map(([name, id, attrs]) =>
			field(t(`address_${name}`), input(id, { required: true, ...attrs }), `shipping_address.${name}`)),
		field(t('address_country'), country, 'shipping_address.country'));
}

function paymentFieldset() {
	const select = h('select', { id: 'payment-method', name: 'payment-method', 'data-testid': 'payment-method' },
		PAYMENT_METHODS.map((method) => h('option', { value: method }, t(`payment_${method}`))));

	return h('fieldset', {},
		h('legend', {}, t('payment')),
		field(t('payment_method'), select, 'payment_method'));
}

// The checkout body from the form's fields (data-field "a.b" nests under a).
function checkoutBody(form, cart) {
	const body = { shipping_address: {}, expected_total: cart.total };

	for (const el of form.elements) {
		const name = el.dataset.field;

		if (!name)
			continue;
		if (name.startsWith('shipping_address.'))
			body.shipping_address[name.slice('shipping_address.'.length)] = el.value.trim();
		else
			body[name] = el.value.trim();
	}
	return body;
}

export async function renderCheckout() {
	const { cart } = await apiGet('/api/v1/cart');
	const user = currentUser();

	if (!cart.lines.length)
		return h('section', { className: 'page narrow', 'data-testid': 'page-checkout' },
			h('h1', {}, t('checkout_title')),
			h('p', { 'data-testid': 'checkout-empty' }, t('cart_empty'), ' ', h('a', { href: '/catalogo' }, t('see_all'))));

	const button = h('button', { type: 'submit', className: 'primary', 'data-testid': 'place-order' }, t('place_order'));
	let summaryNode = summary(cart);
	const form = h('form', { className: 'form', noValidate: true },
		user ? null : h('p', {}, t('checkout_guest'), ' ', h('a', { href: loginHref('/pedido') }, t('login_link'))),
		user ? null : field(t('email'), input('checkout-email', { type: 'email', autocomplete: 'email', maxLength: 254, required: true }), 'email'),
		addressFieldset(), paymentFieldset(), button);

	onSubmit(form, button, async () => {
		try {
			const { order } = await apiSend('POST', '/api/v1/orders', checkoutBody(form, cart), { 'Idempotency-Key': checkoutKey() });

			forgetKey();
			showCartCount(null);
			location.assign(siteUrl(`/pedido/${order.number}`));
		} catch (err) {
			// Show the cart as it is now, so the next submit confirms the new total.
			const fresh = ['total_changed', 'out_of_stock', 'variant_unavailable'].includes(err.code)
				? await apiGet('/api/v1/cart').catch(() => null) : null;

			if (fresh) {
				const next = summary(Object.assign(cart, fresh.cart));

				summaryNode.replaceWith(next);
				summaryNode = next;
			}
			throw err;
		}
	});
	return h('section', { className: 'page narrow', 'data-testid': 'page-checkout' },
		h('h1', {}, t('checkout_title')), summaryNode, form);
}
