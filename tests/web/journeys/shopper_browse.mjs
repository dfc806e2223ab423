// A shopper on the demo catalog searches "zapatos" with suggestions, filters
// the catalog by talla 42, opens a product, chooses a sold-out talla × color,
// then adds an available one to the cart and finds it on the cart page. The
// shopper registers, checks out and finds the order in "mis pedidos".
// Another node of the cluster then serves the same product page.

import { expectAttribute, expectCount, expectText, expectUrl, expectVisible } from '../lib/expect.mjs';
import { ADMIN, runJourney } from '../lib/journey.mjs';
import { login, product, sellOut } from '../lib/shop.mjs';

const SEARCH = 'zapatos';
const TALLA = '42';

// Digits only, so "84,95 €" and "€84.95" both read as 8495 cents.
const cents = (text) => Number(text.replace(/\D/g, ''));

// Picks, among the listed products, one with an available variant in TALLA
// and a sold-out combination in another colour or talla. When the demo
// catalog has no sold-out variant there, one is sold out through the admin API.
async function choose(url, slugs) {
  let fallback = null;

  for (const slug of slugs) {
    const p = await product(url, slug);
    const wanted = p.variants.find((v) => v.talla === TALLA && v.available);
    if (!wanted) {
      continue;
    }
    const soldOut = p.variants.find((v) => !v.available && v.id !== wanted.id);
    if (soldOut) {
      return { product: p, wanted, soldOut };
    }
    fallback ??= { product: p, wanted, soldOut: p.variants.find((v) => v.talla !== TALLA) };
  }
  if (!fallback?.soldOut) {
    throw new Error(`no listed product has talla ${TALLA} in stock and a second variant: ${slugs.join(', ')}`);
  }
  const token = await login(url, ADMIN.email, ADMIN.password);
  await sellOut(url, token, fallback.product.id, fallback.soldOut.id);
  return fallback;
}

async function pickVariant(page, variant) {
  await page.locator(`[data-testid="color-option"][data-value="${variant.color}"]`).click();
  await page.locator(`[data-testid="size-option"][data-value="${variant.talla}"]`).click();
  await expectAttribute(page.locator(`[data-testid="color-option"][data-value="${variant.color}"]`),
    'aria-pressed', 'true', `colour ${variant.color} chosen`);
  await expectAttribute(page.locator(`[data-testid="size-option"][data-value="${variant.talla}"]`),
    'aria-pressed', 'true', `talla ${variant.talla} chosen`);
}

await runJourney('web_shopper_browse', { demo: true }, async ({ page, cluster }) => {
  const url = cluster.nodes[0].url;
  const otherUrl = cluster.nodes[1].url;

  await page.goto(`${url}/`);
  await expectVisible(page.getByTestId('page-home'), 'home page');

  // Suggestions while typing, then Enter searches the catalog.
  const search = page.getByTestId('search-input');
  await search.fill(SEARCH);
  await expectVisible(page.getByTestId('search-suggestions'), 'suggestion list');
  await expectText(page.getByTestId('search-suggestion'), /zapatos/i, 'first suggestion');
  await search.press('Enter');
  await expectUrl(page, (u) => new URL(u).pathname === '/catalogo' && new URL(u).searchParams.get('q') === SEARCH,
    'catalog search URL');
  await expectVisible(page.getByTestId('page-catalog'), 'catalog page');
  await expectCount(page.getByTestId('product-card'), (n) => n > 0, 'search results');

  // Filter by talla: choosing a value submits the filter form at once.
  await page.getByTestId('filter-talla').selectOption(TALLA);
  await expectUrl(page, (u) => new URL(u).searchParams.get('talla') === TALLA, 'catalog URL with talla');
  await expectVisible(page.getByTestId('page-catalog'), 'filtered catalog page');
  await expectCount(page.getByTestId('product-card'), (n) => n > 0, 'filtered results');
  const slugs = await page.getByTestId('product-card').evaluateAll((cards) => cards.map((c) => c.dataset.slug));
  for (const slug of slugs) {
    const listed = await product(url, slug);
    if (!listed.variants.some((v) => v.talla === TALLA)) {
      throw new Error(`the talla ${TALLA} filter listed ${slug}, which has no talla ${TALLA}`);
    }
  }
  const { product: chosen, wanted, soldOut } = await choose(url, slugs);
  console.log(`product ${chosen.slug}: sold out ${soldOut.talla} ${soldOut.color}, buying ${wanted.talla} ${wanted.color}`);

  // The product page: a sold-out combination, then an available one.
  await page.locator(`[data-testid="product-card"][data-slug="${chosen.slug}"] a`).first().click();
  await expectVisible(page.getByTestId('page-product'), 'product page');
  await expectText(page.getByTestId('product-title'), chosen.name, 'product title');
  await pickVariant(page, soldOut);
  await expectVisible(page.getByTestId('out-of-stock'), `sold-out notice for ${soldOut.talla} ${soldOut.color}`);
  await expectAttribute(page.getByTestId('add-to-cart'), 'disabled', (v) => v !== null, 'add-to-cart while sold out');
  await pickVariant(page, wanted);
  await expectCount(page.getByTestId('out-of-stock'), 0, `sold-out notice for ${wanted.talla} ${wanted.color}`);
  await expectAttribute(page.getByTestId('add-to-cart'), 'disabled', null, 'add-to-cart once available');
  await expectText(page.getByTestId('cart-count'), '0', 'cart count before adding');
  await page.getByTestId('add-to-cart').click();
  await expectText(page.getByTestId('cart-count'), '1', 'cart count after adding');

  // The cart page.
  await page.getByTestId('nav-cart').click();
  await expectVisible(page.getByTestId('page-cart'), 'cart page');
  await expectCount(page.getByTestId('cart-line'), 1, 'cart lines');
  await expectAttribute(page.getByTestId('cart-line'), 'data-variant-id', String(wanted.id), 'cart line variant');
  await expectText(page.getByTestId('cart-line-title'), chosen.name, 'cart line title');
  await expectText(page.getByTestId('cart-total'), (text) => cents(text) === wanted.price,
    `cart total of ${wanted.price} cents`);

  // Register (the guest cart joins the account), check out, and find the order in "mis pedidos".
  await page.getByTestId('nav-register').click();
  await expectVisible(page.getByTestId('page-register'), 'register page');
  await page.getByTestId('register-name').fill('Lucía Compradora');
  await page.getByTestId('register-email').fill('lucia.compradora@example.es');
  await page.getByTestId('register-password').fill('una-clave-larga-3');
  await page.getByTestId('register-submit').click();
  await expectText(page.getByTestId('user-name'), 'Lucía Compradora', 'user name in the header');
  await expectText(page.getByTestId('cart-count'), '1', 'cart count after registering');
  await page.getByTestId('nav-cart').click();
  await expectVisible(page.getByTestId('page-cart'), 'cart page after registering');
  await page.getByTestId('checkout').click();
  await expectVisible(page.getByTestId('page-checkout'), 'checkout page');
  await page.getByTestId('address-name').fill('Lucía Compradora');
  await page.getByTestId('address-street').fill('Calle de Alcalá 20');
  await page.getByTestId('address-postal-code').fill('28014');
  await page.getByTestId('address-city').fill('Madrid');
  await page.getByTestId('address-province').fill('Madrid');
  await page.getByTestId('address-phone').fill('600111222');
  await page.getByTestId('place-order').click();
  await expectVisible(page.getByTestId('page-order-confirmation'), 'order confirmation');
  const number = (await page.getByTestId('order-number').textContent()).trim();
  await page.getByTestId('nav-my-orders').click();
  await expectVisible(page.getByTestId('page-my-orders'), 'my orders page');
  await expectCount(page.locator(`[data-testid="order-row"][data-number="${number}"]`), 1, `order ${number} in my orders`);

  // Every node serves the storefront.
  await page.goto(`${otherUrl}/producto/${encodeURIComponent(chosen.slug)}`);
  await expectVisible(page.getByTestId('page-product'), 'product page on another node');
  await expectText(page.getByTestId('product-title'), chosen.name, 'product title on another node');
});
