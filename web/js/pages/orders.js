// Order confirmation (/pedido/{number}) and the customer's orders
// (/mis-pedidos), where a pending order can be cancelled after a
// confirmation inside its row.

import { apiGet, apiSend } from '../api.js';
import { h, money } from '../dom.js';
import { lang, t } from '../i18n.js';
import { currentUser, loginHref } from '../session.js';
import { errorBox, notFound } from '../ui.js';

const ORDERS_PAGE_SIZE = 50;

function stateBadge(state) {
	return h('span', { className: `state state-${state}`, 'data-testid': 'order-state', 'data-state': state }, t(`state_${state}`));
}

function orderDate(ms) {
	return new Intl.DateTimeFormat(lang() === 'en' ? 'en-IE' : 'es-ES', { dateStyle: 'medium' }).format(new Date(ms));
}

export async function renderConfirmation(number) {
	let order;

	if (!/^[1-9][0-9]{0,18}$/.test(number))
		return notFound();
	try {
		order = (await apiGet(`/api/v1/orders/${number}`)).order;
	} catch (err) {
		if (err.status === 404 || err.status === 401)
			return notFound();
		throw err;
	}
	const address = order.shipping_address;

	return h('section', { className: 'page narrow', 'data-testid': 'page-order-confirmation' },
		h('h1', {}, t('order_thanks')),
		h('p', { className: 'lead' }, t('order_number'), ' ', h('strong', { 'data-testid': 'order-number' }, String(order.number))),
		h('p', {}, t('order_state'), ' ', stateBadge(order.state)),
		h('ul', { className: 'cart-lines' }, order.lines.map((line) =>
			h('li', { className: 'summary-line' },
				`${line.quantity} × ${line.name} (${t('line_variant', { size: line.talla, color: line.color })})`,
				' ', h('span', {}, money(line.line_total, order.currency))))),
		h('p', { className: 'total' }, t('total'), ' ', h('strong', { 'data-testid': 'order-total' }, money(order.total, order.currency))),
		h('h2', {}, t('shipping_address')),
		h('p', {}, address.name, h('br'), address.street, h('br'), `${address.postal_code} ${address.city} (${address.province})`),
		h('p', {}, t('payment_method'), ' ', t(`payment_${order.payment_method}`)),
		currentUser() ? h('p', {}, h('a', { href: '/mis-pedidos' }, t('nav_my_orders'))) : null);
}

// The cancel button of a pending order, which turns into a yes/no question.
function cancelControl(order, cancel) {
	const area = h('div', { className: 'cancel' });
	const ask = h('button', { type: 'button', 'data-testid': 'cancel-order',
		'aria-label': t('cancel_order_named', { number: order.number }), onclick: () => question() }, t('cancel_order'));

	function question() {
		const yes = h('button', { type: 'button', className: 'danger', 'data-testid': 'cancel-order-confirm',
			onclick: () => cancel(order.number) }, t('cancel_order_yes'));

		area.replaceChildren(h('p', { id: `cancel-q-${order.number}` }, t('cancel_order_question', { number: order.number })),
			yes, ' ',
			h('button', { type: 'button', 'data-testid': 'cancel-order-keep', onclick: () => {
				area.replaceChildren(ask);
				ask.focus();
			} }, t('cancel_order_no')));
		yes.setAttribute('aria-describedby', `cancel-q-${order.number}`);
		yes.focus();
	}
	area.append(ask);
	return area;
}

function orderRow(order, cancel) {
	return h('li', { className: 'order-row', 'data-testid': 'order-row', 'data-number': order.number },
		h('p', {}, h('a', { href: `/pedido/${order.number}` }, t('order_named', { number: order.number })),
			' · ', orderDate(order.created_at), ' · ', t('order_items', { count: order.item_count })),
		h('p', {}, stateBadge(order.state), ' ', h('strong', { 'data-testid': 'order-total' }, money(order.total, order.currency))),
		order.state === 'pendiente' ? cancelControl(order, cancel) : null);
}

function ordersView(orders, error, cancel) {
	return h('section', { className: 'page', 'data-testid': 'page-my-orders' },
		h('h1', {}, t('my_orders_title')),
		error ? errorBox(error) : null,
		orders.length
			? h('ul', { className: 'orders' }, orders.map((order) => orderRow(order, cancel)))
			: h('p', { 'data-testid': 'orders-empty' }, t('orders_empty'), ' ', h('a', { href: '/catalogo' }, t('see_all'))));
}

export async function renderMyOrders() {
	let page;
	let orders;

	if (!currentUser())
		return h('section', { className: 'page', 'data-testid': 'page-my-orders' },
			h('h1', {}, t('my_orders_title')),
			h('p', { 'data-testid': 'login-required' }, t('orders_login'), ' ', h('a', { href: loginHref('/mis-pedidos') }, t('login_link'))));

	// NOTE: only the newest ORDERS_PAGE_SIZE orders are listed; there is no pagination yet.
	orders = (await apiGet(`/api/v1/orders?page_size=${ORDERS_PAGE_SIZE}`)).orders;

	// Cancels one order, then redraws the list with its new state and moves focus to that row.
	async function cancel(number) {
		let error = '';

		try {
			const { order } = await apiSend('POST', `/api/v1/orders/${number}/cancel`);

			orders = orders.map((o) => (o.number === order.number ? { ...o, state: order.state, updated_at: order.updated_at } : o));
		} catch (err) {
			error = err.message;
		}
		const next = ordersView(orders, error, cancel);

		page.replaceWith(next);
		page = next;
		// The row's own button is gone; its link keeps the keyboard where it was. An error is announced by role=alert.
		next.querySelector(`[data-number="${number}"] a`)?.focus();
	}

	page = ordersView(orders, '', cancel);
	return page;
}
