// The page's start: the language, the sign-in (when the gateway asks for keys), and the tabs
// the key may use.

import { call, key, Refused, setKey, Unreachable } from "./api.js";
import * as i18n from "./i18n.js";
import * as queue from "./queue.js";
import * as till from "./till.js";
import * as manager from "./manager.js";
import * as dashboard from "./dashboard.js";
import { $, notify } from "./dom.js";

const TABS = ["till", "manager", "dashboard"];
let whoami = null;

function drawWho() {
  if (!whoami) {
    $("who").textContent = "";
  } else if (whoami.auth === "off") {
    $("who").textContent = i18n.t("open");
  } else {
    $("who").textContent = i18n.t("signedInAs", {
      name: whoami.name,
      role: i18n.t(`role_${whoami.role}`),
    });
  }
  $("waiting").textContent = i18n.t("waiting", { count: i18n.count(queue.waiting()) });
}

/** The tabs the key may use. */
function usable() {
  const may = whoami.may;
  return TABS.filter(
    (tab) =>
      (tab === "till" && may.record_purchases) ||
      (tab === "manager" && (may.refund || may.void || may.change_prices)) ||
      (tab === "dashboard" && (may.read_analytics || may.read_chain_analytics)),
  );
}

function select(tab, focus = false) {
  for (const name of TABS) {
    const button = $(`tab-${name}`);
    const chosen = name === tab;
    button.setAttribute("aria-selected", String(chosen));
    button.tabIndex = chosen ? 0 : -1;
    $(name).hidden = !chosen;
    if (chosen && focus) {
      button.focus();
    }
  }
  if (tab === "dashboard") {
    dashboard.load();
  }
}

function wireTabs() {
  for (const name of TABS) {
    $(`tab-${name}`).addEventListener("click", () => select(name));
  }
  // Arrow keys move between the tabs, as a tab list's keyboard pattern has it.
  $("tabs").addEventListener("keydown", (event) => {
    const shown = TABS.filter((name) => !$(`tab-${name}`).hidden);
    const at = shown.findIndex((name) => $(`tab-${name}`) === document.activeElement);
    if (at < 0) {
      return;
    }
    const forward = document.documentElement.dir === "rtl" ? "ArrowLeft" : "ArrowRight";
    const backward = document.documentElement.dir === "rtl" ? "ArrowRight" : "ArrowLeft";
    const moves = { [forward]: 1, [backward]: -1, Home: -at, End: shown.length - 1 - at };
    if (event.key in moves) {
      event.preventDefault();
      select(shown[(at + moves[event.key] + shown.length) % shown.length], true);
    }
  });
}

function signedOut(message = "") {
  whoami = null;
  queue.setOwner(null);
  $("tabs").hidden = true;
  for (const name of TABS) {
    $(name).hidden = true;
  }
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
  $("api-key").focus();
  drawWho();
}

async function signedIn(who) {
  whoami = who;
  queue.setOwner(who.name ?? "");
  $("sign-in").hidden = true;
  $("sign-out").hidden = who.auth === "off";
  drawWho();
  const tabs = usable();
  if (tabs.length === 0) {
    notify(i18n.t("nothingAllowed"));
    return;
  }
  const branches = await call("branches");
  for (const name of TABS) {
    $(`tab-${name}`).hidden = !tabs.includes(name);
  }
  $("tabs").hidden = false;
  await till.setUp(who, branches);
  manager.setUp(who.may, till.catalog, till.loadProducts);
  dashboard.setUp(who, branches);
  select(tabs[0]);
}

/** Asks the gateway who the tab's key is (or whether it asks for none), and shows what it may. */
async function start() {
  try {
    const who = await call("whoami");
    if (who.auth === "required" && !who.name) {
      signedOut();
    } else {
      await signedIn(who);
    }
  } catch (error) {
    if (error instanceof Refused && error.status === 401) {
      // A key kept from before that no longer works is named; no key at all is just asked for.
      const hadKey = Boolean(key());
      setKey(null);
      signedOut(hadKey ? error.message : "");
    } else if (error instanceof Refused) {
      signedOut(error.message);
    } else if (error instanceof Unreachable) {
      notify(i18n.t("unreachable"));
    } else {
      throw error;
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("language").value = i18n.current();
  i18n.use(i18n.current());
  $("language").addEventListener("change", (event) => i18n.use(event.target.value));
  i18n.onChange(drawWho);
  queue.onChange(drawWho);
  queue.start((sentence) => notify(i18n.t("refused", { error: sentence })));
  till.wire();
  manager.wire();
  dashboard.wire();
  wireTabs();
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    setKey($("api-key").value.trim());
    $("api-key").value = "";
    try {
      await signedIn(await call("whoami"));
    } catch (error) {
      setKey(null);
      signedOut(error.message);
    }
  });
  $("sign-out").addEventListener("click", () => {
    setKey(null);
    signedOut();
  });
  drawWho();
  start();
});
