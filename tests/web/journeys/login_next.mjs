// After logging in, the storefront loads the "siguiente" path only when it
// stays on the site, and a plain path of the site still works. The
// browser's URL parser drops a tab, newline or carriage return, so
// "/\t/host" would load //host if only the first characters were checked.

import { expectUrl, expectVisible } from '../lib/expect.mjs';
import { ADMIN, runJourney } from '../lib/journey.mjs';

const FOREIGN = 'evil.example';

async function logIn(page, url, next) {
  await page.goto(`${url}/entrar?siguiente=${encodeURIComponent(next)}`);
  await page.getByTestId('login-email').fill(ADMIN.email);
  await page.getByTestId('login-password').fill(ADMIN.password);
  await page.getByTestId('login-submit').click();
}

await runJourney('web_login_next_stays_on_site', {}, async ({ page, cluster }) => {
  const url = cluster.nodes[0].url;

  for (const next of [`/\t/${FOREIGN}/`, `/\n/${FOREIGN}/`, `/\r/${FOREIGN}/`, `//${FOREIGN}/`, `/\\${FOREIGN}/`]) {
    await logIn(page, url, next);
    await expectVisible(page.getByTestId('page-home'), `home page after siguiente=${JSON.stringify(next)}`);
    await expectUrl(page, `${url}/`, `siguiente=${JSON.stringify(next)}`);
    await page.context().clearCookies();
  }

  await logIn(page, url, '/mis-pedidos?x=1');
  await expectVisible(page.getByTestId('page-my-orders'), 'my orders after siguiente=/mis-pedidos');
  await expectUrl(page, `${url}/mis-pedidos?x=1`, 'siguiente=/mis-pedidos?x=1');
});
