// Polling with a deadline, in place of sleeps, for the browser journeys.

import { setTimeout as delay } from 'node:timers/promises';

const POLL_INTERVAL_MS = 50;

// Resolves when fn() returns a truthy value, rejects after timeoutMs with what.
export async function waitUntil(fn, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) {
        return value;
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await delay(POLL_INTERVAL_MS);
  }
}
