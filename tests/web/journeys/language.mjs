// The storefront is in Spanish by default, even for a browser that prefers
// English. Choosing English in the language selector switches the page, and
// the choice survives a reload.

import { expectAttribute, expectEval, expectText, expectVisible } from '../lib/expect.mjs';
import { runJourney } from '../lib/journey.mjs';
import { api } from '../lib/shop.mjs';

async function expectLanguage(page, lang, messages) {
  await expectVisible(page.getByTestId('page-home'), 'home page');
  await expectEval(page, () => document.documentElement.lang, lang, '<html lang>');
  await expectText(page.getByTestId('nav-catalog'), messages.nav_catalog, `catalog link in ${lang}`);
  await expectText(page.getByTestId('nav-cart'), (text) => text.startsWith(messages.nav_cart),
    `cart link in ${lang}`);
  await expectAttribute(page.getByTestId('search-input'), 'placeholder', messages.search_placeholder,
    `search box in ${lang}`);
  await expectText(page.getByTestId('page-home').locator('h1'), messages.home_title, `home heading in ${lang}`);
  await expectEval(page, () => document.title, messages.site_title, `document title in ${lang}`);
}

await runJourney('web_language', { context: { locale: 'en-US' } }, async ({ page, cluster }) => {
  const url = cluster.nodes[0].url;
  const es = await api(url, 'GET', '/static/i18n/es.json');
  const en = await api(url, 'GET', '/static/i18n/en.json');

  // The Spanish words themselves, so that a catalog that lost its Spanish fails here.
  if (es.nav_catalog !== 'Catálogo' || !es.nav_cart?.startsWith('Carrito')) {
    throw new Error(`es.json does not hold the Spanish navigation texts: ${es.nav_catalog}, ${es.nav_cart}`);
  }
  for (const key of ['nav_catalog', 'nav_cart', 'search_placeholder', 'home_title']) {
    if (!es[key] || !en[key] || es[key] === en[key]) {
      throw new Error(`message ${key} must differ between es.json (${es[key]}) and en.json (${en[key]})`);
    }
  }

  await page.goto(`${url}/`);
  await expectLanguage(page, 'es', es);

  await page.getByTestId('lang-select').selectOption('en');
  await expectLanguage(page, 'en', en);
  await expectEval(page, () => localStorage.getItem('jkd.lang'), 'en', 'stored language');

  await page.reload();
  await expectLanguage(page, 'en', en);
  await expectEval(page, () => document.querySelector('[data-testid="lang-select"]').value, 'en',
    'language selector after reload');

  // The admin panel follows the same choice, and starts in Spanish without one.
  const adminEs = await api(url, 'GET', '/static/i18n/admin.es.json');
  const adminEn = await api(url, 'GET', '/static/i18n/admin.en.json');
  await page.goto(`${url}/admin`);
  await expectVisible(page.getByTestId('page-admin-login'), 'admin login page');
  await expectText(page.getByTestId('page-admin-login').locator('h1'), adminEn.login_title, 'admin login title in en');
  await page.evaluate(() => localStorage.removeItem('jkd.lang'));
  await page.reload();
  await expectText(page.getByTestId('page-admin-login').locator('h1'), adminEs.login_title, 'admin login title in es');
});
