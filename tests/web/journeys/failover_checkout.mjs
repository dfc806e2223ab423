// A guest fills in the checkout on node 1, and node 1, the leader, is killed
// before the order is placed. The page sends the order to another node of the cluster
// with the same Idempotency-Key, shows the confirmation served by that
// node, and the shop contains exactly one order for the guest.

import { readFile } from 'node:fs/promises';

import { expectCount, expectText, expectUrl, expectVisible } from '../lib/expect.mjs';
import { ADMIN, runJourney } from '../lib/journey.mjs';
import { api, login } from '../lib/shop.mjs';
import { waitUntil } from '../lib/wait.mjs';

const EMAIL = 'invitada.failover@example.es';

// The first listed product with a variant in stock, as the API reports it.
async function available(url) {
  const page = await api(url, 'GET', '/api/v1/products?limit=20');
  for (const item of page.items) {
    const p = await api(url, 'GET', `/api/v1/products/${encodeURIComponent(item.slug)}`);
    const variant = p.variants.find((v) => v.available);
    if (variant) {
      return { product: p, variant };
    }
  }
  throw new Error('no product in the first page has a variant in stock');
}

await runJourney('web_failover_checkout', { demo: true }, async ({ page, cluster }) => {
  const [first, second] = cluster.nodes;
  const { product, variant } = await available(second.url);

  // Cart and checkout form on node 1.
  await page.goto(`${first.url}/producto/${encodeURIComponent(product.slug)}`);
  await expectVisible(page.getByTestId('page-product'), 'product page');
  await page.locator(`[data-testid="color-option"][data-value="${variant.color}"]`).click();
  await page.locator(`[data-testid="size-option"][data-value="${variant.talla}"]`).click();
  await page.getByTestId('add-to-cart').click();
  await expectText(page.getByTestId('cart-count'), '1', 'cart count after adding');
  await page.goto(`${first.url}/carrito`);
  await expectVisible(page.getByTestId('page-cart'), 'cart page');
  await page.getByTestId('checkout').click();
  await expectVisible(page.getByTestId('page-checkout'), 'checkout page');
  await page.getByTestId('checkout-email').fill(EMAIL);
  await page.getByTestId('address-name').fill('Marta Invitada');
  await page.getByTestId('address-street').fill('Calle Mayor 1');
  await page.getByTestId('address-postal-code').fill('28013');
  await page.getByTestId('address-city').fill('Madrid');
  await page.getByTestId('address-province').fill('Madrid');
  await page.getByTestId('address-phone').fill('600000000');

  // Node 1 leads, so its death also costs an election: the hardest case.
  const operatorToken = (await readFile(first.tokenPath, 'utf8')).trim();
  const transfer = await fetch(`http://${first.operatorAddress}/ops/v1/cluster/transfer`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${operatorToken}` },
    body: JSON.stringify({ id: first.id }),
  });
  if (transfer.status !== 202) {
    throw new Error(`leadership transfer to node 1 returned ${transfer.status}: ${await transfer.text()}`);
  }
  await waitUntil(async () => (await (await fetch(`${first.url}/healthz`)).json()).role === 'leader',
    'node 1 to lead', 10000);

  // The node that served the page dies; the order goes through another node.
  await first.kill();
  await page.getByTestId('place-order').click();
  await expectUrl(page, (u) => new URL(u).pathname.startsWith('/pedido/') && new URL(u).origin !== first.url,
    'confirmation page on a surviving node');
  await expectVisible(page.getByTestId('page-order-confirmation'), 'confirmation page');
  const number = (await page.getByTestId('order-number').textContent()).replace(/\D/g, '');

  // Exactly one order for the guest, seen by an administrator on a live node.
  const token = await login(second.url, ADMIN.email, ADMIN.password);
  const orders = await api(second.url, 'GET', '/api/v1/admin/orders?page_size=100', { token });
  const mine = orders.orders.filter((o) => o.customer?.email === EMAIL);
  if (mine.length !== 1) {
    throw new Error(`expected one order for ${EMAIL}, found ${mine.length}: ${JSON.stringify(mine)}`);
  }
  if (!String(mine[0].number).includes(number)) {
    throw new Error(`the confirmation shows order ${number}, the shop has ${mine[0].number}`);
  }
  await expectCount(page.getByTestId('order-number'), 1, 'order number shown once');
});
