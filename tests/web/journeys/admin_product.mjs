// An administrator logs in to /admin on node 1, creates a product with 3
// sizes × 2 colours, sets their stock, uploads a picture for one colour
// and finds the product in the storefront served by node 2. Then another
// administrator renames the product through the API while the editor is
// open: saving shows the conflict instead of overwriting it. A product
// name with markup shows as text in the admin list and the storefront.

import { deflateSync } from 'node:zlib';

import { expectCount, expectText, expectUrl, expectVisible } from '../lib/expect.mjs';
import { ADMIN, runJourney } from '../lib/journey.mjs';
import { api, login } from '../lib/shop.mjs';

const SIZES = ['S', 'M', 'L'];
const COLORS = ['Rojo', 'Azul'];
const SLUG = 'camiseta-prueba-tres-por-dos';
const NAME = 'Camiseta <b>de prueba</b>';

// A valid 2×2 RGB PNG, built here so the test needs no file.
function png() {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) {
      c = table[(c ^ b) & 255] ^ (c >>> 8);
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([length, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(2, 0);
  header.writeUInt32BE(2, 4);
  header[8] = 8;
  header[9] = 2;
  const pixels = Buffer.from([0, 255, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0, 0]);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels)), chunk('IEND', Buffer.alloc(0))]);
}

const tid = (id) => `[data-testid="${id}"]`;
const cell = (kind, talla, color) => `${tid(kind)}[data-talla="${talla}"][data-color="${color}"]`;

await runJourney('web_admin_product', {}, async ({ page, cluster }) => {
  const [first, second] = cluster.nodes;

  // Log in to the panel.
  await page.goto(`${first.url}/admin`);
  await expectVisible(page.getByTestId('page-admin-login'), 'admin login page');
  await page.getByTestId('admin-login-email').fill(ADMIN.email);
  await page.getByTestId('admin-login-password').fill(ADMIN.password);
  await page.getByTestId('admin-login-submit').click();
  await expectVisible(page.getByTestId('page-admin-products'), 'admin product list');

  // A new product with a talla × color matrix.
  await page.getByTestId('admin-new-product').click();
  await expectVisible(page.getByTestId('page-admin-product-edit'), 'product editor');
  await page.getByTestId('product-name').fill(NAME);
  await page.getByTestId('product-slug').fill(SLUG);
  await page.getByTestId('product-price').fill('19,95');
  await page.getByTestId('product-active').check();
  for (const size of SIZES) {
    await page.getByTestId('new-size-input').fill(size);
    await page.getByTestId('add-size').click();
  }
  for (const color of COLORS) {
    await page.getByTestId('new-color-input').fill(color);
    await page.getByTestId('add-color').click();
  }
  await expectCount(page.getByTestId('matrix-cell-stock'), SIZES.length * COLORS.length, '3 × 2 matrix');
  for (const size of SIZES) {
    for (const color of COLORS) {
      await page.locator(cell('matrix-cell-stock', size, color)).fill(color === 'Rojo' ? '4' : '0');
    }
  }
  await page.getByTestId('save-product').click();
  await expectUrl(page, (u) => /\/admin\/productos\/\d+$/.test(new URL(u).pathname), 'editor of the saved product');
  await expectVisible(page.getByTestId('image-drop'), 'image drop zone');
  const id = Number(new URL(page.url()).pathname.split('/').pop());

  // A picture for the red variants.
  await page.getByTestId('image-color').selectOption('Rojo');
  await page.getByTestId('image-file').setInputFiles({ name: 'rojo.png', mimeType: 'image/png', buffer: png() });
  await expectText(page.getByTestId('image-item-color'), 'Rojo', 'uploaded image tied to Rojo');

  // The markup in the name is text in the admin list.
  await page.getByTestId('nav-admin-products').click();
  await expectVisible(page.getByTestId('page-admin-products'), 'admin product list again');
  await expectText(page.locator(`${tid('admin-product-row')}[data-slug="${SLUG}"]`), (t) => t.includes(NAME),
    'product row with the name as text');
  await expectCount(page.locator(`${tid('admin-product-row')} b`), 0, 'no <b> element from the name');

  // Node 2 serves it in the storefront: sizes, colours, stock and the picture.
  const shop = await page.context().newPage();
  await shop.goto(`${second.url}/producto/${SLUG}`);
  await expectVisible(shop.getByTestId('page-product'), 'product page on node 2');
  await expectText(shop.getByTestId('product-title'), NAME, 'storefront title as text');
  await expectCount(shop.getByTestId('color-option'), COLORS.length, 'colour options');
  await expectCount(shop.getByTestId('size-option'), SIZES.length, 'size options');
  await shop.locator(`${tid('color-option')}[data-value="Rojo"]`).click();
  await expectVisible(shop.getByTestId('gallery-image'), 'picture of the red variants');
  await shop.locator(`${tid('color-option')}[data-value="Azul"]`).click();
  await shop.locator(`${tid('size-option')}[data-value="M"]`).click();
  await expectVisible(shop.getByTestId('out-of-stock'), 'blue M sold out');
  await shop.close();

  // A conflicting save: another administrator renames the product meanwhile.
  await page.goto(`${first.url}/admin/productos/${id}`);
  await expectVisible(page.getByTestId('page-admin-product-edit'), 'editor reopened');
  const token = await login(second.url, ADMIN.email, ADMIN.password);
  const current = await api(second.url, 'GET', `/api/v1/admin/products/${id}`, { token });
  const renamed = `${current.name} (renombrada)`;
  const response = await fetch(`${second.url}/api/v1/admin/products/${id}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'If-Match': `"${current.version}"` },
    body: JSON.stringify({ name: renamed }),
  });
  if (response.status !== 200) {
    throw new Error(`the rename through the API returned ${response.status}: ${await response.text()}`);
  }
  await page.getByTestId('product-name').fill('Camiseta mía');
  await page.getByTestId('save-product').click();
  await expectVisible(page.getByTestId('conflict-notice'), 'conflict notice');
  await expectText(page.getByTestId('conflict-row').first(), (t) => t.includes('(renombrada)') && t.includes('Camiseta mía'),
    'conflict row with both names');
  const after = await api(second.url, 'GET', `/api/v1/admin/products/${id}`, { token });
  if (after.name !== renamed) {
    throw new Error(`the conflicting save overwrote the name: ${after.name}`);
  }
});
