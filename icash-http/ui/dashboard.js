// The owner's dashboard: a branch (or the chain) and a range of business dates, its figures,
// its sales over time and its branches compared in charts (drawn by the vendored uPlot), its
// top products and its loyal customers a page at a time, each list downloadable as CSV.

import uPlot from "./vendor/uplot/uPlot.esm.js";
import { call, download, query } from "./api.js";
import * as i18n from "./i18n.js";
import { $, attempt, clear, element, fill } from "./dom.js";

/** Loyal customers per page. */
const PAGE = 10;
const BLUE = "#1f5fa8";
const GREEN = "#1b7a3a";
const ORANGE = "#b0540b";

let may = {};
let sales = [];
let chain = [];
let branchNames = new Map();
/** The cursors of the loyal customers' pages shown so far: the first page has none. */
let cursors = [null];
let nextCursor = null;
let charts = {};

function period() {
  return {
    supermarket_id: $("dash-branch").value,
    from_date: $("from-date").value,
    to_date: $("to-date").value,
  };
}

function localDate(day) {
  const offset = day.getTimezoneOffset() * 60_000;
  return new Date(day.getTime() - offset).toISOString().slice(0, 10);
}

function say(message) {
  $("dash-status").textContent = message;
}

/** A chart of `data` in `holder`, as wide as it is, replacing the one drawn before. */
function chart(name, holder, options, data) {
  charts[name]?.destroy();
  clear(holder);
  const width = Math.max(holder.clientWidth, 200);
  charts[name] = new uPlot({ width, height: 260, ...options }, data, holder);
}

function drawSales() {
  const rows = sales.map((row) => [
    i18n.date(row.period_start),
    i18n.count(row.purchases),
    i18n.money(row.revenue),
    i18n.money(row.net_revenue),
    i18n.count(row.units),
  ]);
  fill(
    $("sales-table"),
    [i18n.t("period"), i18n.t("purchases"), i18n.t("revenue"), i18n.t("netRevenue"), i18n.t("units")],
    rows,
  );
  const x = sales.map((row) => Date.parse(`${row.period_start}T00:00:00Z`) / 1000);
  chart(
    "sales",
    $("sales-chart"),
    {
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
      fmtDate: () => (date) => i18n.date(date.toISOString().slice(0, 10)),
      scales: { count: {} },
      series: [
        { label: i18n.t("period") },
        { label: i18n.t("revenue"), stroke: BLUE, width: 2, value: (u, v) => (v == null ? "" : i18n.money(v)) },
        { label: i18n.t("netRevenue"), stroke: GREEN, width: 2, dash: [6, 4], value: (u, v) => (v == null ? "" : i18n.money(v)) },
        { label: i18n.t("purchases"), stroke: ORANGE, width: 2, scale: "count", value: (u, v) => (v == null ? "" : i18n.count(v)) },
      ],
      axes: [
        { values: (u, ticks) => ticks.map((seconds) => i18n.shortDate(new Date(seconds * 1000))) },
        { values: (u, ticks) => ticks.map(i18n.money) },
        { scale: "count", side: 1, grid: { show: false } },
      ],
    },
    [x, sales.map((r) => r.revenue), sales.map((r) => r.net_revenue), sales.map((r) => r.purchases)],
  );
}

function drawBranches() {
  fill(
    $("branches-table"),
    [i18n.t("branch"), i18n.t("purchases"), i18n.t("revenue"), i18n.t("netRevenue")],
    chain.map((row) => [
      branchNames.get(row.supermarket_id) ?? row.supermarket_id,
      i18n.count(row.purchase_count),
      i18n.money(row.revenue),
      i18n.money(row.net_revenue),
    ]),
  );
  const names = chain.map((row) => branchNames.get(row.supermarket_id) ?? String(row.supermarket_id));
  const indices = chain.map((_, index) => index);
  const bars = (align) => uPlot.paths.bars({ size: [0.35, 80], align });
  chart(
    "branches",
    $("branches-chart"),
    {
      scales: { x: { time: false, range: () => [-0.6, Math.max(chain.length - 0.4, 0.4)] } },
      series: [
        { label: i18n.t("branch"), value: (u, v) => (v == null ? "" : names[v] ?? "") },
        { label: i18n.t("revenue"), fill: BLUE, stroke: BLUE, paths: bars(-1), points: { show: false }, value: (u, v) => (v == null ? "" : i18n.money(v)) },
        { label: i18n.t("netRevenue"), fill: GREEN, stroke: GREEN, paths: bars(1), points: { show: false }, value: (u, v) => (v == null ? "" : i18n.money(v)) },
      ],
      axes: [
        { splits: () => indices, values: (u, ticks) => ticks.map((tick) => names[tick] ?? "") },
        { values: (u, ticks) => ticks.map(i18n.money) },
      ],
    },
    [indices, chain.map((row) => row.revenue), chain.map((row) => row.net_revenue)],
  );
}

function drawFigures(statistics, loyalCount) {
  $("fig-purchases").textContent = i18n.count(statistics.total_purchases);
  $("fig-revenue").textContent = i18n.money(statistics.total_revenue);
  $("fig-net-revenue").textContent = i18n.money(statistics.net_revenue);
  $("fig-unique").textContent = i18n.count(statistics.unique_customers);
  $("fig-loyal").textContent = i18n.count(loyalCount);
}

let top = [];
let loyal = [];
let figures = null;

function drawLists() {
  fill(
    $("top-table"),
    [i18n.t("rank"), i18n.t("product"), i18n.t("unitsSold"), i18n.t("unitsReturned")],
    top.map((row) => [i18n.count(row.rank), row.product_name, i18n.count(row.units_sold), i18n.count(row.units_returned)]),
  );
  fill(
    $("loyal-table"),
    [i18n.t("customer"), i18n.t("purchaseCount"), i18n.t("totalSpent"), i18n.t("firstPurchase"), i18n.t("lastPurchase")],
    loyal.map((row) => [
      row.user_id,
      i18n.count(row.purchase_count),
      i18n.money(row.total_spent),
      i18n.instant(row.first_purchase),
      i18n.instant(row.last_purchase),
    ]),
  );
  $("loyal-previous").disabled = cursors.length <= 1;
  $("loyal-next").disabled = !nextCursor;
}

function draw() {
  if (figures) {
    drawFigures(figures.statistics, figures.loyalCount);
  }
  drawSales();
  drawBranches();
  drawLists();
}

async function loadPage() {
  const page = await call(
    `analytics/loyal-customers${query({ ...period(), limit: PAGE, cursor: cursors.at(-1) })}`,
  );
  loyal = page.loyal_customers;
  nextCursor = page.next_cursor ?? null;
  return page.loyal_customers_count;
}

async function loadSales() {
  try {
    sales = await call(`analytics/sales${query({ ...period(), granularity: $("granularity").value })}`);
  } catch (error) {
    sales = [];
    throw error;
  }
}

/** Reads every figure of the period chosen, and draws them. */
export async function load() {
  say(i18n.t("loading"));
  cursors = [null];
  await attempt(async () => {
    const statistics = await call(`analytics/statistics${query(period())}`);
    chain = statistics.by_supermarket;
    if (period().supermarket_id && may.read_chain_analytics) {
      const { supermarket_id: _, ...whole } = period();
      chain = (await call(`analytics/statistics${query(whole)}`)).by_supermarket;
    }
    const loyalCount = await loadPage();
    top = (await call(`analytics/top-products${query(period())}`)).top_products;
    figures = { statistics, loyalCount };
    await loadSales();
  });
  draw();
  say(figures && figures.statistics.total_purchases === 0 ? i18n.t("noData") : "");
}

/** Sets the dashboard up for the key described by `whoami`, with the chain's `branches`. */
export function setUp(whoami, branches) {
  may = whoami.may;
  branchNames = new Map(branches.map((branch) => [branch.id, branch.name]));
  const select = $("dash-branch");
  clear(select);
  if (may.read_chain_analytics) {
    select.append(element("option", { value: "" }, [i18n.t("allBranches")]));
  }
  for (const branch of branches) {
    if (may.read_chain_analytics || branch.id === whoami.supermarket_id) {
      select.append(element("option", { value: String(branch.id) }, [branch.name]));
    }
  }
  select.disabled = select.options.length <= 1;
  if (!$("to-date").value) {
    const today = new Date();
    $("to-date").value = localDate(today);
    $("from-date").value = localDate(new Date(today.getTime() - 29 * 86_400_000));
  }
}

/** Wires the dashboard's controls, once. */
export function wire() {
  $("period-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("granularity").addEventListener("change", () => attempt(loadSales).then(drawSales));
  $("loyal-next").addEventListener("click", () =>
    attempt(async () => {
      cursors.push(nextCursor);
      await loadPage();
      drawLists();
    }),
  );
  $("loyal-previous").addEventListener("click", () =>
    attempt(async () => {
      cursors.pop();
      await loadPage();
      drawLists();
    }),
  );
  $("sales-csv").addEventListener("click", () =>
    attempt(() =>
      download(`analytics/sales${query({ ...period(), granularity: $("granularity").value, format: "csv" })}`),
    ),
  );
  $("top-csv").addEventListener("click", () =>
    attempt(() => download(`analytics/top-products${query({ ...period(), format: "csv" })}`)),
  );
  $("loyal-csv").addEventListener("click", () =>
    attempt(() => download(`analytics/loyal-customers${query({ ...period(), format: "csv" })}`)),
  );
  i18n.onChange(() => {
    const all = $("dash-branch").querySelector('option[value=""]');
    if (all) {
      all.textContent = i18n.t("allBranches");
    }
    if (!$("dashboard").hidden) {
      draw();
    }
  });
  new ResizeObserver(() => {
    for (const [name, holder] of [["sales", $("sales-chart")], ["branches", $("branches-chart")]]) {
      charts[name]?.setSize({ width: Math.max(holder.clientWidth, 200), height: 260 });
    }
  }).observe($("dashboard"));
}
