// Checks for the browser journeys: each polls the page until the condition
// is true or EXPECT_TIMEOUT_MS passes, then fails with the last value read.
// playwright-core has no expect() (that is in @playwright/test), so these
// cover what the journeys need.

import { poll as pollUntil } from './wait.mjs';

const EXPECT_TIMEOUT_MS = 10000;
// One read of an element, short so that the poll retries soon when it is not there yet.
const READ_TIMEOUT_MS = 200;

function poll(read, accept, describe) {
  return pollUntil(read, accept, describe, EXPECT_TIMEOUT_MS);
}

function matches(value, expected) {
  if (typeof expected === 'function') {
    return expected(value);
  }
  if (expected instanceof RegExp) {
    return expected.test(value);
  }
  return value === expected;
}

// The trimmed text of the first element the locator finds.
export function expectText(locator, expected, what) {
  return poll(async () => (await locator.first().textContent({ timeout: READ_TIMEOUT_MS }))?.trim(),
    (text) => text !== undefined && matches(text, expected), `${what}: expected text ${expected}`);
}

export function expectAttribute(locator, name, expected, what) {
  return poll(() => locator.first().getAttribute(name, { timeout: READ_TIMEOUT_MS }),
    (value) => matches(value, expected), `${what}: expected ${name}=${expected}`);
}

export function expectCount(locator, expected, what) {
  return poll(() => locator.count(), (count) => matches(count, expected), `${what}: expected count ${expected}`);
}

export function expectVisible(locator, what) {
  return poll(() => locator.first().isVisible(), (visible) => visible, `${what}: expected visible`);
}

export function expectUrl(page, expected, what) {
  return poll(async () => page.url(), (url) => matches(url, expected), `${what}: expected URL ${expected}`);
}

// Any value the page computes: expectEval(page, () => document.documentElement.lang, 'es', 'html lang').
export function expectEval(page, fn, expected, what) {
  return poll(() => page.evaluate(fn), (value) => matches(value, expected), `${what}: expected ${expected}`);
}
