// Switching the language in the middle of the checkout draws the page again
// in the new language and keeps the address already typed, and the order
// can then be placed.

import { expectEval, expectText, expectVisible } from '../lib/expect.mjs';
import { ADMIN, runJourney } from '../lib/journey.mjs';
import { api, login } from '../lib/shop.mjs';

const SLUG = 'gorra-idioma';
const ADDRESS = [
  ['address-name', 'Lucía Compradora'],
  ['address-street', 'Calle de Alcalá 20'],
  ['address-postal-code', '28014'],
  ['address-city', 'Madrid'],
  ['address-province', 'Madrid'],
  ['address-phone', '600111222'],
];

await runJourney('web_language_keeps_checkout_input', {}, async ({ page, cluster }) => {
  const url = cluster.nodes[0].url;
  const en = await api(url, 'GET', '/static/i18n/en.json');
  const token = await login(url, ADMIN.email, ADMIN.password);
  const created = await api(url, 'POST', '/api/v1/admin/products', {
    token,
    body: { slug: SLUG, name: 'Gorra', gender: 'unisex', type: 'accesorios', active: true },
  });
  const variant = await api(url, 'POST', `/api/v1/admin/products/${created.id}/variants`, {
    token,
    body: { sku: 'GORRA-1', talla: 'U', color: 'Negro', price: 1500 },
  });
  await api(url, 'POST', `/api/v1/admin/variants/${variant.id}/stock`, { token, body: { set: 5, expected: 0 } });

  await page.goto(`${url}/producto/${SLUG}`);
  await page.getByTestId('size-option').first().click();
  await page.getByTestId('add-to-cart').click();
  await expectText(page.getByTestId('cart-count'), '1', 'cart count after adding');

  await page.goto(`${url}/pedido`);
  await expectVisible(page.getByTestId('page-checkout'), 'checkout page');
  await page.getByTestId('checkout-email').fill('lucia@example.com');
  for (const [id, value] of ADDRESS) {
    await page.getByTestId(id).fill(value);
  }
  await page.getByTestId('lang-select').selectOption('en');
  await expectText(page.getByTestId('place-order'), en.place_order, 'place-order button in English');
  // Every field as typed, read in one go once the page in English is there.
  const typed = [['checkout-email', 'lucia@example.com'], ...ADDRESS];
  await expectEval(page, () => JSON.stringify([...document.querySelectorAll('#main input')]
    .filter((el) => el.dataset.testid)
    .map((el) => [el.dataset.testid, el.value])), JSON.stringify(typed), 'checkout fields after the switch');

  await page.getByTestId('place-order').click();
  await expectVisible(page.getByTestId('page-order-confirmation'), 'order confirmation');
});
