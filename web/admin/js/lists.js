// Orders by state with state changes, the customer list and the audit log.

import { h } from '../../js/dom.js';
import { apiGet, request, withQuery } from './api.js';
import { dateTime, money, t } from './i18n.js';
import { statusLine, table } from './ui.js';

const STATES = ['pendiente', 'pagada', 'enviada', 'entregada', 'cancelada'];
// The states an order may move to from each state (see OrderState in docs/api/openapi.yaml).
const NEXT = {
	pendiente: ['pagada', 'cancelada'], pagada: ['enviada', 'cancelada'], enviada: ['entregada'],
	entregada: [], cancelada: [],
};
const PAGE_SIZE = 50;

function pageNumber(params) {
	const page = Number(params.get('pagina'));

	return Number.isInteger(page) && page > 0 ? page : 1;
}

// Previous and next links for a page of total items.
function pager(path, params, page, total) {
	const link = (to, testid, text) => {
		const query = Object.fromEntries(params);

		query.pagina = to;
		return h('a', { href: withQuery(path, query), 'data-testid': testid }, text);
	};

	return h('nav', { className: 'pager' },
		page > 1 ? link(page - 1, 'admin-page-prev', t('previous')) : null,
		h('span', {}, t('page_of', { page, pages: Math.max(1, Math.ceil(total / PAGE_SIZE)) })),
		page * PAGE_SIZE < total ? link(page + 1, 'admin-page-next', t('next')) : null);
}

function stateSelect(order, status) {
	const select = h('select', { 'data-testid': 'order-state-select', 'data-number': order.number,
		'aria-label': t('order_state_label', { number: order.number }) });
	const fill = (state) => {
		select.replaceChildren(...[state, ...NEXT[state]].map((s) => h('option', { value: s }, t(`state_${s}`))));
		select.value = state;
		select.disabled = NEXT[state].length === 0;
		select.dataset.state = state;
	};

	select.addEventListener('change', async () => {
		const from = select.dataset.state;

		select.disabled = true;
		try {
			const { body } = await request('POST', `/api/v1/admin/orders/${order.number}/state`, { body: { state: select.value } });

			fill(body.order.state);
			status.textContent = t('order_state_changed', { number: order.number, state: t(`state_${body.order.state}`) });
		} catch (err) {
			fill(from);
			status.textContent = err.message;
		}
	});
	fill(order.state);
	return select;
}

export async function renderOrders(params) {
	const state = STATES.includes(params.get('estado')) ? params.get('estado') : '';
	const page = pageNumber(params);
	const body = await apiGet(withQuery('/api/v1/admin/orders', { state, page, page_size: PAGE_SIZE }));
	const status = statusLine('order-status');
	const filter = h('select', { 'data-testid': 'admin-orders-filter', 'aria-label': t('filter_state') },
		h('option', { value: '' }, t('all_states')),
		STATES.map((s) => h('option', { value: s }, t(`state_${s}`))));

	filter.value = state;
	filter.addEventListener('change', () => {
		location.assign(withQuery('/admin/pedidos', { estado: filter.value }));
	});
	return h('section', { className: 'page', 'data-testid': 'admin-orders' },
		h('h1', {}, t('orders_title')),
		filter, status,
		body.orders.length === 0 ? h('p', { 'data-testid': 'admin-orders-empty' }, t('orders_empty'))
			: table([t('col_number'), t('col_date'), t('col_customer'), t('col_items'), t('col_total'), t('col_state')],
				body.orders, (order) => h('tr', { 'data-testid': 'admin-order-row', 'data-number': order.number },
					h('td', {}, String(order.number)),
					h('td', {}, dateTime(order.created_at)),
					h('td', {}, order.customer ? order.customer.email : ''),
					h('td', {}, String(order.item_count)),
					h('td', {}, money(order.total)),
					h('td', {}, stateSelect(order, status)))),
		pager('/admin/pedidos', params, page, body.total));
}

export async function renderCustomers(params) {
	const page = pageNumber(params);
	const body = await apiGet(withQuery('/api/v1/admin/customers', { page, page_size: PAGE_SIZE }));

	return h('section', { className: 'page', 'data-testid': 'admin-customers' },
		h('h1', {}, t('customers_title')),
		table([t('col_id'), t('col_email'), t('col_name'), t('col_since'), t('col_orders'), t('col_spent')],
			body.customers, (c) => h('tr', { 'data-testid': 'admin-customer-row', 'data-id': c.id },
				h('td', {}, String(c.id)), h('td', {}, c.email), h('td', {}, c.name),
				h('td', {}, dateTime(c.created_at)), h('td', {}, String(c.order_count)),
				h('td', {}, money(c.total_spent)))),
		pager('/admin/clientes', params, page, body.total));
}

function auditRow(entry) {
	return h('tr', { 'data-testid': 'admin-audit-row', 'data-seq': entry.seq },
		h('td', {}, String(entry.seq)), h('td', {}, dateTime(entry.at)),
		h('td', {}, entry.who ? entry.who.email : ''), h('td', {}, entry.action),
		h('td', {}, String(entry.target)), h('td', {}, entry.summary));
}

export async function renderAudit() {
	let page = await apiGet(withQuery('/api/v1/admin/audit', { limit: PAGE_SIZE }));
	const rows = table([t('col_seq'), t('col_date'), t('col_who'), t('col_action'), t('col_target'), t('col_summary')],
		page.entries, auditRow);
	const more = h('button', { type: 'button', 'data-testid': 'admin-audit-more', hidden: page.next_before === null },
		t('more'));

	more.addEventListener('click', async () => {
		page = await apiGet(withQuery('/api/v1/admin/audit', { limit: PAGE_SIZE, before: page.next_before }));
		rows.tBodies[0].append(...page.entries.map(auditRow));
		more.hidden = page.next_before === null;
	});
	return h('section', { className: 'page', 'data-testid': 'admin-audit' },
		h('h1', {}, t('audit_title')), rows, more);
}
