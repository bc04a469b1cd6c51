// The JSON API, found beside the page (one level up from `/ui/`, whatever prefix the gateway
// is mounted at), with the key kept for this browser tab only.

const KEY = "icash.key";

/** The API's URL of `path` (without its leading slash). */
export function url(path) {
  return new URL(`../${path}`, document.baseURI).href;
}

/** The key the page signs its requests with, if any. */
export function key() {
  return sessionStorage.getItem(KEY);
}

/** Keeps `value` as the tab's key; `null` forgets it. */
export function setKey(value) {
  if (value) {
    sessionStorage.setItem(KEY, value);
  } else {
    sessionStorage.removeItem(KEY);
  }
}

/** The gateway could not be reached: no answer at all. */
export class Unreachable extends Error {}

/** An answer other than 2xx, with the API's sentence. */
export class Refused extends Error {
  constructor(status, sentence) {
    super(sentence);
    this.status = status;
  }
}

function headers(extra = {}) {
  const all = { ...extra };
  const secret = key();
  if (secret) {
    all.Authorization = `Bearer ${secret}`;
  }
  return all;
}

/** Sends a request; its response, or `Unreachable` when nothing answered. */
async function send(path, options) {
  try {
    return await fetch(url(path), { cache: "no-store", ...options });
  } catch (error) {
    throw new Unreachable(error.message);
  }
}

/** The JSON of a request's answer: `Refused` with the API's sentence for a 4xx or 5xx. */
export async function call(path, { method = "GET", body } = {}) {
  const options = { method, headers: headers({ Accept: "application/json" }) };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await send(path, options);
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    throw new Refused(response.status, json?.error ?? `${response.status} ${response.statusText}`);
  }
  return json;
}

/** Downloads `path` as CSV into a file named as the API names it. */
export async function download(path) {
  const response = await send(path, { headers: headers({ Accept: "text/csv" }) });
  if (!response.ok) {
    const json = await response.json().catch(() => null);
    throw new Refused(response.status, json?.error ?? `${response.status}`);
  }
  const disposition = response.headers.get("content-disposition") ?? "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? "export.csv";
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** A query string of the parameters that have a value. */
export function query(parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== "") {
      search.set(name, value);
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
