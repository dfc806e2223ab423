// Storefront entry point: translates the shell, wires the header (language,
// search, cart count) and renders the page that matches the path.

import { apiGet } from './api.js';
import { h } from './dom.js';
import { lang, loadMessages, translateShell } from './i18n.js';
import { setupSearch } from './search.js';
import { errorBox, notFound, showCartCount } from './ui.js';
import { renderHome } from './pages/home.js';
import { renderCatalog } from './pages/catalog.js';
import { renderProduct } from './pages/product.js';
import { renderCart } from './pages/cart.js';

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

	if (path === '/')
		return renderHome();
	if (path === '/catalogo')
		return renderCatalog(new URLSearchParams(location.search));
	if (product)
		return renderProduct(decodeURIComponent(product[1]));
	if (path === '/carrito')
		return renderCart();
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
	select.addEventListener('change', async () => {
		await loadMessages(select.value);
		translateShell(document);
		await Promise.all([renderPage(), refreshCartCount()]);
	});
	setupSearch(document.querySelector('form.search'));
	await Promise.all([renderPage(), refreshCartCount()]);
}

start();
