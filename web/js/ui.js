// Pieces of page shared by several pages.

import { h, money } from './dom.js';
import { t } from './i18n.js';

// Shows the number of units in the cart in the header badge.
export function showCartCount(cart) {
	const badge = document.querySelector('[data-testid="cart-count"]');

	badge.textContent = String(cart && cart.item_count ? cart.item_count : 0);
	badge.setAttribute('aria-label', t('cart_count_label', { count: badge.textContent }));
}

export function notFound() {
	return h('section', { className: 'page', 'data-testid': 'page-not-found' },
		h('h1', {}, t('not_found_title')),
		h('p', {}, t('not_found_text')),
		h('a', { href: '/' }, t('back_home')));
}

export function errorBox(message) {
	return h('p', { className: 'error', role: 'alert', 'data-testid': 'error-message' }, message);
}

// One product of a grid (a ProductCard of the listing API).
export function productCard(card) {
	const href = `/producto/${encodeURIComponent(card.slug)}`;
	const price = h('p', { className: 'price', 'data-testid': 'product-card-price' },
		card.price === null ? t('price_unknown') : money(card.price, card.currency));

	if (card.compare_at_price)
		price.append(' ', h('s', {}, money(card.compare_at_price, card.currency)));
	return h('li', { className: 'card', 'data-testid': 'product-card', 'data-slug': card.slug },
		h('a', { href },
			card.image
				? h('img', { src: card.image, alt: '', loading: 'lazy', width: 300, height: 300 })
				: h('div', { className: 'no-image' }),
			h('h3', { 'data-testid': 'product-card-title' }, card.name)),
		card.brand ? h('p', { className: 'brand' }, card.brand) : null,
		price,
		card.in_stock ? null : h('p', { className: 'badge-soldout' }, t('sold_out')));
}

export function productGrid(cards, testid) {
	return h('ul', { className: 'grid', 'data-testid': testid }, cards.map(productCard));
}

// The category value of the URL: the slug of a top-level category, the id
// of a subcategory (whose slug may repeat under another parent).
export function categoryValue(node, depth) {
	return depth === 0 ? node.slug : String(node.id);
}

// Links to the catalog of each category, children after their parent.
export function categoryLinks(nodes) {
	const links = [];
	const walk = (list, depth) => {
		for (const node of list || []) {
			links.push(h('li', { className: `depth-${Math.min(depth, 2)}` },
				h('a', {
					href: `/catalogo?categoria=${encodeURIComponent(categoryValue(node, depth))}`,
					'data-testid': 'category-link', 'data-slug': node.slug,
				}, node.name)));
			walk(node.children, depth + 1);
		}
	};

	walk(nodes, 0);
	return h('ul', { className: 'categories' }, links);
}
