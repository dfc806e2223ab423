// Admin panel entry point: checks the session (login form when there is
// none, a notice when the account is not an admin), wires the header and
// renders the page that matches the path below /admin.

import { h } from '../../js/dom.js';
import { ApiError, apiGet, hasCsrf, request, setCsrf } from './api.js';
import { lang, loadMessages, t, translateShell } from './i18n.js';
import { errorBox } from './ui.js';
import { renderProducts } from './products.js';
import { renderProductEdit } from './product_edit.js';
import { renderOrders, renderCustomers, renderAudit } from './lists.js';
import { renderBulk } from './bulk.js';

const main = document.getElementById('main');
let user = null;

function pageFor(path) {
	const product = /^\/admin\/productos\/(\d+)$/.exec(path);

	if (path === '/admin' || path === '/admin/' || path === '/admin/productos')
		return renderProducts(new URLSearchParams(location.search));
	if (path === '/admin/productos/nuevo')
		return renderProductEdit(null);
	if (product)
		return renderProductEdit(Number(product[1]));
	if (path === '/admin/pedidos')
		return renderOrders(new URLSearchParams(location.search));
	if (path === '/admin/clientes')
		return renderCustomers(new URLSearchParams(location.search));
	if (path === '/admin/auditoria')
		return renderAudit();
	if (path === '/admin/masivo')
		return renderBulk();
	return h('section', { className: 'page', 'data-testid': 'page-not-found' },
		h('h1', {}, t('not_found_title')),
		h('a', { href: '/admin' }, t('back_admin')));
}

function showHeader() {
	const isAdmin = user && user.role === 'admin';

	document.querySelector('.admin-nav').hidden = !isAdmin;
	document.querySelector('[data-testid="admin-logout"]').hidden = !user;
	document.querySelector('[data-testid="admin-user"]').textContent = user ? user.email : '';
}

async function login(form, status) {
	const data = new FormData(form);

	status.textContent = '';
	try {
		const { body } = await request('POST', '/api/v1/auth/login',
			{ body: { email: data.get('email'), password: data.get('password') } });

		setCsrf(body.csrf_token);
		user = body.user;
		await renderPage();
	} catch (err) {
		status.textContent = err.message;
	}
}

function loginPage() {
	const status = h('p', { className: 'error', role: 'alert', 'data-testid': 'admin-login-error' });
	const form = h('form', { className: 'admin-login', onsubmit: (ev) => { ev.preventDefault(); login(form, status); } },
		h('label', {}, t('email'),
			h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username',
				maxLength: 254, 'data-testid': 'admin-login-email' })),
		h('label', {}, t('password'),
			h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password',
				maxLength: 128, 'data-testid': 'admin-login-password' })),
		h('button', { type: 'submit', className: 'primary', 'data-testid': 'admin-login-submit' }, t('login')),
		status);

	return h('section', { className: 'page', 'data-testid': 'page-admin-login' },
		h('h1', {}, t('login_title')), form);
}

function notAdminPage() {
	return h('section', { className: 'page', 'data-testid': 'admin-not-admin' },
		h('h1', {}, t('not_admin_title')),
		h('p', { role: 'alert' }, t('not_admin_text', { email: user.email })),
		h('button', { type: 'button', onclick: logout }, t('logout')));
}

async function logout() {
	try {
		await request('POST', '/api/v1/auth/logout');
	} catch {
		// An expired session is as good as closed.
	}
	setCsrf('');
	user = null;
	await renderPage();
}

// Renders the page off-screen and swaps it in whole, so a page root id
// appears only once its data is there.
async function renderPage() {
	let page;

	showHeader();
	try {
		if (!user)
			page = loginPage();
		else if (user.role !== 'admin')
			page = notAdminPage();
		else
			page = await pageFor(location.pathname);
	} catch (err) {
		if (err instanceof ApiError && err.status === 401) {
			user = null;
			showHeader();
			page = loginPage();
		} else {
			page = h('section', { className: 'page' }, errorBox(err.message));
		}
	}
	main.replaceChildren(page);
}

async function whoAmI() {
	try {
		user = hasCsrf() ? (await apiGet('/api/v1/me')).user : null;
	} catch {
		user = null;
	}
}

async function start() {
	const select = document.querySelector('[data-testid="lang-select"]');

	await loadMessages();
	translateShell(document);
	select.value = lang();
	select.addEventListener('change', async () => {
		await loadMessages(select.value);
		translateShell(document);
		await renderPage();
	});
	document.querySelector('[data-testid="admin-logout"]').addEventListener('click', logout);
	await whoAmI();
	await renderPage();
}

start();
