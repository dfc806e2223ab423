// A product name that is HTML markup shows as literal text on the product
// page, in the catalog, in the search suggestions and in the admin panel:
// no element is created from it and no script runs.

import { expectCount, expectText, expectVisible } from '../lib/expect.mjs';
import { ADMIN, runJourney } from '../lib/journey.mjs';
import { api, login } from '../lib/shop.mjs';

const NAME = '<img src=x onerror=alert(1)>';
const SLUG = 'nombre-con-html';

await runJourney('web_xss_text', {}, async ({ page, cluster }) => {
  const url = cluster.nodes[0].url;
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });

  const token = await login(url, ADMIN.email, ADMIN.password);
  const created = await api(url, 'POST', '/api/v1/admin/products', {
    token,
    body: { slug: SLUG, name: NAME, gender: 'unisex', type: 'accesorios', active: true },
  });
  await api(url, 'POST', `/api/v1/admin/products/${created.id}/variants`, {
    token,
    body: { sku: 'XSS-1', talla: 'U', color: 'Negro', price: 1000, stock: 5 },
  });

  // The markup must appear as text, and the document must hold no image with src "x".
  const injected = page.locator('img[src="x"]');

  await page.goto(`${url}/producto/${SLUG}`);
  await expectVisible(page.getByTestId('page-product'), 'product page');
  await expectText(page.getByTestId('product-title'), NAME, 'product title');
  await expectCount(injected, 0, 'images made from the name on the product page');

  await page.goto(`${url}/catalogo`);
  await expectVisible(page.getByTestId('page-catalog'), 'catalog page');
  const card = page.locator(`[data-testid="product-card"][data-slug="${SLUG}"]`);
  await expectText(card.getByTestId('product-card-title'), NAME, 'catalog card title');
  await expectCount(injected, 0, 'images made from the name in the catalog');

  await page.getByTestId('search-input').fill('onerror');
  await expectText(page.getByTestId('search-suggestion'), NAME, 'search suggestion');
  await expectCount(injected, 0, 'images made from the name in the suggestions');

  // The admin panel shows the same name as text in its product list and editor.
  await page.goto(`${url}/admin`);
  await page.getByTestId('admin-login-email').fill(ADMIN.email);
  await page.getByTestId('admin-login-password').fill(ADMIN.password);
  await page.getByTestId('admin-login-submit').click();
  await expectVisible(page.getByTestId('page-admin-products'), 'admin product list');
  const row = page.locator(`[data-testid="admin-product-row"][data-slug="${SLUG}"]`);
  await expectText(row, (text) => text.includes(NAME), 'admin list row');
  await expectCount(injected, 0, 'images made from the name in the admin list');
  await row.locator('a').first().click();
  await expectVisible(page.getByTestId('page-admin-product-edit'), 'admin editor');
  await expectCount(injected, 0, 'images made from the name in the admin editor');

  if (dialogs.length > 0) {
    throw new Error(`the page opened dialogs: ${dialogs.join(', ')}`);
  }
});
