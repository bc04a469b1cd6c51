// The till: the branch, the customer, the products as large buttons, the basket, and the
// receipt. Each sale carries an id made here, so that sending it again never sells twice; a
// sale the gateway cannot take now waits in the browser (see queue.js).

import { call, Refused, Unreachable } from "./api.js";
import * as i18n from "./i18n.js";
import * as queue from "./queue.js";
import { $, clear, element, fact, notify } from "./dom.js";

let products = [];
const basket = new Map();
/** The last receipt shown, redrawn when the language changes. */
let shown = null;

/** A random (version 4) UUID, also where the page is not served over HTTPS. */
function uuid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The sum of `prices`, exact to the cent. */
export function sum(prices) {
  return prices.reduce((cents, price) => cents + Math.round(price * 100), 0) / 100;
}

function drawProducts() {
  const grid = $("products");
  clear(grid);
  for (const product of products) {
    const price = element("span", { className: "price", id: `price-${product.id}` }, [
      i18n.money(product.price),
    ]);
    const button = element(
      "button",
      {
        type: "button",
        className: "product",
        "aria-label": product.name,
        "aria-describedby": price.id,
        "aria-pressed": String(basket.has(product.id)),
      },
      [element("span", { className: "name" }, [product.name]), price],
    );
    button.addEventListener("click", () => toggle(product));
    grid.append(button);
  }
}

function drawBasket() {
  const lines = $("basket-lines");
  clear(lines);
  if (basket.size === 0) {
    lines.append(element("li", { className: "empty" }, [i18n.t("emptyBasket")]));
  }
  for (const product of basket.values()) {
    const remove = element(
      "button",
      { type: "button", className: "quiet", "aria-label": i18n.t("remove", { name: product.name }) },
      ["×"],
    );
    remove.addEventListener("click", () => toggle(product));
    lines.append(
      element("li", {}, [
        element("span", {}, [product.name]),
        element("span", { className: "amount" }, [i18n.money(product.price)]),
        remove,
      ]),
    );
  }
  $("basket-total").textContent = i18n.money(sum([...basket.values()].map((p) => p.price)));
  $("record").disabled = basket.size === 0;
  for (const button of $("products").querySelectorAll("button.product")) {
    const product = products.find((p) => p.name === button.getAttribute("aria-label"));
    button.setAttribute("aria-pressed", String(Boolean(product && basket.has(product.id))));
  }
}

function toggle(product) {
  if (basket.has(product.id)) {
    basket.delete(product.id);
  } else {
    basket.set(product.id, product);
  }
  drawBasket();
}

function drawReceipt() {
  if (!shown) {
    return;
  }
  const { receipt, queued } = shown;
  $("receipt-title").textContent = queued
    ? i18n.t("queuedReceipt")
    : i18n.t("receipt", { id: i18n.count(receipt.purchase_id) });
  $("receipt-state").textContent = queued ? i18n.t("queuedState") : i18n.t("recordedState");
  const facts = $("receipt-facts");
  clear(facts);
  fact(facts, i18n.t("time"), i18n.instant(receipt.timestamp));
  fact(facts, i18n.t("branch"), branchName(receipt.supermarket_id));
  fact(
    facts,
    i18n.t("customer"),
    receipt.user_id === "new" ? i18n.t("newCustomer") : receipt.user_id,
  );
  const lines = $("receipt-lines");
  clear(lines);
  for (const line of receipt.items) {
    lines.append(
      element("li", {}, [
        element("span", {}, [line.name]),
        element("span", { className: "amount" }, [i18n.money(line.price)]),
      ]),
    );
  }
  $("receipt-total").textContent = i18n.money(receipt.total_amount);
}

let branches = [];

function branchName(id) {
  return branches.find((branch) => branch.id === id)?.name ?? String(id);
}

function show(receipt, queued) {
  shown = { receipt, queued };
  drawReceipt();
  $("sale").hidden = true;
  $("receipt").hidden = false;
  $("receipt").focus();
}

async function record() {
  const customer = $("customer").value.trim();
  const purchase = {
    client_id: uuid(),
    supermarket_id: Number($("till-branch").value),
    user_id: customer || "new",
    items: [...basket.keys()].map((id) => ({ product_id: id })),
  };
  const soldAt = new Date().toISOString();
  $("record").disabled = true;
  try {
    show(await call("cash-register/purchase", { method: "POST", body: purchase }), false);
  } catch (error) {
    if (error instanceof Unreachable || (error instanceof Refused && error.status >= 500)) {
      queue.keep({ ...purchase, purchased_at: soldAt });
      const lines = [...basket.values()].map((p) => ({ name: p.name, price: p.price }));
      show(
        {
          timestamp: soldAt,
          supermarket_id: purchase.supermarket_id,
          user_id: purchase.user_id,
          items: lines,
          total_amount: sum(lines.map((line) => line.price)),
        },
        true,
      );
    } else if (error instanceof Refused) {
      notify(error.message);
      $("record").disabled = false;
    } else {
      throw error;
    }
  }
}

function newSale() {
  basket.clear();
  shown = null;
  $("customer").value = "";
  drawBasket();
  $("receipt").hidden = true;
  $("sale").hidden = false;
  $("products").querySelector("button")?.focus();
}

/** Reads the catalog (at the prices in force now) and draws it. */
export async function loadProducts() {
  products = await call("cash-register/products");
  for (const id of basket.keys()) {
    const product = products.find((p) => p.id === id);
    if (product) {
      basket.set(id, product);
    } else {
      basket.delete(id);
    }
  }
  drawProducts();
  drawBasket();
}

/** The catalog as the till last read it. */
export function catalog() {
  return products;
}

/**
 * Sets the till up for the key described by `whoami` (its branch fixed when it has one), with
 * the chain's `branchList`.
 */
export async function setUp(whoami, branchList) {
  branches = branchList;
  const select = $("till-branch");
  clear(select);
  for (const branch of branches) {
    select.append(element("option", { value: String(branch.id) }, [branch.name]));
  }
  if (whoami.supermarket_id) {
    select.value = String(whoami.supermarket_id);
    select.disabled = true;
  } else {
    select.disabled = false;
  }
  await loadProducts();
}

/** Wires the till's controls, once. */
export function wire() {
  $("record").addEventListener("click", record);
  $("clear-basket").addEventListener("click", () => {
    basket.clear();
    drawBasket();
  });
  $("new-sale").addEventListener("click", newSale);
  i18n.onChange(() => {
    drawProducts();
    drawBasket();
    drawReceipt();
  });
}
