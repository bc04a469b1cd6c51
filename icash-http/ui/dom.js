// Small helpers to build the page's elements (text is always set as text, never as HTML), and
// to tell the person what went wrong.

import { Refused, Unreachable } from "./api.js";
import { t } from "./i18n.js";

/** The element of id `id`. */
export function $(id) {
  return document.getElementById(id);
}

/** Removes every child of `node`. */
export function clear(node) {
  node.replaceChildren();
}

/**
 * A new `tag` element with `attributes` (`className`, `id`, `type` and `value` as properties,
 * the others as attributes) and `children` (nodes, or strings as text).
 */
export function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (["className", "id", "type", "value", "htmlFor", "checked"].includes(name)) {
      node[name] = value;
    } else {
      node.setAttribute(name, value);
    }
  }
  node.append(...children);
  return node;
}

/** Adds a term and its value to the description list `list`. */
export function fact(list, term, value) {
  list.append(element("dt", {}, [term]), element("dd", {}, [String(value)]));
}

/** Fills `table` with a header row of `headings` and one row per entry of `rows`. */
export function fill(table, headings, rows) {
  clear(table);
  const head = element("thead", {}, [
    element("tr", {}, headings.map((heading) => element("th", { scope: "col" }, [heading]))),
  ]);
  const body = element(
    "tbody",
    {},
    rows.map((row) => element("tr", {}, row.map((cell) => element("td", {}, [String(cell)])))),
  );
  table.append(head, body);
}

let hideNotice = null;

/** Shows `message` to the person, in the page's alert; an empty message hides it. */
export function notify(message) {
  const notice = $("notice");
  notice.textContent = message;
  notice.hidden = !message;
  clearTimeout(hideNotice);
  if (message) {
    hideNotice = setTimeout(() => notify(""), 15_000);
  }
}

/** Runs `action`, telling the person the API's sentence when it is refused or unanswered. */
export async function attempt(action) {
  try {
    await action();
  } catch (error) {
    if (error instanceof Refused) {
      notify(error.message);
    } else if (error instanceof Unreachable) {
      notify(t("unreachable"));
    } else {
      throw error;
    }
  }
}
