// Polling with a deadline, in place of sleeps, for the browser journeys.

import { setTimeout as delay } from 'node:timers/promises';

const POLL_INTERVAL_MS = 50;

// Calls read() until accept() takes its value, and resolves with that value.
// An exception from read() counts as one more try. After timeoutMs it rejects
// with describe and the last value or error read.
export async function poll(read, accept, describe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let seen;
  for (;;) {
    try {
      seen = await read();
      if (accept(seen)) {
        return seen;
      }
    } catch (error) {
      seen = `(error: ${error.message.split('\n')[0]})`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${describe}; last seen: ${JSON.stringify(seen)} (after ${timeoutMs} ms)`);
    }
    await delay(POLL_INTERVAL_MS);
  }
}

// Resolves when fn() returns a truthy value, rejects after timeoutMs.
export function waitUntil(fn, what, timeoutMs) {
  return poll(fn, Boolean, `timed out waiting for ${what}`, timeoutMs);
}
