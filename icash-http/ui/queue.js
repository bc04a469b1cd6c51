// Sales made while the gateway could not be reached, kept in the browser with their own id and
// sale time, and handed in through the batch endpoint when it answers again. The gateway
// records each `client_id` once per key, so a sale sent twice (an answer lost on the way) is
// still recorded once.

import { call, Refused, Unreachable } from "./api.js";

const STORED = "icash.waiting";
/** The most sales one batch may carry. */
const BATCH = 1000;
/** How often the page tries again while sales wait, in milliseconds. */
const RETRY = 2000;

const listeners = [];
let owner = null;
let sending = false;
let refused = () => {};

function read() {
  try {
    return JSON.parse(localStorage.getItem(STORED) ?? "[]");
  } catch {
    return [];
  }
}

function write(sales) {
  localStorage.setItem(STORED, JSON.stringify(sales));
  listeners.forEach((listener) => listener());
}

/**
 * The key whose sales the page sends: each sale is kept with the name of the key that made it
 * (its `client_id` is unique for that key only), and waits for that key.
 */
export function setOwner(name) {
  owner = name ?? "";
  flush();
}

/** The sales waiting for the key in use. */
export function waiting() {
  return read().filter((sale) => sale.owner === owner).length;
}

/** Calls `listener` whenever the waiting sales change. */
export function onChange(listener) {
  listeners.push(listener);
}

/** Keeps `purchase` (with its `client_id` and `purchased_at`) until the gateway takes it. */
export function keep(purchase) {
  write([...read(), { owner, purchase }]);
}

/**
 * Sends the waiting sales, one batch at a time. A sale the gateway refuses for good (a product
 * no longer sold, a sale too old) leaves the queue, and its sentence goes to `start`'s
 * listener.
 */
export async function flush() {
  if (sending || owner === null) {
    return;
  }
  sending = true;
  try {
    for (;;) {
      const mine = read().filter((sale) => sale.owner === owner).slice(0, BATCH);
      if (mine.length === 0) {
        return;
      }
      const answer = await call("cash-register/purchases/batch", {
        method: "POST",
        body: { purchases: mine.map((sale) => sale.purchase) },
      });
      const settled = new Set();
      for (const result of answer.results) {
        if (result.status === 200 || result.status === 201) {
          settled.add(result.client_id);
        } else if (result.status >= 400 && result.status < 500 && result.status !== 429) {
          settled.add(result.client_id);
          refused(result.error);
        }
      }
      write(read().filter((sale) => sale.owner !== owner || !settled.has(sale.purchase.client_id)));
      if (settled.size === 0) {
        return;
      }
    }
  } catch (error) {
    if (!(error instanceof Unreachable || error instanceof Refused)) {
      throw error;
    }
  } finally {
    sending = false;
  }
}

/**
 * Tries again every few seconds, and as soon as the browser says it is back online;
 * `onRefused` hears the sentence of each sale refused for good.
 */
export function start(onRefused) {
  refused = onRefused;
  setInterval(flush, RETRY);
  window.addEventListener("online", flush);
}
