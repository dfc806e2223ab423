// Storefront entry point: translates the shell, wires the header (language,
// search, cart count, logged-in user) and renders the page that matches the path.

import { apiGet, siteUrl } from './api.js';
import { h, putValues, typedValues } from './dom.js';
import { lang, loadMessages, translateShell } from './i18n.js';
import { setupSearch } from './search.js';
import { errorBox, notFound, showCartCount } from './ui.js';
import { renderHome } from './pages/home.js';
import { renderCatalog } from './pages/catalog.js';
import { renderProduct } from './pages/product.js';
import { renderCart } from './pages/cart.js';
import { renderLogin, renderRegister } from './pages/account.js';
import { renderCheckout } from './pages/checkout.js';
import { renderConfirmation, renderMyOrders } from './pages/orders.js';
import { loadUser, logout, showUser } from './session.js';

const main = document.getElementById('main');

async function refreshCartCount() {
	try {
		const body = await apiGet('/api/v1/cart');

		showCartCount(body.cart);
	} catch {
		showCartCount(null);
	}
}

function pageFor(path) {
	const product = /^\/producto\/([^/]+)$/.exec(path);
	const order = /^\/pedido\/([^/]+)$/.exec(path);
	const params = new URLSearchParams(location.search);

	if (path === '/')
		return renderHome();
	if (path === '/catalogo')
		return renderCatalog(params);
	if (product)
		return renderProduct(decodeURIComponent(product[1]));
	if (path === '/carrito')
		return renderCart();
	if (path === '/registro')
		return renderRegister(params);
	if (path === '/entrar')
		return renderLogin(params);
	if (path === '/pedido')
		return renderCheckout();
	if (order)
		return renderConfirmation(decodeURIComponent(order[1]));
	if (path === '/mis-pedidos')
		return renderMyOrders();
	return notFound();
}

// Renders the page off-screen and swaps it in whole, so a page root id
// appears only once its data is there.
async function renderPage() {
	let page;

	try {
		page = await pageFor(location.pathname);
	} catch (err) {
		page = h('section', { className: 'page' }, errorBox(err.message));
	}
	main.replaceChildren(page);
}

async function start() {
	const select = document.querySelector('[data-testid="lang-select"]');

	await loadMessages();
	translateShell(document);
	select.value = lang();
	// The page is drawn again in the new language, keeping what was typed (a half-filled checkout).
	select.addEventListener('change', async () => {
		const typed = typedValues(main);

		await loadMessages(select.value);
		translateShell(document);
		await Promise.all([renderPage(), refreshCartCount()]);
		putValues(main, typed);
	});
	setupSearch(document.querySelector('form.search'));
	// After a failover, the site's own links lead to the node that now serves the visit.
	document.addEventListener('click', (event) => {
		const link = event.target.closest ? event.target.closest('a[href^="/"]') : null;

		if (!link || siteUrl('') === '' || event.defaultPrevented || event.button !== 0 ||
		    event.metaKey || event.ctrlKey || event.shiftKey)
			return;
		event.preventDefault();
		location.assign(siteUrl(link.getAttribute('href')));
	});
	document.querySelector('[data-testid="logout"]').addEventListener('click', async () => {
		try {
			await logout();
		} catch (err) {
			main.prepend(errorBox(err.message));
		}
	});
	// The pages read the user, so it is known before they render.
	await loadUser();
	showUser();
	await Promise.all([renderPage(), refreshCartCount()]);
}

start();
