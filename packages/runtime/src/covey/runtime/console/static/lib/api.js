// The console's only door to the server: the public HTTP API, with the signed-in token.
// The token lives in this tab's sessionStorage (gone when the tab closes; another origin's page
// cannot read it). Every error is an ApiError carrying the server's problem+json answer.

const TOKEN_KEY = "covey.token";

export class ApiError extends Error {
  constructor(status, problem) {
    const text = (problem && (problem.detail || problem.title)) || `HTTP ${status}`;
    super(text);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem || {};
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value.trim()),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** `path` with `params` as a query string, leaving out empty values. */
export function url(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of [value].flat()) query.append(key, String(item));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

function headers(extra) {
  const out = { Accept: "application/json", ...extra };
  const bearer = token.get();
  if (bearer) out.Authorization = `Bearer ${bearer}`;
  return out;
}

async function failure(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    problem = { title: response.statusText };
  }
  if (response.status === 401) window.dispatchEvent(new CustomEvent("covey:unauthorized"));
  return new ApiError(response.status, problem);
}

/** One JSON request; resolves to the parsed body (null for 204), throws ApiError. */
export async function request(method, path, { params, body, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, params), init);
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path, params, signal) => request("GET", path, { params, signal });
export const post = (path, body, signal) => request("POST", path, { body, signal });
export const patch = (path, body, signal) => request("PATCH", path, { body, signal });
export const put = (path, body, signal) => request("PUT", path, { body, signal });
export const del = (path, signal) => request("DELETE", path, { signal });

/**
 * Read a Server-Sent Events answer: `onEvent({id, event, data})` for each message (`data`
 * parsed as JSON when it is JSON). Resolves when the server ends the stream; rejects with
 * ApiError on an error status, or an AbortError when `signal` aborts.
 */
export async function stream(method, path, { body, params, signal, onEvent, lastEventId } = {}) {
  const init = { method, headers: headers({ Accept: "text/event-stream" }), signal };
  if (lastEventId !== undefined && lastEventId !== null) init.headers["Last-Event-ID"] = String(lastEventId);
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, params), init);
  if (!response.ok) throw await failure(response);
  const type = response.headers.get("content-type") || "";
  if (!type.includes("text/event-stream")) return response.json();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = parseBlock(block);
      if (message) onEvent(message);
    }
  }
  return null;
}

function parseBlock(block) {
  const message = { id: null, event: "message", data: "" };
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "data") data.push(value);
    else if (field === "event") message.event = value;
    else if (field === "id") message.id = value;
  }
  if (!data.length) return null;
  message.data = data.join("\n");
  try {
    message.data = JSON.parse(message.data);
  } catch {
    // not JSON: keep the text
  }
  return message;
}

/** Follow a run's events from after `seq` (re-attach to a running run, or replay a stopped one). */
export const follow = (runId, after, options = {}) =>
  stream("GET", `/v1/runs/${encodeURIComponent(runId)}/events`, {
    ...options,
    params: after === undefined || after === null ? undefined : { after },
  });

/**
 * POST a multipart form (document uploads) with upload progress: `onProgress(sent, total)`.
 * Resolves to the parsed JSON answer; rejects with ApiError.
 */
export function upload(path, form, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    const bearer = token.get();
    if (bearer) xhr.setRequestHeader("Authorization", `Bearer ${bearer}`);
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : null);
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = { title: xhr.statusText };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else {
        if (xhr.status === 401) window.dispatchEvent(new CustomEvent("covey:unauthorized"));
        reject(new ApiError(xhr.status, body));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, { title: "Network error" }));
    if (signal) signal.addEventListener("abort", () => xhr.abort());
    xhr.send(form);
  });
}

/** Every item of a cursor-paged listing, up to `max` items. */
export async function all(path, params = {}, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path, { ...params, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
