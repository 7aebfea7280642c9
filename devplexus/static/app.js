// devplexus dashboard: polls /_dev/api/dashboard every second and renders it. Which rows are
// pending, answerable and with which controls is decided by the server; this file only draws
// it (always through textContent: message text is untrusted) and posts the answers.
"use strict";

const POLL_MS = 1000;
const state = { view: null, text: "", selected: location.hash.slice(1) || null, drafts: new Map(), busy: new Set(), notices: new Map() };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function badge(text, kind) {
  return el("span", { class: `badge ${kind || String(text).toLowerCase()}`, text });
}

function shortTime(iso) {
  return iso ? String(iso).replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "";
}

async function loadInfo() {
  const response = await fetch("/_dev/api/info");
  const info = await response.json();
  document.getElementById("account-key").textContent = info.env.PLEXUS_ACCOUNT_KEY;
  document.getElementById("graphql-url").textContent = info.env.PLEXUS_API_URL;
  const user = document.getElementById("user-id");
  if (!user.value) user.value = info.dashboard_user;
}

async function refresh() {
  try {
    const response = await fetch("/_dev/api/dashboard", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const text = await response.text();
    setLive("open", "Live");
    if (text !== state.text) {
      state.text = text;
      state.view = JSON.parse(text);
      render();
    }
    document.body.dataset.ready = "true";
  } catch (error) {
    setLive("error", "devplexus unreachable");
  }
}

async function poll() {
  await refresh();
  setTimeout(poll, POLL_MS);
}

function setLive(status, label) {
  document.body.dataset.live = status;
  document.getElementById("live-label").textContent = label;
}

function render() {
  if (!state.view) return;
  const procedures = state.view.procedures;
  if (!procedures.some((p) => p.id === state.selected)) state.selected = procedures.length ? procedures[0].id : null;
  const focused = document.activeElement && document.activeElement.id;
  renderList(procedures);
  renderProcedure(procedures.find((p) => p.id === state.selected));
  if (focused) {
    const again = document.getElementById(focused);
    if (again) again.focus();
  }
}

function renderList(procedures) {
  const list = document.getElementById("procedure-list");
  list.replaceChildren(...procedures.map((p) => el("li", {},
    el("button", {
      type: "button", "data-procedure": p.id, "aria-current": p.id === state.selected ? "true" : "false",
      onclick: () => { state.selected = p.id; history.replaceState(null, "", `#${p.id}`); render(); },
    },
      el("span", { class: "proc-name", text: p.name }),
      el("span", { class: "proc-meta" },
        badge(p.status || "no status", p.status === "WAITING_FOR_HUMAN" ? "waiting" : String(p.status || "").toLowerCase()),
        p.waitingOnMessageId ? el("span", { text: "waiting on a person" }) : null)))));
  document.getElementById("no-procedures").hidden = procedures.length > 0;
}

function renderProcedure(procedure) {
  const main = document.getElementById("procedure");
  if (!procedure) { main.replaceChildren(el("p", { class: "empty", text: "Nothing to show yet: procedures appear here as clients create them." })); return; }
  const facts = el("dl", { class: "facts" },
    el("dt", { text: "Id" }), el("dd", {}, el("code", { text: procedure.id })),
    el("dt", { text: "Status" }), el("dd", { "data-field": "status", text: procedure.status || "" }),
    el("dt", { text: "Waiting on" }), el("dd", { "data-field": "waitingOnMessageId" }, el("code", { text: procedure.waitingOnMessageId || "—" })),
    el("dt", { text: "Updated" }), el("dd", { text: shortTime(procedure.updatedAt) }));
  const sessions = procedure.sessions.length
    ? procedure.sessions.map(renderSession)
    : [el("p", { class: "empty", text: "No chat sessions." })];
  main.replaceChildren(el("header", { class: "procedure-head" }, el("h1", { text: procedure.name }), facts), ...sessions);
}

function renderSession(session) {
  return el("section", { class: "session", "data-session": session.id, "aria-label": `Session ${session.name || session.id}` },
    el("header", {}, el("strong", { text: session.missing ? "Session without a ChatSession row" : session.name || session.category || "Chat session" }),
      session.missing ? null : badge(session.status || "—"), el("code", { text: session.id })),
    el("ol", { class: "messages" }, ...session.messages.map(renderMessage)));
}

function renderMessage(message) {
  const item = el("li", {
    class: "msg", "data-id": message.id, "data-interaction": message.humanInteraction || "",
    "data-pending": message.pending && !message.answered ? "true" : "false",
  },
    el("div", { class: "msg-head" },
      el("span", { class: "msg-role", text: message.role || "" }),
      message.humanInteraction ? badge(message.humanInteraction, "") : null,
      message.pending ? badge(message.answered ? "answered" : "pending") : null,
      message.sequenceNumber !== null && message.sequenceNumber !== undefined ? el("span", { text: `#${message.sequenceNumber}` }) : null,
      el("span", { text: shortTime(message.createdAt) })),
    el("div", { class: "msg-content", text: message.content || "" }));
  if (message.response) {
    item.append(el("div", { class: "answer-line" },
      el("span", { text: `Answered by ${message.response.user || "someone"} via ${message.response.responder || "?"}: ` }),
      el("span", { class: "answer-value", "data-field": "value", text: JSON.stringify(message.response.value) })));
  }
  if (message.refusal) item.append(el("div", { class: "refusal", role: "note", text: `Cannot answer here: ${message.refusal}` }));
  if (message.controls) item.append(renderControls(message));
  return item;
}

function renderControls(message) {
  const { buttons, text_label: textLabel } = message.controls;
  const form = el("div", { class: "controls", "data-request-type": message.request_type });
  let box = null;
  if (textLabel) {
    const id = `answer-${message.id}`;
    box = el("textarea", { id, oninput: (event) => state.drafts.set(message.id, event.target.value) });
    box.value = state.drafts.get(message.id) || "";
    form.append(el("label", { for: id, text: textLabel }), box);
  }
  const busy = state.busy.has(message.id);
  form.append(el("div", { class: "buttons" }, ...buttons.map((button) => el("button", {
    type: "button", "data-action": button.action || "", "data-style": button.style, disabled: busy,
    text: button.label, onclick: () => answer(message, button.action, box),
  }))));
  const notice = state.notices.get(message.id);
  if (notice) form.append(el("div", { class: "notice", role: "alert", text: notice }));
  return form;
}

async function answer(message, action, box) {
  state.busy.add(message.id);
  state.notices.delete(message.id);
  render();
  const body = { message_id: message.id, action, user_id: document.getElementById("user-id").value.trim() };
  if (box) body.text = box.value;
  try {
    const response = await fetch("/_dev/api/respond", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const result = await response.json();
    if (!response.ok) state.notices.set(message.id, result.detail || result.error);
    else state.drafts.delete(message.id);
  } catch (error) {
    state.notices.set(message.id, "devplexus unreachable; try again");
  } finally {
    state.busy.delete(message.id);
    render();
    await refresh();
  }
}

loadInfo().catch(() => setLive("error", "devplexus unreachable"));
poll();
