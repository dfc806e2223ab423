// Runs one browser journey: starts a three-node cluster, optionally loads the
// demo catalog, launches Debian's chromium headless through playwright-core,
// and gives the journey a page. On failure it saves a screenshot and the page
// HTML under $JKD_TEST_TMP/web/ and prints the nodes' log paths. It always
// stops what it started, and a watchdog ends the run after JOURNEY_TIMEOUT_MS.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { Cluster, killAll } from './cluster.mjs';

const JOURNEY_TIMEOUT_MS = 150000;
const ACTION_TIMEOUT_MS = 10000;
const NAVIGATION_TIMEOUT_MS = 15000;
const LAUNCH_TIMEOUT_MS = 30000;
const CLOSE_TIMEOUT_MS = 10000;

export const ADMIN = { email: 'admin@jkd.es', password: 'web-tests-2026', name: 'Administración de pruebas' };

function tmpRoot() {
  return process.env.JKD_TEST_TMP || '/tmp';
}

// Debian's chromium; CHROMIUM_BIN points elsewhere for a local run.
function browserPath() {
  return process.env.CHROMIUM_BIN || '/usr/bin/chromium';
}

async function launchBrowser() {
  return chromium.launch({
    executablePath: browserPath(),
    headless: true,
    timeout: LAUNCH_TIMEOUT_MS,
    // Chromium exits with "sandboxing failed" when started as root with its
    // sandbox on, and CI runs as root. Without the sandbox it opens only our
    // own pages on 127.0.0.1 (other addresses are aborted below). Any other
    // user keeps the sandbox.
    chromiumSandbox: process.getuid() !== 0,
    // Shared memory goes to /tmp, because a container's /dev/shm may be small
    // (Docker's default is 64 MiB) and chromium crashes when it fills.
    args: ['--disable-dev-shm-usage'],
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Saves <name>-failure.png and <name>-failure.html; a failure to save is reported, not thrown.
async function saveFailure(name, page) {
  const dir = join(tmpRoot(), 'web');
  const png = join(dir, `${name}-failure.png`);
  const html = join(dir, `${name}-failure.html`);

  try {
    await mkdir(dir, { recursive: true });
    await withTimeout(page.screenshot({ path: png, fullPage: true }), ACTION_TIMEOUT_MS, 'screenshot');
    await writeFile(html, await withTimeout(page.content(), ACTION_TIMEOUT_MS, 'page content'));
    console.error(`page at failure: ${page.url()}\n  screenshot: ${png}\n  HTML: ${html}`);
  } catch (error) {
    console.error(`could not save the page at failure: ${error.message}`);
  }
}

// Opens a page that records what must fail a journey: uncaught page errors,
// Content-Security-Policy violations, and requests to anything but 127.0.0.1
// (no CDN, no outside address), which are aborted.
async function openPage(browser, contextOptions) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const problems = { pageErrors: [], foreignRequests: [], console: [] };

  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
  page.on('pageerror', (error) => problems.pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      problems.console.push(`${message.type()}: ${message.text()}`);
    }
  });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:') {
      return route.continue();
    }
    problems.foreignRequests.push(url.href);
    return route.abort('blockedbyclient');
  });
  return { context, page, problems };
}

function checkProblems(problems) {
  if (problems.pageErrors.length > 0) {
    throw new Error(`uncaught errors in the page:\n  ${problems.pageErrors.join('\n  ')}`);
  }
  // The pages must run under their strict Content-Security-Policy, so a blocked inline script or style is a bug.
  const blocked = problems.console.filter((line) => line.includes('Content Security Policy'));
  if (blocked.length > 0) {
    throw new Error(`the Content-Security-Policy blocked parts of the page:\n  ${blocked.join('\n  ')}`);
  }
  if (problems.foreignRequests.length > 0) {
    throw new Error(`the page requested addresses other than 127.0.0.1:\n  ${problems.foreignRequests.join('\n  ')}`);
  }
}

async function cleanUp(cluster, browser, failed) {
  if (browser) {
    await withTimeout(browser.close(), CLOSE_TIMEOUT_MS, 'closing chromium').catch((error) => {
      console.error(error.message);
    });
  }
  if (!cluster) {
    return failed;
  }
  const badExits = await cluster.stop();
  for (const { id, exit } of badExits) {
    console.error(`node ${id} exited with ${exit.signal ?? `status ${exit.code}`}`);
  }
  failed ||= badExits.length > 0;
  if (failed) {
    console.error(`node logs (kept):\n  ${cluster.logPaths.join('\n  ')}`);
  } else {
    await cluster.remove();
  }
  return failed;
}

// Runs body({ page, cluster, problems }) as the journey called name; exits the
// process with 0 when it passed and 1 when it failed.
// options.demo loads the demo catalog before the browser starts, and
// options.context is passed to browser.newContext() (locale, for one).
export async function runJourney(name, options, body) {
  const started = Date.now();
  let cluster = null;
  let browser = null;
  let page = null;
  let problems = null;
  let failed = false;

  // Ends the run at once, keeping the logs; playwright kills chromium when node exits.
  const abort = (reason) => {
    console.error(`FAIL ${name}: ${reason}`);
    killAll();
    if (cluster) {
      console.error(`node logs (kept):\n  ${cluster.logPaths.join('\n  ')}`);
    }
    process.exit(1);
  };
  const watchdog = setTimeout(() => abort(`the journey did not end within ${JOURNEY_TIMEOUT_MS} ms`),
    JOURNEY_TIMEOUT_MS);
  process.once('SIGTERM', () => abort('stopped by SIGTERM'));
  process.once('SIGINT', () => abort('stopped by SIGINT'));

  try {
    cluster = await Cluster.start(tmpRoot());
    await cluster.createAdmin(ADMIN.email, ADMIN.password, ADMIN.name);
    if (options.demo) {
      await cluster.loadDemo(ADMIN.email, ADMIN.password);
    }
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser, options.context));
    await body({ page, cluster, problems });
    checkProblems(problems);
  } catch (error) {
    failed = true;
    console.error(`FAIL ${name}: ${error.stack ?? error}`);
    if (problems?.console.length > 0) {
      console.error(`browser console:\n  ${problems.console.join('\n  ')}`);
    }
    if (page) {
      await saveFailure(name, page);
    }
  }

  failed = await cleanUp(cluster, browser, failed);
  clearTimeout(watchdog);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${failed ? 'FAIL' : 'PASS'} ${name} (${seconds} s)`);
  process.exit(failed ? 1 : 0);
}
