// The manager's view: find a receipt, refund some of its items or void it, and change a
// product's price.

import { call } from "./api.js";
import * as i18n from "./i18n.js";
import { $, attempt, clear, element, fact } from "./dom.js";

let receipt = null;
let allowed = {};
let products = () => [];
let onPriceChanged = async () => {};

function say(message) {
  $("manager-status").textContent = message;
}

function refundedProducts() {
  return new Set(receipt.refunds.flatMap((refund) => refund.items.map((line) => line.product_id)));
}

function draw() {
  if (!receipt) {
    return;
  }
  $("found").hidden = false;
  $("found-title").textContent = i18n.t("receipt", { id: i18n.count(receipt.purchase_id) });
  $("found-state").textContent = receipt.void
    ? i18n.t("voidedBecause", { time: i18n.instant(receipt.void.voided_at), reason: receipt.void.reason })
    : "";
  const facts = $("found-facts");
  clear(facts);
  fact(facts, i18n.t("time"), i18n.instant(receipt.timestamp));
  fact(facts, i18n.t("branch"), receipt.supermarket_id);
  fact(facts, i18n.t("customer"), receipt.user_id);
  fact(facts, i18n.t("total"), i18n.money(receipt.total_amount));
  fact(facts, i18n.t("status"), i18n.t(receipt.status));
  if (receipt.recorded_by) {
    fact(facts, i18n.t("recordedBy"), receipt.recorded_by);
  }
  const refunded = refundedProducts();
  const checks = $("found-lines");
  clear(checks);
  for (const line of receipt.items) {
    const id = `refund-line-${line.product_id}`;
    const done = refunded.has(line.product_id);
    const box = element("input", { type: "checkbox", id, value: String(line.product_id) });
    box.disabled = done || receipt.status === "voided";
    checks.append(
      element("div", { className: "check" }, [
        box,
        element("label", { htmlFor: id }, [
          `${done ? i18n.t("alreadyRefunded", { name: line.name }) : line.name} · ${i18n.money(line.price)}`,
        ]),
      ]),
    );
  }
  const open = receipt.status !== "voided";
  $("refund-box").hidden = !allowed.refund || !open;
  $("void-box").hidden = !allowed.void || !open || receipt.refunds.length > 0;
  const refunds = $("found-refunds");
  clear(refunds);
  if (receipt.refunds.length === 0) {
    refunds.append(element("li", { className: "empty" }, [i18n.t("noRefunds")]));
  }
  for (const refund of receipt.refunds) {
    refunds.append(
      element("li", {}, [
        i18n.t("refundOf", { amount: i18n.money(refund.amount), time: i18n.instant(refund.refunded_at) }),
        ` · ${refund.items.map((line) => line.name).join(", ")}`,
      ]),
    );
  }
}

async function find(event) {
  event.preventDefault();
  say("");
  await attempt(async () => {
    receipt = await call(`cash-register/purchases/${encodeURIComponent($("receipt-id").value.trim())}`);
    draw();
    $("found").focus();
  });
}

async function refund() {
  const items = [...$("found-lines").querySelectorAll("input:checked")].map((box) => ({
    product_id: Number(box.value),
  }));
  if (items.length === 0) {
    return;
  }
  await attempt(async () => {
    const made = await call(`cash-register/purchases/${receipt.purchase_id}/refunds`, {
      method: "POST",
      body: { items },
    });
    receipt = await call(`cash-register/purchases/${receipt.purchase_id}`);
    draw();
    say(i18n.t("refunded", { amount: i18n.money(made.amount) }));
  });
}

async function voidPurchase() {
  await attempt(async () => {
    receipt = await call(`cash-register/purchases/${receipt.purchase_id}/void`, {
      method: "POST",
      body: { reason: $("void-reason").value.trim() },
    });
    draw();
    say(i18n.t("voidDone"));
  });
}

/** Fills the product list of the price form from the catalog. */
export function drawProducts() {
  const select = $("price-product");
  const chosen = select.value;
  clear(select);
  for (const product of products()) {
    select.append(
      element("option", { value: String(product.id) }, [`${product.name} · ${i18n.money(product.price)}`]),
    );
  }
  if (chosen) {
    select.value = chosen;
  }
}

async function changePrice(event) {
  event.preventDefault();
  const id = Number($("price-product").value);
  const price = Number($("new-price").value.replace(",", "."));
  await attempt(async () => {
    await call(`cash-register/products/${id}/price`, { method: "PUT", body: { price } });
    await onPriceChanged();
    drawProducts();
    const product = products().find((p) => p.id === id);
    say(i18n.t("priceChanged", { name: product?.name ?? id, price: i18n.money(price) }));
    $("new-price").value = "";
  });
}

/**
 * Sets the view up for what the key `may` do; `catalog` gives the products and
 * `reloadCatalog` reads them again after a price change.
 */
export function setUp(may, catalog, reloadCatalog) {
  allowed = may;
  products = catalog;
  onPriceChanged = reloadCatalog;
  $("find-form").hidden = !may.read_receipts;
  $("price-form").hidden = !may.change_prices;
  drawProducts();
}

/** Wires the view's controls, once. */
export function wire() {
  $("find-form").addEventListener("submit", find);
  $("refund").addEventListener("click", refund);
  $("void").addEventListener("click", voidPurchase);
  $("price-form").addEventListener("submit", changePrice);
  i18n.onChange(() => {
    draw();
    drawProducts();
  });
}
