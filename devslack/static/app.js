/*
 * devslack web UI: a page used like Slack against the local Slack stand-in.
 *
 * Plain JavaScript, no framework and no build step. It talks only to devslack's
 * control API under /_dev/api/ and follows the `live` Server-Sent Events stream.
 *
 * Safety rule for the whole file: untrusted text (messages, blocks, names, views)
 * only ever reaches the page through textContent / text nodes / attribute values
 * built with the `h()` helper. Nothing here uses innerHTML.
 */
"use strict";

(() => {
  // -------------------------------------------------------------------------
  // State
  // -------------------------------------------------------------------------

  const state = {
    workspace: null,
    users: new Map(), // id -> user
    channels: new Map(), // id -> channel
    usergroups: new Map(), // id -> usergroup
    me: null, // id of the user we act as
    page: { kind: "channel", channel: null }, // or { kind: "home" }
    messages: [], // top-level messages of the open channel
    ephemeral: [], // this user's ephemeral messages, all channels
    dismissed: new Set(), // ephemeral ts the user dismissed
    thread: null, // { channel, ts, messages }
    views: [], // this user's modal stack, root first
    home: null, // this user's App Home view
    unread: new Set(), // channel ids with unseen messages
    modalValues: new Map(), // view_id -> Map("block\u0000action" -> value)
    clientErrors: new Map(), // view_id -> { blockKey: message } (required fields)
    source: null, // the live EventSource
    reconnectDelay: 500,
    reconnecting: false, // the stream failed and has not been reopened yet
    lastLiveErrorAt: 0,
  };

  // Render caches: key -> { sig, node }, so unchanged messages keep their DOM.
  const messageCache = new Map();
  const threadCache = new Map();
  let modalSig = null;
  let homeSig = null;
  let idCounter = 0;

  const FIRST_RECONNECT_DELAY = 500;
  const MAX_RECONNECT_DELAY = 10000;

  // -------------------------------------------------------------------------
  // DOM helpers
  // -------------------------------------------------------------------------

  const $ = (selector, root = document) => root.querySelector(selector);

  /** Properties assigned directly instead of as attributes. */
  const DOM_PROPS = new Set(["value", "checked", "selected", "disabled", "hidden", "multiple"]);

  /**
   * Create an element. `props` keys: class, text, on<event> (a function),
   * DOM properties, or attributes (values become strings, never markup).
   */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, val] of Object.entries(props || {})) {
      if (val === undefined || val === null || val === false) continue;
      if (key === "class") el.className = val;
      else if (key === "text") el.textContent = val;
      else if (key.startsWith("on") && typeof val === "function") {
        el.addEventListener(key.slice(2), val);
      } else if (DOM_PROPS.has(key)) el[key] = val;
      else el.setAttribute(key, val === true ? "" : String(val));
    }
    appendChildren(el, children);
    return el;
  }

  /** Append strings (as text nodes), nodes and nested arrays; skip empties. */
  function appendChildren(parent, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) appendChildren(parent, child);
      else if (child instanceof Node) parent.append(child);
      else parent.append(document.createTextNode(String(child)));
    }
    return parent;
  }

  function uid(prefix) {
    idCounter += 1;
    return `${prefix}-${idCounter}`;
  }

  /**
   * Make `container`'s children exactly `entries` (in order), reusing the DOM
   * of entries whose data did not change, so focus and open menus survive.
   */
  function reconcile(container, cache, entries) {
    const next = new Map();
    const nodes = entries.map(({ key, sig, build }) => {
      const old = cache.get(key);
      const node = old && old.sig === sig ? old.node : build();
      next.set(key, { sig, node });
      return node;
    });
    const keep = new Set(nodes);
    for (const child of [...container.children]) {
      if (!keep.has(child)) child.remove();
    }
    let cursor = container.firstElementChild;
    for (const node of nodes) {
      if (node === cursor) cursor = cursor.nextElementSibling;
      else container.insertBefore(node, cursor);
    }
    cache.clear();
    for (const [key, val] of next) cache.set(key, val);
  }

  function isNearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 60;
  }

  // -------------------------------------------------------------------------
  // Control API
  // -------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  /** GET (no body) or POST JSON to /_dev/api/<path>; throws ApiError on HTTP errors. */
  async function api(path, body) {
    const init = { headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(`/_dev/api/${path}`, init);
    } catch {
      throw new ApiError("devslack is not reachable", 0, null);
    }
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) {
      // devslack explains most refusals in `detail` (e.g. "/x is not a valid command").
      const message = (data && (data.detail || data.error)) || `HTTP ${res.status}`;
      throw new ApiError(message, res.status, data);
    }
    return data || {};
  }

  function apiGet(path, params) {
    return api(`${path}?${new URLSearchParams(params)}`);
  }

  /**
   * Report the outcome of a command / click / submit. HTTP errors of the control
   * API itself become a notice; app failures normally arrive as a live `error`
   * event with Slack's wording, which takes precedence.
   */
  function reportResult(result) {
    if (!result || result.ok !== false) return;
    setTimeout(() => {
      if (Date.now() - state.lastLiveErrorAt > 1500) {
        showNotice(describeFailure(result));
      }
    }, 300);
  }

  function describeFailure(result) {
    if (result.error) return `The app did not handle that: ${result.error}`;
    if (result.status) return `The app answered with HTTP ${result.status}.`;
    return "The app did not respond.";
  }

  // -------------------------------------------------------------------------
  // Workspace lookups
  // -------------------------------------------------------------------------

  function loadWorkspace(ws) {
    state.workspace = ws;
    state.users = new Map((ws.users || []).map((u) => [u.id, u]));
    state.channels = new Map((ws.channels || []).map((c) => [c.id, c]));
    state.usergroups = new Map((ws.usergroups || []).map((g) => [g.id, g]));
  }

  function app() {
    return (state.workspace && state.workspace.app) || {};
  }

  function userName(id) {
    const user = state.users.get(id);
    if (!user) return id || "unknown";
    return user.display_name || user.real_name || user.name || id;
  }

  /** Find a user by id, name or @name. */
  function findUser(ref) {
    if (!ref) return null;
    const name = ref.replace(/^@/, "");
    if (state.users.has(name)) return state.users.get(name);
    for (const user of state.users.values()) {
      if (user.name === name || user.display_name === name) return user;
    }
    return null;
  }

  /** Find a channel by id, name or #name. */
  function findChannel(ref) {
    if (!ref) return null;
    const name = ref.replace(/^#/, "");
    if (state.channels.has(name)) return state.channels.get(name);
    for (const channel of state.channels.values()) {
      if (!channel.is_im && channel.name === name) return channel;
    }
    return null;
  }

  function humans() {
    return [...state.users.values()].filter((u) => !u.is_bot && !u.deleted);
  }

  function isBotUser(id) {
    const user = state.users.get(id);
    return Boolean((user && user.is_bot) || (id && id === app().bot_user_id));
  }

  /** The DM channels the current user is in. */
  function myDms() {
    const me = state.users.get(state.me);
    return [...state.channels.values()].filter((c) => {
      if (!c.is_im) return false;
      if (Array.isArray(c.members) && c.members.length) return c.members.includes(state.me);
      return Boolean(me && c.name === me.name);
    });
  }

  /** Who the current user talks to in a DM (the app's bot user for app DMs). */
  function dmPeer(channel) {
    const others = (channel.members || []).filter((m) => m !== state.me);
    if (others.length) return others[0];
    const me = state.users.get(state.me);
    return me && channel.name === me.name ? app().bot_user_id : channel.name;
  }

  function channelLabel(channel) {
    if (!channel) return "";
    if (channel.is_im) {
      const peer = dmPeer(channel);
      return isBotUser(peer) ? app().name || userName(peer) : userName(peer);
    }
    return `#${channel.name}`;
  }

  function isAppDm(channel) {
    return Boolean(channel && channel.is_im && isBotUser(dmPeer(channel)));
  }

  // -------------------------------------------------------------------------
  // Slack mrkdwn -> DOM
  // -------------------------------------------------------------------------

  const EMOJI = {
    "+1": "👍", "-1": "👎", "100": "💯", arrows_counterclockwise: "🔄", bell: "🔔",
    boom: "💥", bulb: "💡", calendar: "📅", checkered_flag: "🏁", clock1: "🕐",
    construction: "🚧", eyes: "👀", exclamation: "❗", fire: "🔥", gear: "⚙️", heart: "❤️",
    heavy_check_mark: "✔️", hourglass: "⌛", hourglass_flowing_sand: "⏳",
    information_source: "ℹ️", large_green_circle: "🟢", large_yellow_circle: "🟡",
    link: "🔗", lock: "🔒", memo: "📝", no_entry: "⛔", package: "📦", pencil: "✏️",
    question: "❓", red_circle: "🔴", robot_face: "🤖", rocket: "🚀", rotating_light: "🚨",
    skull: "💀", slightly_smiling_face: "🙂", smile: "😄", sparkles: "✨", stopwatch: "⏱️",
    tada: "🎉", thinking_face: "🤔", thumbsdown: "👎", thumbsup: "👍", warning: "⚠️",
    wave: "👋", white_check_mark: "✅", x: "❌",
  };

  function emojify(text) {
    return text.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
  }

  /** Slack escapes only &, < and > in message text. */
  function decodeEntities(text) {
    return text.replace(/&(amp|lt|gt);/g, (m, name) => ({ amp: "&", lt: "<", gt: ">" })[name]);
  }

  const SAFE_LINK = /^(https?:|mailto:)/i;

  /** A link element for safe schemes, otherwise the label as plain text. */
  function linkNode(url, label) {
    if (!SAFE_LINK.test(url)) return h("span", { class: "unsafe-link", title: url }, label);
    return h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label);
  }

  function mentionNode(userId, label) {
    const classes = userId === state.me ? "mention mention-me" : "mention";
    const name = state.users.has(userId) ? userName(userId) : label || userId;
    return h("span", { class: classes, "data-user-id": userId }, `@${name}`);
  }

  function channelNode(channelId, label) {
    const channel = state.channels.get(channelId);
    const name = channel ? channel.name : label || channelId;
    return h("span", { class: "mention mention-channel", "data-channel-id": channelId }, `#${name}`);
  }

  function usergroupNode(groupId, label) {
    const group = state.usergroups.get(groupId);
    const name = group ? group.handle : (label || groupId).replace(/^@/, "");
    const mine = group && (group.users || []).includes(state.me);
    const classes = mine ? "mention mention-group mention-me" : "mention mention-group";
    return h("span", { class: classes, "data-usergroup-id": groupId }, `@${name}`);
  }

  function formatDate(epochSeconds) {
    const date = new Date(Number(epochSeconds) * 1000);
    return Number.isNaN(date.getTime()) ? String(epochSeconds) : date.toLocaleString();
  }

  /**
   * One `<...>` control sequence: mentions, channels, specials, dates, links.
   * Returns null when it is not one, so the text shows literally.
   */
  function controlNode(inner) {
    const bar = inner.indexOf("|");
    const target = bar === -1 ? inner : inner.slice(0, bar);
    const label = bar === -1 ? "" : decodeEntities(inner.slice(bar + 1));
    if (/^@[UW][A-Z0-9]+$/.test(target)) return mentionNode(target.slice(1), label);
    if (/^#C[A-Z0-9]+$|^#[GD][A-Z0-9]+$/.test(target)) return channelNode(target.slice(1), label);
    if (target.startsWith("!")) {
      const [kind, ...rest] = target.slice(1).split("^");
      if (["here", "channel", "everyone"].includes(kind)) {
        return h("span", { class: "mention mention-special" }, `@${kind}`);
      }
      if (kind === "subteam" && rest[0]) return usergroupNode(rest[0], label);
      if (kind === "date" && rest[0]) {
        return h("span", { class: "mrkdwn-date" }, label || formatDate(rest[0]));
      }
      return null;
    }
    if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(target)) {
      return linkNode(decodeEntities(target), label || decodeEntities(target));
    }
    return null;
  }

  // A marker opens after start/space/punctuation and closes before end/space/punctuation;
  // doubled markers (`__x__`, `**`) are left alone, like Slack does.
  const FORMAT_RE = /(^|[^\p{L}\p{N}*_~])([*_~])(?!\2)(?!\s)([^\n]*?[^\s])\2(?!\2)(?![\p{L}\p{N}])/u;
  const FORMAT_TAG = { "*": "strong", _: "em", "~": "del" };
  const PLACEHOLDER_RE = /\uE000(\d+)\uE001/;

  /** Append text that may contain placeholders for already-built nodes. */
  function appendWithPlaceholders(parent, text, tokens) {
    const parts = text.split(PLACEHOLDER_RE);
    parts.forEach((part, i) => {
      if (i % 2 === 1) parent.append(tokens[Number(part)]);
      else if (part) parent.append(document.createTextNode(emojify(decodeEntities(part))));
    });
  }

  /** *bold*, _italic_ and ~strike~, nested, on text with placeholders. */
  function appendFormatted(parent, text, tokens) {
    let rest = text;
    while (rest) {
      const match = FORMAT_RE.exec(rest);
      if (!match) {
        appendWithPlaceholders(parent, rest, tokens);
        return;
      }
      const start = match.index + match[1].length;
      appendWithPlaceholders(parent, rest.slice(0, start), tokens);
      const el = h(FORMAT_TAG[match[2]]);
      appendFormatted(el, match[3], tokens);
      parent.append(el);
      rest = rest.slice(match.index + match[0].length);
    }
  }

  /** One line of mrkdwn: code spans and control sequences first, then emphasis. */
  function appendInline(parent, line) {
    const tokens = [];
    const hold = (node) => `\uE000${tokens.push(node) - 1}\uE001`;
    let text = line.replace(/[\uE000\uE001]/g, "");
    text = text.replace(/`([^`\n]+)`/g, (m, code) =>
      hold(h("code", { class: "mrkdwn-code" }, decodeEntities(code))),
    );
    text = text.replace(/<([^<>\n]+)>/g, (m, inner) => {
      const node = controlNode(inner);
      return node ? hold(node) : m;
    });
    appendFormatted(parent, text, tokens);
  }

  /** Lines with <br>, grouping `>` quote lines into blockquotes. */
  function appendLines(parent, text) {
    const lines = text.split("\n");
    let plain = [];
    const flushPlain = () => {
      plain.forEach((line, i) => {
        if (i > 0) parent.append(h("br"));
        appendInline(parent, line);
      });
      plain = [];
    };
    for (let i = 0; i < lines.length; i += 1) {
      const line = lines[i];
      const multi = /^(&gt;|>){3}/.exec(line);
      if (multi) {
        flushPlain();
        const quote = h("blockquote", { class: "mrkdwn-quote" });
        appendLines(quote, [line.slice(multi[0].length), ...lines.slice(i + 1)].join("\n"));
        parent.append(quote);
        return;
      }
      const single = /^(&gt;|>) ?/.exec(line);
      if (!single) {
        plain.push(line);
        continue;
      }
      flushPlain();
      const quote = h("blockquote", { class: "mrkdwn-quote" });
      const quoted = [line.slice(single[0].length)];
      while (i + 1 < lines.length && /^(&gt;|>)(?!(&gt;|>){2})/.test(lines[i + 1])) {
        i += 1;
        quoted.push(lines[i].replace(/^(&gt;|>) ?/, ""));
      }
      quoted.forEach((q, j) => {
        if (j > 0) quote.append(h("br"));
        appendInline(quote, q);
      });
      parent.append(quote);
    }
    flushPlain();
  }

  /** Render Slack mrkdwn into a fragment. */
  function renderMrkdwn(text) {
    const frag = document.createDocumentFragment();
    const parts = String(text ?? "").split("```");
    if (parts.length % 2 === 0) parts.splice(-2, 2, `${parts.at(-2)}\`\`\`${parts.at(-1)}`);
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        frag.append(h("pre", { class: "mrkdwn-pre" }, decodeEntities(part.replace(/^\n/, ""))));
        return;
      }
      let body = part;
      if (i > 0) body = body.replace(/^\n/, "");
      if (i < parts.length - 1) body = body.replace(/\n$/, "");
      if (body) appendLines(frag, body);
    });
    return frag;
  }

  /** A Block Kit text object (plain_text or mrkdwn) as a node. */
  function renderText(obj, className) {
    if (!obj) return null;
    if (typeof obj === "string") return h("span", { class: className }, obj);
    if (obj.type === "mrkdwn") {
      return appendChildren(h("span", { class: `mrkdwn ${className || ""}` }), [renderMrkdwn(obj.text)]);
    }
    const text = obj.emoji === false ? obj.text : emojify(String(obj.text ?? ""));
    return h("span", { class: `plain-text ${className || ""}` }, text);
  }

  /** The visible string of a text object, for <option> and aria labels. */
  function plainText(obj) {
    if (!obj) return "";
    if (typeof obj === "string") return obj;
    return obj.type === "mrkdwn" ? decodeEntities(String(obj.text ?? "")) : String(obj.text ?? "");
  }

  // -------------------------------------------------------------------------
  // Images: only same-origin or data: images are loaded (no network fetches).
  // -------------------------------------------------------------------------

  function isLocalImage(url) {
    if (typeof url !== "string") return false;
    if (/^data:image\//i.test(url)) return true;
    try {
      return new URL(url, location.href).origin === location.origin;
    } catch {
      return false;
    }
  }

  function imageNode(url, alt, className) {
    if (isLocalImage(url)) return h("img", { class: className, src: url, alt: alt || "" });
    // Remote images are not fetched: show their alt text where the image would be.
    const label = alt || "image";
    const props = { class: `${className} img-placeholder`, role: "img", "aria-label": label, title: url || "" };
    return h("span", props, label);
  }

  // -------------------------------------------------------------------------
  // Interactions
  // -------------------------------------------------------------------------

  /** Where an action happened, as the click endpoint wants it. */
  function actionTarget(ctx) {
    if (ctx.surface === "modal") return { view_id: ctx.viewId };
    if (ctx.surface === "home") return { channel: "home" };
    return { channel: ctx.channel, ts: ctx.ts };
  }

  /**
   * Send an element's action (after its confirm dialog, if any).
   * Resolves to false when the user cancelled the confirm dialog.
   */
  async function sendAction(ctx, blockId, element, value) {
    if (element.confirm && !(await confirmDialog(element.confirm))) return false;
    const body = { user: state.me, ...actionTarget(ctx), action_id: element.action_id };
    if (blockId) body.block_id = blockId;
    if (value !== undefined) body.value = value;
    try {
      reportResult(await api("click", body));
    } catch (err) {
      showNotice(err.message);
    }
    return true;
  }

  /**
   * An element's value changed. Inside a modal's input block the value is kept
   * locally (sent on Submit); elsewhere it is an action sent right away.
   */
  function valueChanged(ctx, field, element, value) {
    if (field.inInput) {
      setModalValue(ctx.viewId, field.blockKey, element.action_id, value);
      clearClientError(ctx.viewId, field.blockKey);
      if (field.dispatch) return sendAction(ctx, field.blockId, element, value);
      return Promise.resolve(true);
    }
    return sendAction(ctx, field.blockId, element, value);
  }

  /** A Slack-style confirm dialog; resolves true when confirmed. */
  function confirmDialog(confirm) {
    return new Promise((resolve) => {
      const root = $("#confirm-root");
      const previous = document.activeElement;
      const titleId = uid("confirm-title");
      const finish = (ok) => {
        root.replaceChildren();
        document.removeEventListener("keydown", onKey, true);
        if (previous && previous.isConnected) previous.focus();
        resolve(ok);
      };
      const onKey = (event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          finish(false);
        }
      };
      const okClass = confirm.style === "danger" ? "btn btn-danger" : "btn btn-primary";
      const deny = h("button", {
        type: "button", class: "btn", "data-confirm": "deny", onclick: () => finish(false),
      }, plainText(confirm.deny) || "Cancel");
      const ok = h("button", {
        type: "button", class: okClass, "data-confirm": "confirm", onclick: () => finish(true),
      }, plainText(confirm.confirm) || "Yes");
      const dialog = h("div", {
        class: "dialog confirm-dialog", role: "alertdialog", "aria-modal": "true",
        "aria-labelledby": titleId, "data-testid": "confirm-dialog",
      },
      h("h2", { class: "dialog-title", id: titleId }, plainText(confirm.title) || "Are you sure?"),
      h("div", { class: "dialog-text" }, renderText(confirm.text)),
      h("div", { class: "dialog-buttons" }, deny, ok));
      root.replaceChildren(h("div", { class: "backdrop confirm-backdrop" }, dialog));
      document.addEventListener("keydown", onKey, true);
      ok.focus();
    });
  }

  // -------------------------------------------------------------------------
  // Block Kit elements
  // -------------------------------------------------------------------------

  /** Options an element offers: [{ value, label, description, group }]. */
  function optionsFor(element) {
    const fromOption = (o, group) => ({
      value: o.value, label: plainText(o.text), text: o.text, description: o.description, group,
    });
    const base = element.type.replace(/^multi_/, "");
    if (base === "users_select") {
      return humans().map((u) => ({ value: u.id, label: userName(u.id) }));
    }
    if (base === "conversations_select" || base === "channels_select") {
      return [...state.channels.values()]
        .filter((c) => !c.is_im)
        .map((c) => ({ value: c.id, label: `#${c.name}` }));
    }
    if (element.option_groups) {
      return element.option_groups.flatMap((g) => (g.options || []).map((o) => fromOption(o, plainText(g.label))));
    }
    const options = (element.options || []).map((o) => fromOption(o));
    // External selects have no option source here: offer their initial options.
    if (base === "external_select") {
      for (const o of [element.initial_option, ...(element.initial_options || [])]) {
        if (o && !options.some((x) => x.value === o.value)) options.push(fromOption(o));
      }
    }
    return options;
  }

  /** The element's initial value as the UI keeps it (string, list or null). */
  function initialValue(element) {
    const e = element;
    if (e.initial_options) return e.initial_options.map((o) => o.value);
    if (e.initial_option) return e.initial_option.value;
    if (e.initial_users) return [...e.initial_users];
    if (e.initial_conversations) return [...e.initial_conversations];
    if (e.initial_channels) return [...e.initial_channels];
    const single = e.initial_user ?? e.initial_conversation ?? e.initial_channel ?? e.initial_date
      ?? e.initial_time ?? e.initial_date_time ?? e.initial_value;
    if (single !== undefined && single !== null) return String(single);
    return isMultiValued(e) ? [] : null;
  }

  function isMultiValued(element) {
    return element.type.startsWith("multi_") || element.type === "checkboxes";
  }

  /** A value from a Slack-shaped `view.state.values` entry. */
  function valueFromSlackState(entry) {
    if (!entry || typeof entry !== "object") return undefined;
    if ("selected_options" in entry) return (entry.selected_options || []).map((o) => o.value);
    if ("selected_option" in entry) return entry.selected_option ? entry.selected_option.value : null;
    for (const key of ["selected_users", "selected_conversations", "selected_channels"]) {
      if (key in entry) return [...(entry[key] || [])];
    }
    for (const key of ["value", "selected_user", "selected_conversation", "selected_channel",
      "selected_date", "selected_time", "selected_date_time"]) {
      if (key in entry) return entry[key] === null ? null : String(entry[key]);
    }
    return undefined;
  }

  function currentValue(ctx, field, element) {
    if (field.inInput) return getModalValue(ctx, field, element);
    return initialValue(element);
  }

  function renderButton(element, ctx, field) {
    const style = element.style === "primary" || element.style === "danger" ? ` btn-${element.style}` : "";
    const button = h("button", {
      type: "button",
      class: `btn bk-button${style}`,
      "data-action-id": element.action_id,
      "data-block-id": field.blockId,
      "data-style": element.style,
      "aria-label": element.accessibility_label,
    }, renderText(element.text));
    button.addEventListener("click", async () => {
      if (element.url && SAFE_LINK.test(element.url)) window.open(element.url, "_blank", "noopener,noreferrer");
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      try {
        await sendAction(ctx, field.blockId, element, element.value);
      } finally {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    });
    return button;
  }

  /** A native <select> for static / users / conversations / channels selects. */
  function renderSingleSelect(element, ctx, field) {
    const options = optionsFor(element);
    let selected = currentValue(ctx, field, element);
    const placeholder = plainText(element.placeholder) || "Select an item";
    const select = h("select", {
      id: field.id,
      class: "bk-select",
      "data-action-id": element.action_id,
      "data-block-id": field.blockId,
      "aria-label": field.id ? null : placeholder,
    }, h("option", { value: "", disabled: true, selected: selected === null }, placeholder));
    appendOptions(select, options, (value) => value === selected);
    select.addEventListener("change", async () => {
      const ok = await valueChanged(ctx, field, element, select.value);
      if (ok) selected = select.value;
      else select.value = selected ?? "";
    });
    return select;
  }

  /** Add <option>s (grouped into <optgroup>s when they have a group). */
  function appendOptions(select, options, isSelected) {
    let group = null;
    for (const option of options) {
      const node = h("option", { value: option.value, selected: isSelected(option.value) }, option.label);
      if (option.group) {
        if (!group || group.label !== option.group) {
          group = h("optgroup", { label: option.group });
          select.append(group);
        }
        group.append(node);
      } else {
        group = null;
        select.append(node);
      }
    }
  }

  /** Ask the app for an external select's options (Slack's block_suggestion). */
  async function suggestOptions(ctx, field, element, query) {
    const body = { user: state.me, ...actionTarget(ctx), action_id: element.action_id, value: query };
    if (field.blockId) body.block_id = field.blockId;
    try {
      const res = await api("suggest", body);
      if (res.ok === false) return [];
      const flat = (res.options || []).map((o) => ({ value: o.value, label: plainText(o.text) }));
      for (const group of res.option_groups || []) {
        for (const o of group.options || []) {
          flat.push({ value: o.value, label: `${plainText(group.label)}: ${plainText(o.text)}` });
        }
      }
      return flat;
    } catch (err) {
      showNotice(err.message);
      return [];
    }
  }

  /**
   * A combobox whose options the app supplies as the user types (at least
   * min_query_length characters, 3 by default like Slack). Calls onPick({ value, label }).
   */
  function externalPicker(element, ctx, field, onPick, initialLabel) {
    const listId = uid("suggestions");
    const minLength = element.min_query_length ?? 3;
    const placeholder = plainText(element.placeholder) || "Type to search";
    const input = h("input", {
      type: "text", role: "combobox", id: field.id, class: "bk-input bk-external", value: initialLabel || "",
      placeholder, "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": listId,
      "aria-label": field.id ? null : placeholder, "data-action-id": element.action_id, "data-block-id": field.blockId,
    });
    const list = h("ul", { class: "suggestions", role: "listbox", id: listId, hidden: true });
    let options = [];
    let active = -1;
    let timer = null;
    let asked = 0;

    const close = () => {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      active = -1;
    };
    const highlight = (index) => {
      active = index;
      [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
    };
    const pick = (option) => {
      close();
      onPick(option);
    };
    const show = (found) => {
      options = found;
      list.replaceChildren(...found.map((option) => h("li", {
        role: "option", class: "suggestion", "data-value": option.value, "aria-selected": "false",
        // mousedown (not click) so the input keeps focus and does not close the list first
        onmousedown: (event) => {
          event.preventDefault();
          pick(option);
        },
      }, option.label)));
      if (!found.length) list.append(h("li", { class: "suggestion-empty" }, "No matches"));
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(found.length ? 0 : -1);
    };
    const ask = async () => {
      const query = input.value;
      if (query.length < minLength) return close();
      asked += 1;
      const mine = asked;
      const found = await suggestOptions(ctx, field, element, query);
      if (mine === asked && document.activeElement === input) show(found);
    };

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(ask, 200); // debounce typing
    });
    input.addEventListener("keydown", (event) => {
      if (list.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        if (options.length) highlight((active + step + options.length) % options.length);
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (options[active]) pick(options[active]);
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", close);
    return { node: h("span", { class: "external-picker" }, input, list), input };
  }

  /** external_select: pick one of the options the app suggests. */
  function renderExternalSelect(element, ctx, field) {
    let chosen = { value: currentValue(ctx, field, element), label: "" };
    chosen.label = element.initial_option && element.initial_option.value === chosen.value
      ? plainText(element.initial_option.text) : chosen.value || "";
    const picker = externalPicker(element, ctx, field, async (option) => {
      picker.input.value = option.label;
      if (await valueChanged(ctx, field, element, option.value)) chosen = option;
      else picker.input.value = chosen.label;
    }, chosen.label);
    // In a modal, clearing the text clears the choice.
    picker.input.addEventListener("change", () => {
      if (field.inInput && picker.input.value === "") valueChanged(ctx, field, element, null);
    });
    return picker.node;
  }

  /**
   * Multi-selects: chosen items as removable chips plus a select (or, for external
   * ones, a search field) to add more.
   */
  function renderMultiSelect(element, ctx, field) {
    const external = element.type === "multi_external_select";
    const labels = new Map(optionsFor(element).map((o) => [o.value, o.label]));
    const options = optionsFor(element);
    const labelOf = (value) => labels.get(value) ?? value;
    let values = [...(currentValue(ctx, field, element) || [])];
    const placeholder = plainText(element.placeholder) || "Select items";
    const chips = h("ul", { class: "chips", "aria-label": "Selected" });

    const commit = async (next) => {
      const before = values;
      values = next;
      draw();
      if (!(await valueChanged(ctx, field, element, [...values]))) {
        values = before;
        draw();
      }
    };
    const add = (value) => {
      if (value && !values.includes(value)) commit([...values, value]);
    };

    let adder;
    let adderNode;
    if (external) {
      const picker = externalPicker(element, ctx, field, (option) => {
        labels.set(option.value, option.label);
        picker.input.value = "";
        add(option.value);
      });
      adder = picker.input;
      adderNode = picker.node;
    } else {
      adder = h("select", { class: "bk-select", id: field.id, "aria-label": field.id ? null : placeholder });
      adder.addEventListener("change", () => add(adder.value));
      adderNode = adder;
    }

    const draw = () => {
      chips.replaceChildren(...values.map((value) => h("li", { class: "chip", "data-value": value },
        labelOf(value),
        h("button", {
          type: "button", class: "chip-remove", "aria-label": `Remove ${labelOf(value)}`,
          onclick: () => commit(values.filter((v) => v !== value)),
        }, "×"))));
      if (!external) {
        adder.replaceChildren(h("option", { value: "", selected: true }, placeholder));
        appendOptions(adder, options.filter((o) => !values.includes(o.value)), () => false);
      }
      adder.disabled = Boolean(element.max_selected_items && values.length >= element.max_selected_items);
    };
    draw();
    return h("div", {
      class: "multi-select", role: "group", "aria-label": placeholder,
      "data-action-id": element.action_id, "data-block-id": field.blockId,
    }, chips, adderNode);
  }

  /** The "⋯" overflow menu. */
  function renderOverflow(element, ctx, field) {
    const menuId = uid("overflow");
    const toggle = h("button", {
      type: "button", class: "btn overflow-toggle", "aria-label": "More actions",
      "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": menuId,
      "data-action-id": element.action_id, "data-block-id": field.blockId,
    }, "⋯");
    const menu = h("div", { class: "overflow-menu", role: "menu", id: menuId, hidden: true });
    const close = () => {
      menu.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      document.removeEventListener("click", onOutside, true);
    };
    const onOutside = (event) => {
      if (!menu.contains(event.target) && event.target !== toggle) close();
    };
    for (const option of element.options || []) {
      menu.append(h("button", {
        type: "button", role: "menuitem", class: "overflow-item", "data-value": option.value,
        onclick: () => {
          close();
          if (option.url && SAFE_LINK.test(option.url)) window.open(option.url, "_blank", "noopener,noreferrer");
          valueChanged(ctx, field, element, option.value);
        },
      }, renderText(option.text)));
    }
    toggle.addEventListener("click", () => {
      if (!menu.hidden) return close();
      menu.hidden = false;
      toggle.setAttribute("aria-expanded", "true");
      document.addEventListener("click", onOutside, true);
      const first = menu.querySelector("button");
      if (first) first.focus();
    });
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        close();
        toggle.focus();
      }
    });
    return h("span", { class: "overflow" }, toggle, menu);
  }

  /** datepicker / timepicker / datetimepicker as native inputs. */
  function renderPicker(element, ctx, field) {
    const kinds = { datepicker: "date", timepicker: "time", datetimepicker: "datetime-local" };
    let value = currentValue(ctx, field, element);
    const isDateTime = element.type === "datetimepicker";
    const toInput = (v) => (isDateTime && v ? toLocalDateTime(Number(v)) : v ?? "");
    const input = h("input", {
      type: kinds[element.type], id: field.id, class: "bk-input bk-picker", value: toInput(value),
      "data-action-id": element.action_id, "data-block-id": field.blockId,
      "aria-label": field.id ? null : plainText(element.placeholder) || "Pick a date",
    });
    input.addEventListener("change", async () => {
      let next = input.value || null;
      if (isDateTime && next) next = String(Math.floor(new Date(next).getTime() / 1000));
      if (await valueChanged(ctx, field, element, next)) value = next;
      else input.value = toInput(value);
    });
    return input;
  }

  function toLocalDateTime(epochSeconds) {
    const d = new Date(epochSeconds * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    return `${date}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  /** Checkboxes (many values) and radio buttons (one value). */
  function renderChoices(element, ctx, field) {
    const multiple = element.type === "checkboxes";
    const name = uid("choice");
    let value = currentValue(ctx, field, element);
    const chosen = (v) => (multiple ? (value || []).includes(v) : value === v);
    const group = h("div", {
      class: `bk-choices ${multiple ? "bk-checkboxes" : "bk-radios"}`, role: multiple ? "group" : "radiogroup",
      "data-action-id": element.action_id, "data-block-id": field.blockId, "aria-labelledby": field.labelId,
    });
    const inputs = [];
    for (const option of element.options || []) {
      const input = h("input", {
        type: multiple ? "checkbox" : "radio", name, value: option.value, checked: chosen(option.value),
      });
      inputs.push(input);
      group.append(h("label", { class: "bk-choice", "data-value": option.value }, input,
        h("span", { class: "bk-choice-text" }, renderText(option.text),
          option.description ? renderText(option.description, "bk-choice-description") : null)));
    }
    group.addEventListener("change", async () => {
      const checked = inputs.filter((i) => i.checked).map((i) => i.value);
      const next = multiple ? checked : checked[0] ?? null;
      if (await valueChanged(ctx, field, element, next)) {
        value = next;
        return;
      }
      inputs.forEach((i) => { i.checked = chosen(i.value); });
    });
    return group;
  }

  /** plain_text_input / number_input / email / url inputs (modal input blocks). */
  function renderTextInput(element, ctx, field) {
    const multiline = element.multiline || element.type === "rich_text_input";
    const types = { number_input: "number", email_text_input: "email", url_text_input: "url" };
    const value = currentValue(ctx, field, element);
    const props = {
      id: field.id,
      class: multiline ? "bk-input bk-textarea" : "bk-input",
      placeholder: plainText(element.placeholder) || null,
      maxlength: element.max_length,
      "data-action-id": element.action_id,
      "data-block-id": field.blockId,
      "aria-label": field.id ? null : plainText(element.placeholder) || element.action_id,
    };
    let input;
    if (multiline) {
      input = h("textarea", { ...props, rows: 4 });
      input.value = value ?? "";
    } else {
      input = h("input", { ...props, type: types[element.type] || "text", value: value ?? "" });
      if (element.type === "number_input") {
        input.step = element.is_decimal_allowed ? "any" : "1";
        if (element.min_value !== undefined) input.min = element.min_value;
        if (element.max_value !== undefined) input.max = element.max_value;
        input.inputMode = element.is_decimal_allowed ? "decimal" : "numeric";
      }
    }
    input.addEventListener("input", () => {
      if (field.inInput) {
        setModalValue(ctx.viewId, field.blockKey, element.action_id, input.value === "" ? null : input.value);
        clearClientError(ctx.viewId, field.blockKey);
      }
    });
    // dispatch_action inputs (and inputs outside modals) send on Enter.
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !multiline && (field.dispatch || !field.inInput)) {
        event.preventDefault();
        valueChanged(ctx, field, element, input.value);
      }
    });
    return input;
  }

  function renderImageElement(element) {
    return imageNode(element.image_url, element.alt_text, "bk-image-element");
  }

  const ELEMENT_RENDERERS = {
    button: renderButton,
    static_select: renderSingleSelect,
    users_select: renderSingleSelect,
    conversations_select: renderSingleSelect,
    channels_select: renderSingleSelect,
    external_select: renderExternalSelect,
    multi_static_select: renderMultiSelect,
    multi_users_select: renderMultiSelect,
    multi_conversations_select: renderMultiSelect,
    multi_channels_select: renderMultiSelect,
    multi_external_select: renderMultiSelect,
    overflow: renderOverflow,
    datepicker: renderPicker,
    timepicker: renderPicker,
    datetimepicker: renderPicker,
    checkboxes: renderChoices,
    radio_buttons: renderChoices,
    plain_text_input: renderTextInput,
    number_input: renderTextInput,
    email_text_input: renderTextInput,
    url_text_input: renderTextInput,
    rich_text_input: renderTextInput,
    image: renderImageElement,
  };

  function renderElement(element, ctx, field) {
    const render = element && ELEMENT_RENDERERS[element.type];
    if (!render) return h("span", { class: "bk-unsupported" }, `[${element ? element.type : "missing"} element]`);
    const node = render(element, ctx, field);
    node.classList.add("bk-element");
    node.dataset.elementType = element.type;
    return node;
  }

  // -------------------------------------------------------------------------
  // Block Kit blocks
  // -------------------------------------------------------------------------

  function blockShell(block, className, ...children) {
    const props = { class: `block ${className}`, "data-block-id": block.block_id, "data-block-type": block.type };
    return h("div", props, ...children);
  }

  function renderSection(block, ctx) {
    const field = { blockId: block.block_id };
    const main = h("div", { class: "section-main" },
      block.text ? renderText(block.text, "section-text") : null,
      block.fields ? h("div", { class: "section-fields" }, block.fields.map(renderField)) : null);
    const accessory = block.accessory
      ? h("div", { class: "section-accessory" }, block.accessory.type === "image"
        ? imageNode(block.accessory.image_url, block.accessory.alt_text, "section-image")
        : renderElement(block.accessory, ctx, field))
      : null;
    return blockShell(block, "block-section", main, accessory);
  }

  function renderField(text) {
    return h("div", { class: "section-field" }, renderText(text));
  }

  function renderHeader(block) {
    return blockShell(block, "block-header", h("h3", { class: "header-text" }, renderText(block.text)));
  }

  function renderContext(block) {
    return blockShell(block, "block-context", (block.elements || []).map((el) =>
      el.type === "image" ? imageNode(el.image_url, el.alt_text, "context-image") : renderText(el, "context-text")));
  }

  function renderDivider(block) {
    return blockShell(block, "block-divider", h("hr"));
  }

  function renderImageBlock(block) {
    return blockShell(block, "block-image",
      block.title ? h("div", { class: "image-title" }, renderText(block.title)) : null,
      imageNode(block.image_url || (block.slack_file && block.slack_file.url), block.alt_text, "block-image-img"));
  }

  function renderActions(block, ctx) {
    const field = { blockId: block.block_id };
    return blockShell(block, "block-actions", (block.elements || []).map((el) => renderElement(el, ctx, field)));
  }

  /** An input block (modals): label, element, hint and its error. */
  function renderInput(block, ctx) {
    const element = block.element || {};
    const blockKey = block.block_id || plainText(block.label);
    const grouped = element.type === "checkboxes" || element.type === "radio_buttons";
    const field = {
      blockId: block.block_id, blockKey, inInput: true, dispatch: Boolean(block.dispatch_action),
      id: grouped ? null : uid("input"), labelId: uid("label"),
    };
    const label = h(grouped ? "span" : "label", { class: "input-label", id: field.labelId, for: field.id },
      plainText(block.label), block.optional ? h("span", { class: "input-optional" }, " (optional)") : null);
    const error = errorFor(ctx.viewId, blockKey);
    const shell = blockShell(block, "block-input", label, renderElement(element, ctx, field),
      block.hint ? h("div", { class: "input-hint" }, renderText(block.hint)) : null,
      error ? h("div", { class: "input-error", role: "alert", "data-error-for": blockKey }, error) : null);
    shell.dataset.blockKey = blockKey;
    if (error) shell.classList.add("has-error");
    return shell;
  }

  function renderMarkdownBlock(block) {
    return blockShell(block, "block-markdown", renderText({ type: "mrkdwn", text: block.text }));
  }

  function renderUnsupported(block) {
    return blockShell(block, "block-unsupported", `[${block.type} block]`);
  }

  const BLOCK_RENDERERS = {
    section: renderSection,
    header: renderHeader,
    context: renderContext,
    divider: renderDivider,
    image: renderImageBlock,
    actions: renderActions,
    input: renderInput,
    rich_text: renderRichText,
    markdown: renderMarkdownBlock,
  };

  function renderBlocks(blocks, ctx) {
    return h("div", { class: "blocks" }, (blocks || []).map((block) =>
      (BLOCK_RENDERERS[block && block.type] || renderUnsupported)(block || {}, ctx)));
  }

  // ---- rich_text (what Slack clients send for user messages) ----

  function renderRichText(block) {
    return blockShell(block, "block-rich-text", (block.elements || []).map(renderRichPart));
  }

  function renderRichPart(part) {
    switch (part.type) {
      case "rich_text_section":
        return h("div", { class: "rt-section" }, richInline(part.elements));
      case "rich_text_quote":
        return h("blockquote", { class: "mrkdwn-quote" }, richInline(part.elements));
      case "rich_text_preformatted":
        return h("pre", { class: "mrkdwn-pre" }, richInline(part.elements));
      case "rich_text_list": {
        const list = h(part.style === "ordered" ? "ol" : "ul", { class: "rt-list" });
        for (const item of part.elements || []) list.append(h("li", {}, richInline(item.elements)));
        return list;
      }
      default:
        return null;
    }
  }

  function richInline(elements) {
    return (elements || []).map((el) => {
      let node;
      switch (el.type) {
        case "text":
          node = document.createTextNode(el.text || "");
          break;
        case "link":
          node = linkNode(el.url || "", el.text || el.url || "");
          break;
        case "user":
          node = mentionNode(el.user_id);
          break;
        case "channel":
          node = channelNode(el.channel_id);
          break;
        case "usergroup":
          node = usergroupNode(el.usergroup_id);
          break;
        case "broadcast":
          node = h("span", { class: "mention mention-special" }, `@${el.range}`);
          break;
        case "emoji":
          node = document.createTextNode(el.unicode
            ? String.fromCodePoint(...el.unicode.split("-").map((c) => parseInt(c, 16)))
            : EMOJI[el.name] || `:${el.name}:`);
          break;
        case "date":
          node = document.createTextNode(el.fallback || formatDate(el.timestamp));
          break;
        default:
          node = document.createTextNode(el.text || "");
      }
      return applyRichStyle(node, el.style);
    });
  }

  function applyRichStyle(node, style) {
    let out = node;
    if (!style) return out;
    if (style.code) out = h("code", { class: "mrkdwn-code" }, out);
    if (style.strike) out = h("del", {}, out);
    if (style.italic) out = h("em", {}, out);
    if (style.bold) out = h("strong", {}, out);
    return out;
  }

  // -------------------------------------------------------------------------
  // Messages
  // -------------------------------------------------------------------------

  const AVATAR_COLORS = [
    "#e8912d", "#2bac76", "#1264a3", "#e01e5a", "#4a154b", "#0b4c8c", "#9c3b9a", "#d13b3b", "#3aa3e3",
  ];

  function avatar(id, name, small) {
    let hash = 0;
    for (const ch of String(id)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
    const initials = String(name).replace(/^[@#]/, "").split(/[\s._-]+/).filter(Boolean)
      .slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?";
    const node = h("span", { class: small ? "avatar avatar-small" : "avatar", "aria-hidden": "true" }, initials);
    node.style.setProperty("background-color", AVATAR_COLORS[hash % AVATAR_COLORS.length]);
    return node;
  }

  function formatTime(ts) {
    const date = new Date(Number.parseFloat(ts) * 1000);
    if (Number.isNaN(date.getTime())) return { short: "", full: "" };
    return {
      short: date.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }),
      full: date.toLocaleString(),
      iso: date.toISOString(),
    };
  }

  /** Who a message is from: { id, name, isApp }. */
  function messageAuthor(msg, ephemeral) {
    if (ephemeral || msg.bot_id || isBotUser(msg.user)) {
      const id = msg.user || app().bot_user_id || msg.bot_id || "app";
      const name = (msg.user && !isBotUser(msg.user) && userName(msg.user))
        || msg.username || app().name || userName(id);
      return { id, name, isApp: true };
    }
    return { id: msg.user, name: userName(msg.user), isApp: false };
  }

  /**
   * One message. opts: { channel, ephemeral, inThread, isParent }.
   * Buttons in it act on `channel` + `ts`.
   */
  function renderMessage(msg, opts) {
    const author = messageAuthor(msg, opts.ephemeral);
    const ctx = { surface: opts.ephemeral ? "ephemeral" : "message", channel: opts.channel, ts: msg.ts };
    const time = formatTime(msg.ts);
    const hasBlocks = Array.isArray(msg.blocks) && msg.blocks.length > 0 && !isPlainRichText(msg);
    const body = h("div", { class: "msg-body" },
      opts.ephemeral ? ephemeralNote() : null,
      h("div", { class: "msg-header" },
        h("span", { class: "msg-author" }, author.name),
        author.isApp ? h("span", { class: "app-badge" }, "APP") : null,
        h("time", { class: "msg-time", datetime: time.iso, title: time.full }, time.short)),
      h("div", { class: "msg-content" },
        hasBlocks ? renderBlocks(msg.blocks, ctx) : h("div", { class: "msg-text" }, renderMrkdwn(msg.text)),
        renderAttachments(msg.attachments, ctx),
        msg.edited ? h("span", { class: "msg-edited", "data-edited": "true" }, " (edited)") : null),
      replyLink(msg, opts),
      opts.ephemeral ? dismissButton(msg) : null);
    return h("div", {
      class: `msg${opts.ephemeral ? " msg-ephemeral" : ""}${opts.isParent ? " msg-parent" : ""}`,
      role: "listitem",
      "data-ts": msg.ts,
      "data-user": author.id,
      "data-channel": opts.channel,
      "data-ephemeral": opts.ephemeral ? "true" : null,
      "data-thread-ts": msg.thread_ts,
    }, avatar(author.id, author.name), body, messageToolbar(msg, opts));
  }

  // ---- legacy attachments: a coloured bar with pretext, title, text, fields, blocks ----

  const ATTACHMENT_COLORS = { good: "#2eb886", warning: "#daa038", danger: "#a30200" };

  function attachmentColor(color) {
    if (ATTACHMENT_COLORS[color]) return ATTACHMENT_COLORS[color];
    if (typeof color !== "string" || !/^#?[0-9a-f]{3,8}$/i.test(color)) return null;
    return color.startsWith("#") ? color : `#${color}`;
  }

  function renderAttachments(attachments, ctx) {
    if (!Array.isArray(attachments) || !attachments.length) return null;
    return h("div", { class: "attachments" }, attachments.map((a) => renderAttachment(a || {}, ctx)));
  }

  function renderAttachment(a, ctx) {
    const mrkdwn = (text) => h("div", {}, renderMrkdwn(text));
    const title = a.title && (a.title_link ? linkNode(a.title_link, a.title) : a.title);
    const fields = (a.fields || []).map((f) => h("div", { class: f.short ? "att-field att-short" : "att-field" },
      h("div", { class: "att-field-title" }, f.title || ""), mrkdwn(f.value || "")));
    const node = h("div", { class: "attachment" },
      a.pretext ? mrkdwn(a.pretext) : null,
      a.author_name ? h("div", { class: "att-author" }, a.author_name) : null,
      title ? h("div", { class: "att-title" }, title) : null,
      a.text ? mrkdwn(a.text) : null,
      fields.length ? h("div", { class: "att-fields" }, fields) : null,
      Array.isArray(a.blocks) ? renderBlocks(a.blocks, ctx) : null,
      a.footer ? h("div", { class: "att-footer" }, a.footer) : null);
    const color = attachmentColor(a.color);
    if (color) node.style.setProperty("border-left-color", color);
    return node;
  }

  function ephemeralNote() {
    return h("div", { class: "ephemeral-note" },
      h("span", { class: "eye", "aria-hidden": "true" }), "Only visible to you");
  }

  function dismissButton(msg) {
    return h("button", {
      type: "button", class: "link-button ephemeral-dismiss", onclick: () => dismissEphemeral(msg.ts),
    }, "Dismiss message");
  }

  /**
   * True when the blocks are one rich_text block holding only unstyled text equal to the
   * message text. devslack stores typed messages that way (with mentions and *bold* still
   * in mrkdwn), so the text is rendered as mrkdwn instead.
   */
  function isPlainRichText(msg) {
    if (msg.blocks.length !== 1 || msg.blocks[0].type !== "rich_text") return false;
    const parts = msg.blocks[0].elements || [];
    if (parts.length !== 1 || parts[0].type !== "rich_text_section") return false;
    const elements = parts[0].elements || [];
    const plain = elements.every((el) => el.type === "text" && !el.style);
    return plain && elements.map((el) => el.text).join("") === msg.text;
  }

  function replyLink(msg, opts) {
    if (opts.inThread || opts.ephemeral || !msg.reply_count) return null;
    const label = msg.reply_count === 1 ? "1 reply" : `${msg.reply_count} replies`;
    return h("button", {
      type: "button", class: "link-button reply-link", "data-thread-ts": msg.ts,
      onclick: () => openThread(opts.channel, msg.ts),
    }, label);
  }

  function messageToolbar(msg, opts) {
    if (opts.inThread || opts.ephemeral) return null;
    return h("div", { class: "msg-toolbar" },
      h("button", {
        type: "button", class: "toolbar-button", onclick: () => openThread(opts.channel, msg.ts),
      }, "Reply in thread"));
  }

  function messageSig(msg, extra) {
    return `${state.me}|${extra}|${JSON.stringify(msg)}`;
  }

  function ephemeralFor(channel, threadTs) {
    return state.ephemeral.filter((m) => m.channel === channel && !state.dismissed.has(m.ts)
      && (threadTs ? m.thread_ts === threadTs : !m.thread_ts || m.thread_ts === m.ts));
  }

  function byTs(a, b) {
    return Number.parseFloat(a.msg.ts) - Number.parseFloat(b.msg.ts);
  }

  /** (Re)draw the open channel's messages, keeping scroll at the bottom when it was. */
  function renderMessageList(forceBottom) {
    const list = $("#message-list");
    const channel = state.page.channel;
    const items = [
      ...state.messages.map((msg) => ({ msg, ephemeral: false })),
      ...ephemeralFor(channel, null).map((msg) => ({ msg, ephemeral: true })),
    ].sort(byTs);
    const stick = forceBottom || isNearBottom(list);
    reconcile(list, messageCache, items.map(({ msg, ephemeral }) => ({
      key: `${ephemeral ? "e" : "m"}:${msg.ts}`,
      sig: messageSig(msg, `${channel}|${ephemeral}`),
      build: () => renderMessage(msg, { channel, ephemeral }),
    })));
    if (!items.length) {
      const name = channelLabel(state.channels.get(channel));
      list.append(h("div", { class: "empty-state" }, `This is the very beginning of ${name}.`));
    } else {
      const empty = $(".empty-state", list);
      if (empty) empty.remove();
    }
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function dismissEphemeral(ts) {
    state.dismissed.add(ts);
    renderMessageList();
    renderThread();
  }

  // -------------------------------------------------------------------------
  // Threads
  // -------------------------------------------------------------------------

  async function openThread(channel, ts) {
    state.thread = { channel, ts, messages: [] };
    threadCache.clear();
    $("#thread-pane").hidden = false;
    $("#thread-pane").dataset.threadTs = ts;
    $("#layout").classList.add("with-thread");
    $("#thread-channel").textContent = channelLabel(state.channels.get(channel));
    renderThread();
    await refreshThread();
    $("#thread-input").focus();
  }

  function closeThread() {
    state.thread = null;
    $("#thread-pane").hidden = true;
    delete $("#thread-pane").dataset.threadTs;
    $("#layout").classList.remove("with-thread");
  }

  function renderThread() {
    if (!state.thread) return;
    const { channel, ts, messages } = state.thread;
    const list = $("#thread-messages");
    const stick = isNearBottom(list);
    const items = [
      ...messages.map((msg) => ({ msg, ephemeral: false })),
      ...ephemeralFor(channel, ts).map((msg) => ({ msg, ephemeral: true })),
    ].sort(byTs);
    reconcile(list, threadCache, items.map(({ msg, ephemeral }) => ({
      key: `${ephemeral ? "e" : "m"}:${msg.ts}`,
      sig: messageSig(msg, `thread|${ephemeral}`),
      build: () => renderMessage(msg, { channel, ephemeral, inThread: true, isParent: msg.ts === ts }),
    })));
    if (stick) list.scrollTop = list.scrollHeight;
  }

  // -------------------------------------------------------------------------
  // Modals
  // -------------------------------------------------------------------------

  function modalMap(viewId) {
    if (!state.modalValues.has(viewId)) state.modalValues.set(viewId, new Map());
    return state.modalValues.get(viewId);
  }

  function setModalValue(viewId, blockKey, actionId, value) {
    modalMap(viewId).set(`${blockKey}\u0000${actionId}`, value);
  }

  /** Local value, else the view's state.values, else the element's initial value. */
  function getModalValue(ctx, field, element) {
    const values = modalMap(ctx.viewId);
    const key = `${field.blockKey}\u0000${element.action_id}`;
    if (values.has(key)) return values.get(key);
    const view = state.views.find((v) => v.id === ctx.viewId);
    const slackState = view && view.state && view.state.values && view.state.values[field.blockId];
    const fromState = valueFromSlackState(slackState && slackState[element.action_id]);
    const value = fromState !== undefined ? fromState : initialValue(element);
    values.set(key, value);
    return value;
  }

  function errorFor(viewId, blockKey) {
    const client = state.clientErrors.get(viewId) || {};
    if (client[blockKey]) return client[blockKey];
    const view = state.views.find((v) => v.id === viewId);
    return (view && view.errors && view.errors[blockKey]) || null;
  }

  function clearClientError(viewId, blockKey) {
    const errors = state.clientErrors.get(viewId);
    if (!errors || !errors[blockKey]) return;
    delete errors[blockKey];
    const node = document.querySelector(`.modal [data-error-for="${CSS.escape(blockKey)}"]`);
    if (node) {
      node.closest(".block-input").classList.remove("has-error");
      node.remove();
    }
  }

  function topView() {
    return state.views.length ? state.views[state.views.length - 1] : null;
  }

  /** Draw the top of the modal stack (or nothing). Local input values survive re-draws. */
  function renderModal(force) {
    const root = $("#modal-root");
    const view = topView();
    const sig = view ? JSON.stringify([view, state.clientErrors.get(view.id) || null, state.me]) : null;
    if (!force && sig === modalSig) return;
    modalSig = sig;
    if (!view) {
      root.replaceChildren();
      return;
    }
    const focus = rememberFocus(root);
    const ctx = { surface: "modal", viewId: view.id };
    const titleId = uid("modal-title");
    const form = h("form", {
      class: "modal", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId,
      "data-view-id": view.id, "data-callback-id": view.callback_id, novalidate: true,
    },
    modalHeader(view, titleId),
    h("div", { class: "modal-body" }, unplacedErrors(view), renderBlocks(view.blocks, ctx)),
    h("div", { class: "modal-notice", role: "alert", hidden: true }),
    modalFooter(view));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitModal(view, form);
    });
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") closeModal(view);
    });
    root.replaceChildren(h("div", { class: "backdrop modal-backdrop" }, form));
    restoreFocus(root, focus);
  }

  function modalHeader(view, titleId) {
    const depth = state.views.length;
    return h("header", { class: "modal-header" },
      depth > 1 ? h("span", { class: "modal-depth", title: "Stacked view" }, String(depth)) : null,
      h("h2", { class: "modal-title", id: titleId }, plainText(view.title)),
      h("button", {
        type: "button", class: "icon-button modal-x", "aria-label": "Close", onclick: () => closeModal(view),
      }, "×"));
  }

  function modalFooter(view) {
    return h("footer", { class: "modal-footer" },
      h("button", {
        type: "button", class: "btn", "data-modal-close": "true", onclick: () => closeModal(view),
      }, plainText(view.close) || "Cancel"),
      view.submit
        ? h("button", { type: "submit", class: "btn btn-primary", "data-modal-submit": "true" }, plainText(view.submit))
        : null);
  }

  /** Errors naming no input block of the view are shown at the top of the modal. */
  function unplacedErrors(view) {
    const inputKeys = new Set((view.blocks || [])
      .filter((b) => b.type === "input")
      .map((b) => b.block_id || plainText(b.label)));
    return Object.entries(view.errors || {})
      .filter(([key]) => !inputKeys.has(key))
      .map(([key, message]) => h("div", { class: "modal-error", role: "alert", "data-error-for": key }, message));
  }

  function rememberFocus(root) {
    const active = document.activeElement;
    if (!active || !root.contains(active)) return null;
    const block = active.closest("[data-block-key], [data-block-id]");
    return { blockKey: block && (block.dataset.blockKey || block.dataset.blockId) };
  }

  /** Focus the field that had focus before a re-draw, else the first field. */
  function restoreFocus(root, focus) {
    let target = null;
    if (focus && focus.blockKey) {
      const block = root.querySelector(`[data-block-key="${CSS.escape(focus.blockKey)}"]`);
      target = block && block.querySelector("input, textarea, select, button");
    }
    if (!target) target = root.querySelector(".has-error input, .has-error textarea, .has-error select");
    if (!target) target = root.querySelector(".modal-body input, .modal-body textarea, .modal-body select");
    if (target) target.focus();
  }

  function isEmpty(value) {
    return value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length);
  }

  /** Values keyed by block_id (or label) for Submit, plus Slack's client-side checks. */
  function collectModalValues(view) {
    const values = {};
    const errors = {};
    const ctx = { surface: "modal", viewId: view.id };
    for (const block of view.blocks || []) {
      if (block.type !== "input" || !block.element) continue;
      const blockKey = block.block_id || plainText(block.label);
      const field = { blockId: block.block_id, blockKey, inInput: true };
      const value = getModalValue(ctx, field, block.element);
      values[blockKey] = value;
      const problem = checkField(block, value);
      if (problem) errors[blockKey] = problem;
    }
    return { values, errors };
  }

  function checkField(block, value) {
    const el = block.element;
    if (isEmpty(value)) return block.optional ? null : "Please fill out this field.";
    if (typeof value === "string" && el.min_length && value.length < el.min_length) {
      return `Please enter at least ${el.min_length} characters.`;
    }
    if (el.type === "number_input") {
      const num = Number(value);
      const invalid = Number.isNaN(num) || (!el.is_decimal_allowed && !Number.isInteger(num));
      if (invalid) return "Please enter a valid number.";
      if (el.min_value !== undefined && num < Number(el.min_value)) {
        return `Please enter a number of at least ${el.min_value}.`;
      }
      if (el.max_value !== undefined && num > Number(el.max_value)) {
        return `Please enter a number of at most ${el.max_value}.`;
      }
    }
    return null;
  }

  async function submitModal(view, form) {
    const { values, errors } = collectModalValues(view);
    if (Object.keys(errors).length) {
      state.clientErrors.set(view.id, errors);
      renderModal(true);
      return;
    }
    state.clientErrors.delete(view.id);
    const submit = $("[data-modal-submit]", form);
    if (submit) {
      submit.disabled = true;
      submit.setAttribute("aria-busy", "true");
    }
    try {
      // Field errors come back through the view; app failures as a live `error` event.
      await api("submit", { user: state.me, view_id: view.id, values });
    } catch (err) {
      showModalNotice(err.message);
    } finally {
      if (submit && submit.isConnected) {
        submit.disabled = false;
        submit.removeAttribute("aria-busy");
      }
    }
    await refreshViews();
  }

  /** A failure shown at the bottom of the open modal (Slack's "We had some trouble…"). */
  function showModalNotice(text) {
    const notice = $("#modal-root .modal-notice");
    if (!notice) return false;
    notice.textContent = text;
    notice.hidden = false;
    return true;
  }

  async function closeModal(view) {
    try {
      await api("close", { user: state.me, view_id: view.id });
    } catch (err) {
      showNotice(err.message);
    }
    await refreshViews();
  }

  /** Forget local state of views that are gone. */
  function pruneModalState() {
    const live = new Set(state.views.map((v) => v.id));
    for (const id of [...state.modalValues.keys()]) if (!live.has(id)) state.modalValues.delete(id);
    for (const id of [...state.clientErrors.keys()]) if (!live.has(id)) state.clientErrors.delete(id);
  }

  function setViews(views) {
    state.views = Array.isArray(views) ? views : [];
    pruneModalState();
    renderModal();
  }

  // -------------------------------------------------------------------------
  // App Home
  // -------------------------------------------------------------------------

  function renderHome() {
    const container = $("#home-view");
    const view = state.home;
    const sig = JSON.stringify([view, state.me]);
    if (sig === homeSig) return;
    homeSig = sig;
    if (!view) {
      const text = `${app().name || "The app"} has not published a Home tab for you yet.`;
      container.replaceChildren(h("div", { class: "empty-state" }, text));
      delete container.dataset.viewId;
      return;
    }
    container.dataset.viewId = view.id || "";
    container.replaceChildren(renderBlocks(view.blocks, { surface: "home" }));
  }

  // -------------------------------------------------------------------------
  // Sidebar, header and page switching
  // -------------------------------------------------------------------------

  function sidebarItem(props, icon, label, extra) {
    const button = h("button", { type: "button", class: "sidebar-item", ...props },
      icon, h("span", { class: "sidebar-label" }, label), extra);
    return h("li", {}, button);
  }

  function renderSidebar() {
    const current = state.page.kind === "channel" ? state.page.channel : null;
    const channels = [...state.channels.values()]
      .filter((c) => !c.is_im && (!c.is_private || (c.members || []).includes(state.me)))
      .sort((a, b) => a.name.localeCompare(b.name));
    $("#channel-list").replaceChildren(...channels.map((c) => sidebarItem({
      "data-channel-id": c.id, "data-channel-name": c.name,
      "aria-current": c.id === current ? "page" : null, "data-unread": state.unread.has(c.id) ? "true" : null,
      onclick: () => openChannel(c.id),
    }, h("span", { class: "sidebar-icon", "aria-hidden": "true" }, c.is_private ? "◦" : "#"), c.name)));

    $("#dm-list").replaceChildren(...myDms().map((c) => {
      const peer = dmPeer(c);
      return sidebarItem({
        "data-channel-id": c.id, "data-channel-name": c.name,
        "aria-current": c.id === current ? "page" : null, "data-unread": state.unread.has(c.id) ? "true" : null,
        onclick: () => openChannel(c.id),
      },
      avatar(peer, channelLabel(c), true),
      channelLabel(c),
      isBotUser(peer) ? h("span", { class: "app-badge" }, "APP") : null);
    }));

    $("#app-list").replaceChildren(sidebarItem({
      "data-app-home": "true", "aria-current": state.page.kind === "home" ? "page" : null, onclick: () => openHome(),
    }, avatar(app().bot_user_id || "app", app().name || "App", true), app().name || "App"));
  }

  function renderUserSwitch() {
    const select = $("#user-switch");
    select.replaceChildren(...humans().map((u) => h("option", { value: u.id, selected: u.id === state.me },
      u.real_name && u.real_name !== userName(u.id) ? `${userName(u.id)} (${u.real_name})` : userName(u.id))));
    $("#me-avatar").replaceWith(Object.assign(avatar(state.me, userName(state.me), true), { id: "me-avatar" }));
  }

  function appDmChannel() {
    return myDms().find(isAppDm) || null;
  }

  /** Header, tabs, composer placeholder and which pane shows, for the current page. */
  function renderChrome() {
    const channel = state.page.kind === "channel" ? state.channels.get(state.page.channel) : null;
    const appPage = state.page.kind === "home" || isAppDm(channel);
    const title = $("#channel-title");
    title.textContent = appPage ? app().name || "App" : channelLabel(channel);
    const members = channel && !channel.is_im && channel.members ? channel.members.length : null;
    $("#channel-meta").textContent = members === null ? "" : `${members} members`;
    $("#app-tabs").hidden = !appPage;
    $("#tab-home").setAttribute("aria-selected", String(state.page.kind === "home"));
    $("#tab-messages").setAttribute("aria-selected", String(state.page.kind !== "home"));
    $("#tab-messages").disabled = !appDmChannel();
    $("#message-list").hidden = state.page.kind === "home";
    $("#home-view").hidden = state.page.kind !== "home";
    $("#composer-area").hidden = state.page.kind === "home";
    const placeholder = channel ? `Message ${channelLabel(channel)}` : "Message";
    $("#composer-input").placeholder = placeholder;
    $("#composer-label").textContent = placeholder;
    $("#message-list").setAttribute("aria-label", `Messages in ${channelLabel(channel)}`);
    const team = (state.workspace.team || {}).name || "devslack";
    document.title = `${appPage ? app().name : channelLabel(channel)} — ${team}`;
    document.body.dataset.page = state.page.kind === "home" ? "home" : state.page.channel || "";
  }

  function writeHash() {
    const params = new URLSearchParams({ user: state.me });
    if (state.page.kind === "home") params.set("view", "home");
    else if (state.page.channel) params.set("channel", state.page.channel);
    history.replaceState(null, "", `#${params}`);
  }

  async function openChannel(channelId) {
    if (state.page.kind !== "channel" || state.page.channel !== channelId) {
      hideNotice();
      state.messages = [];
      messageCache.clear();
      $("#message-list").replaceChildren();
      closeThread();
    }
    state.page = { kind: "channel", channel: channelId };
    state.unread.delete(channelId);
    renderChrome();
    renderSidebar();
    writeHash();
    renderMessageList(true);
    await refreshMessages(true);
  }

  async function openHome() {
    state.page = { kind: "home" };
    closeThread();
    renderChrome();
    renderSidebar();
    writeHash();
    renderHome();
    try {
      await api("home", { user: state.me }); // delivers app_home_opened
    } catch (err) {
      showNotice(err.message);
    }
    await refreshHome();
  }

  function defaultChannel() {
    const general = findChannel("general");
    return general ? general.id : ([...state.channels.values()].find((c) => !c.is_im) || {}).id;
  }

  /** Act as another user: new live stream, their ephemerals, modals and DMs. */
  async function switchUser(userId) {
    state.me = userId;
    state.ephemeral = [];
    state.dismissed.clear();
    state.views = [];
    state.home = null;
    state.unread.clear();
    state.modalValues.clear();
    state.clientErrors.clear();
    messageCache.clear();
    threadCache.clear();
    modalSig = null;
    homeSig = null;
    hideNotice();
    renderModal(true);
    renderUserSwitch();
    const channel = state.channels.get(state.page.channel);
    if (state.page.kind === "channel" && (!channel || (channel.is_im && !myDms().includes(channel)))) {
      state.page = { kind: "channel", channel: defaultChannel() };
    }
    connectLive();
    if (state.page.kind === "home") await openHome();
    else await openChannel(state.page.channel);
    await Promise.all([refreshEphemeral(), refreshViews()]);
  }

  // -------------------------------------------------------------------------
  // Fetching (latest request wins, so stale answers never overwrite new ones)
  // -------------------------------------------------------------------------

  const latest = { messages: 0, thread: 0, ephemeral: 0, views: 0, home: 0 };
  const inflight = { messages: 0, thread: 0, ephemeral: 0, views: 0, home: 0 };

  /** Run `load`; its answer is dropped (null) if a newer fetch or live event superseded it. */
  async function fetchLatest(kind, load) {
    latest[kind] += 1;
    const mine = latest[kind];
    inflight[kind] += 1;
    try {
      const data = await load();
      return mine === latest[kind] ? data : null;
    } catch (err) {
      if (mine === latest[kind]) showNotice(`Could not load ${kind}: ${err.message}`);
      return null;
    } finally {
      inflight[kind] -= 1;
    }
  }

  /** A live event carried the whole state of `kind`: answers already on the way are older. */
  function supersedeFetches(kind) {
    latest[kind] += 1;
  }

  async function refreshMessages(forceBottom) {
    const channel = state.page.channel;
    if (state.page.kind !== "channel" || !channel) return;
    const data = await fetchLatest("messages", () => apiGet("messages", { channel }));
    if (!data || state.page.channel !== channel) return;
    state.messages = data.messages || [];
    renderMessageList(forceBottom);
  }

  async function refreshThread() {
    if (!state.thread) return;
    const { channel, ts } = state.thread;
    const data = await fetchLatest("thread", () => apiGet("messages", { channel, thread_ts: ts }));
    if (!data || !state.thread || state.thread.ts !== ts) return;
    state.thread.messages = data.messages || [];
    renderThread();
  }

  async function refreshEphemeral() {
    const user = state.me;
    const data = await fetchLatest("ephemeral", () => apiGet("ephemeral", { user }));
    if (!data || user !== state.me) return;
    state.ephemeral = data.messages || [];
    renderMessageList();
    renderThread();
  }

  async function refreshViews() {
    const user = state.me;
    const data = await fetchLatest("views", () => apiGet("views", { user }));
    if (!data || user !== state.me) return;
    setViews(data.views);
  }

  async function refreshHome() {
    const user = state.me;
    const data = await fetchLatest("home", () => apiGet("home", { user }));
    if (!data || user !== state.me) return;
    state.home = data.view || null;
    renderHome();
  }

  async function refreshAll() {
    await Promise.all([refreshMessages(), refreshThread(), refreshEphemeral(), refreshViews(),
      state.page.kind === "home" ? refreshHome() : null]);
  }

  // -------------------------------------------------------------------------
  // Live updates (Server-Sent Events)
  // -------------------------------------------------------------------------

  function setLiveState(kind, label) {
    document.body.dataset.live = kind;
    $("#live-label").textContent = label;
  }

  /** (Re)open the live stream for the current user; reconnect with backoff on failure. */
  function connectLive() {
    if (state.source) state.source.close();
    const user = state.me;
    const source = new EventSource(`/_dev/api/live?${new URLSearchParams({ user })}`);
    state.source = source;
    setLiveState("connecting", "Connecting…");
    source.onopen = () => {
      if (state.source !== source) return;
      const wasDown = state.reconnecting;
      state.reconnecting = false;
      state.reconnectDelay = FIRST_RECONNECT_DELAY;
      setLiveState("open", "Live");
      // Catch up on anything missed; after an outage devslack may have restarted.
      if (wasDown) onLiveReset();
      else refreshAll();
    };
    source.onmessage = (event) => {
      if (state.source !== source) return;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      handleLiveEvent(data);
    };
    source.onerror = () => {
      if (state.source !== source) return;
      // Reconnect ourselves with backoff instead of relying on the browser's retry rules
      // (which give up for good on an HTTP error).
      source.close();
      state.reconnecting = true;
      setLiveState("reconnecting", "Reconnecting…");
      const delay = state.reconnectDelay;
      state.reconnectDelay = Math.min(delay * 2, MAX_RECONNECT_DELAY);
      setTimeout(() => {
        if (state.source === source && state.me === user) connectLive();
      }, delay);
    };
  }

  const LIVE_HANDLERS = {
    message: onLiveMessage,
    ephemeral: onLiveEphemeral,
    views: (ev) => {
      supersedeFetches("views");
      setViews(ev.views);
    },
    home: (ev) => {
      supersedeFetches("home");
      state.home = ev.view || null;
      renderHome();
    },
    delivery: onLiveDelivery,
    error: onLiveError,
    reset: onLiveReset,
  };

  function handleLiveEvent(ev) {
    const handler = ev && LIVE_HANDLERS[ev.type];
    if (handler) handler(ev);
  }

  /** A message was posted, changed or deleted somewhere. */
  function onLiveMessage(ev) {
    const msg = ev.message && typeof ev.message === "object" ? ev.message : ev;
    const channel = ev.channel || msg.channel;
    const isReply = msg.thread_ts && msg.thread_ts !== msg.ts;
    if (state.page.kind === "channel" && channel === state.page.channel) refreshMessages();
    else if (!ev.deleted && !isReply && msg.user !== state.me && state.channels.has(channel)) {
      state.unread.add(channel);
      renderSidebar();
    }
    if (state.thread && state.thread.channel === channel) {
      if (ev.deleted && msg.ts === state.thread.ts) closeThread();
      else if (msg.ts === state.thread.ts || msg.thread_ts === state.thread.ts) refreshThread();
    }
  }

  /** The app failed the user: inside the modal it came from, else in the composer area. */
  function onLiveError(ev) {
    state.lastLiveErrorAt = Date.now();
    const text = ev.text || "Something went wrong.";
    const view = topView();
    if (ev.view_id && view && view.id === ev.view_id && showModalNotice(text)) return;
    showNotice(text);
  }

  /** devslack went back to its seed (or restarted): reload everything. */
  async function onLiveReset() {
    try {
      loadWorkspace(await api("workspace"));
    } catch (err) {
      showNotice(err.message);
      return;
    }
    if (!state.users.has(state.me)) {
      await switchUser((humans()[0] || {}).id);
      return;
    }
    if (state.page.kind === "channel" && !state.channels.has(state.page.channel)) {
      state.page = { kind: "channel", channel: defaultChannel() };
    }
    state.dismissed.clear();
    state.unread.clear();
    messageCache.clear();
    threadCache.clear();
    closeThread();
    renderUserSwitch();
    renderChrome();
    renderSidebar();
    await refreshAll();
  }

  function onLiveEphemeral(ev) {
    const msg = { ...(ev.message || {}), channel: ev.channel || (ev.message || {}).channel };
    // Replaced ephemerals (response_url replace_original) keep their ts; deleted ones go.
    state.ephemeral = state.ephemeral.filter((m) => m.ts !== msg.ts);
    if (!ev.deleted) state.ephemeral.push(msg);
    // A list being fetched right now may predate this event: fetch again (it supersedes).
    if (inflight.ephemeral > 0) refreshEphemeral();
    renderMessageList();
    renderThread();
  }

  function onLiveDelivery(ev) {
    const row = ev.delivery || ev;
    const node = $("#delivery-status");
    const parts = [row.kind, row.status, row.ack_ms !== undefined ? `${Math.round(row.ack_ms)} ms` : null, row.verdict]
      .filter((p) => p !== undefined && p !== null && p !== "");
    node.textContent = parts.length ? `Last delivery: ${parts.join(" · ")}` : "";
    node.dataset.verdict = row.verdict || "";
  }

  // -------------------------------------------------------------------------
  // Composer: messages and slash commands
  // -------------------------------------------------------------------------

  function showNotice(text) {
    $("#composer-notice-text").textContent = text;
    $("#composer-notice").hidden = false;
  }

  function hideNotice() {
    $("#composer-notice").hidden = true;
    $("#composer-notice-text").textContent = "";
  }

  /** "/procedure run deploy env=prod" -> { command: "/procedure", text: "run deploy env=prod" } */
  function parseCommand(input) {
    const match = /^(\/\S+)(?:\s+([\s\S]*))?$/.exec(input.trim());
    return match ? { command: match[1], text: match[2] || "" } : null;
  }

  async function send(text, threadTs) {
    const channel = threadTs ? state.thread.channel : state.page.channel;
    const command = threadTs ? null : parseCommand(text);
    hideNotice();
    try {
      if (command) {
        reportResult(await api("command", { user: state.me, channel, ...command }));
      } else {
        const body = { user: state.me, channel, text };
        if (threadTs) body.thread_ts = threadTs;
        await api("message", body);
      }
      return true;
    } catch (err) {
      showNotice(err.message);
      return false;
    }
  }

  /** Enter sends, Shift+Enter adds a line; the textarea grows with its text. */
  function wireComposer(form, input, getThreadTs) {
    const submit = async () => {
      const text = input.value;
      if (!text.trim()) return;
      input.value = "";
      autosize(input);
      renderCommandHints();
      if (!(await send(text, getThreadTs()))) {
        input.value = text;
        autosize(input);
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    input.addEventListener("input", () => autosize(input));
  }

  function autosize(textarea) {
    textarea.style.setProperty("height", "auto");
    textarea.style.setProperty("height", `${Math.min(textarea.scrollHeight, 200)}px`);
  }

  /** Suggest the workspace's slash commands while typing "/…". */
  function renderCommandHints() {
    const list = $("#command-hints");
    const text = $("#composer-input").value;
    const commands = (state.workspace && state.workspace.commands) || [];
    const matches = /^\/\S*$/.test(text) ? commands.filter((c) => c.startsWith(text) && c !== text) : [];
    list.hidden = !matches.length;
    list.replaceChildren(...matches.map((c) => h("li", {}, h("button", {
      type: "button", class: "command-hint", onclick: () => {
        const input = $("#composer-input");
        input.value = `${c} `;
        input.focus();
        renderCommandHints();
      },
    }, c))));
  }

  // -------------------------------------------------------------------------
  // Start-up
  // -------------------------------------------------------------------------

  /**
   * Where to start: the hash the UI keeps (#user=U&channel=C or &view=home) or a permalink
   * (/?channel=C&ts=T[&thread_ts=P], where devslack's /archives/... links redirect).
   */
  function readLocation() {
    const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    const query = new URLSearchParams(location.search);
    const pick = (key) => hash.get(key) || query.get(key);
    return {
      user: pick("user"), channel: pick("channel"), view: pick("view"),
      ts: query.get("ts"), threadTs: query.get("thread_ts"),
    };
  }

  /** Open a permalink's thread and highlight its message. */
  async function showLinkedMessage({ ts, threadTs }) {
    const inThread = Boolean(threadTs && threadTs !== ts);
    if (inThread) await openThread(state.page.channel, threadTs);
    const scope = inThread ? "#thread-messages" : "#message-list";
    const node = document.querySelector(`${scope} .msg[data-ts="${CSS.escape(ts)}"]`);
    if (!node) return;
    node.classList.add("msg-highlight");
    node.scrollIntoView({ block: "center" });
  }

  function wireStaticControls() {
    $("#user-switch").addEventListener("change", (event) => switchUser(event.target.value));
    $("#thread-close").addEventListener("click", closeThread);
    $("#composer-notice-dismiss").addEventListener("click", hideNotice);
    $("#tab-home").addEventListener("click", () => openHome());
    $("#tab-messages").addEventListener("click", () => {
      const dm = appDmChannel();
      if (dm) openChannel(dm.id);
    });
    wireComposer($("#composer"), $("#composer-input"), () => null);
    wireComposer($("#thread-composer"), $("#thread-input"), () => state.thread && state.thread.ts);
    $("#composer-input").addEventListener("input", renderCommandHints);
  }

  async function start() {
    wireStaticControls();
    let workspace;
    try {
      workspace = await api("workspace");
    } catch (err) {
      setLiveState("closed", "devslack is not reachable");
      showNotice(`Could not load the workspace: ${err.message}`);
      return;
    }
    loadWorkspace(workspace);
    $("#team-name").textContent = (workspace.team || {}).name || "devslack";
    const wanted = readLocation();
    const me = findUser(wanted.user);
    state.me = me && !me.is_bot ? me.id : (humans()[0] || {}).id;
    const channel = findChannel(wanted.channel) || state.channels.get(wanted.channel);
    state.page = wanted.view === "home"
      ? { kind: "home" }
      : { kind: "channel", channel: channel ? channel.id : defaultChannel() };
    renderUserSwitch();
    await switchUser(state.me);
    if (wanted.ts && state.page.kind === "channel") await showLinkedMessage(wanted);
    document.body.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", start);
})();
