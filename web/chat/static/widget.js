// The Centralita chat widget. Embed it with one script tag:
//
//   <script type="module" src="https://CHAT-SERVER/chat/widget.js"></script>
//
// A site that knows its user adds data-user-id="ID" data-user-hash="HEX", the hex
// HMAC-SHA256 of the id under the site's secret, computed on the site's server; and
// data-prechat="on" for the optional name/email/phone form (data-visitor-token: the page
// a handover link opens, `web.handover_api`). The page's CSP must allow the
// chat server in script-src, style-src and connect-src (wss:). No inline script, no build.

import { CallBar } from "./call.js";
import { ChatSocket } from "./socket.js";
import { VisitorStore } from "./store.js";
import { ChatView } from "./view.js";

const TYPING_IDLE_MS = 3000;
// The server could not store a line: it stays pending and is sent again (same id) after this.
const STORE_RETRY_MS = 3000;

function ourScript() {
  for (const script of document.querySelectorAll("script[src]")) {
    if (new URL(script.src, document.baseURI).href === import.meta.url) return script;
  }
  return null;
}

function language() {
  const lang = (document.documentElement.lang || navigator.language || "en").toLowerCase();
  return lang.startsWith("es") ? "es" : "en";
}

async function main() {
  const script = ourScript();
  const data = script ? script.dataset : {};
  const lang = language();
  const strings = (await import(`./i18n/${lang}.js`)).default;
  const base = new URL(".", import.meta.url);
  const wsUrl = new URL("../api/chat/ws", base);
  wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";
  const identity = data.userId && data.userHash
    ? { user_id: data.userId, user_hash: data.userHash } : null;
  const store = new VisitorStore(base.origin);
  // A handover link (/chat/continue) hands this page a visitor already joined to the
  // customer's case: it replaces any visitor this browser was before, and opens the panel.
  if (data.visitorToken) {
    store.set("token", data.visitorToken);
    store.set("chatted", "1");
  }

  const host = document.createElement("div");
  host.id = "centralita-chat";
  document.body.append(host);
  const view = new ChatView(host, strings, lang, new URL("widget.css", base).href);
  const errorText = (frame) => {
    const words = strings.errors[frame.code] ?? strings.errors.default;
    return typeof words === "function" ? words(Math.ceil(frame.retry_after ?? 1)) : words;
  };
  const unread = new Set();
  const readVisible = () => {
    if (!view.open || document.visibilityState !== "visible") return;
    for (const id of unread) socket.ack(id, "read");
    unread.clear();
  };

  // "Call us", once the server says it takes calls (its `welcome`).
  let callBar = null;
  window.centralitaChat = { call: async () => (callBar ? callBar.stats() : null) };
  const socket = new ChatSocket(wsUrl.href, identity, store, {
    onState: (state) => {
      view.setState(state);
      if (state === "refused") view.composer.hidden = true;
      // The server hangs up a call whose socket went away.
      if (callBar && (state === "offline" || state === "refused")) {
        callBar.ended(strings.callStates.failed);
      }
    },
    onFrame: (frame) => {
      if (frame.type === "line") {
        const shown = view.addLine(frame);
        if (frame.from === "agent" && frame.status !== "read") {
          if (frame.status !== "delivered") socket.ack(frame.id, "delivered");
          if (shown) unread.add(frame.id);
          view.setTyping(false);
          readVisible();
        }
      } else if (frame.type === "receipt") {
        view.markSent(frame.client_id, frame.id);
      } else if (frame.type === "status") {
        view.markStatus(frame.id, frame.status);
      } else if (frame.type === "typing") {
        view.setTyping(frame.active);
      } else if (frame.type === "error") {
        view.showError(errorText(frame));
        if (frame.code === "rate_limited" && frame.client_id) {
          window.setTimeout(() => socket.retry(frame.client_id),
            1000 * (frame.retry_after ?? 1));
        } else if (frame.code === "storage_unavailable" && frame.client_id) {
          window.setTimeout(() => socket.retry(frame.client_id), STORE_RETRY_MS);
        } else if (frame.client_id && frame.code !== "storage_unavailable") {
          view.markFailed(frame.client_id);
        }
      } else if (frame.type === "welcome") {
        view.showError("");
        if (frame.calls && !callBar) callBar = new CallBar(view, strings, (f) => socket.raw(f));
      } else if (frame.type === "call" && callBar) {
        callBar.update(frame);
      }
    },
  });

  let typingTimer = 0;
  const stopTyping = () => {
    if (typingTimer) socket.typing(false);
    window.clearTimeout(typingTimer);
    typingTimer = 0;
  };
  view.input.addEventListener("input", () => {
    if (!typingTimer) socket.typing(true);
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(stopTyping, TYPING_IDLE_MS);
  });
  const send = () => {
    const body = view.input.value.trim();
    if (!body) return;
    stopTyping();
    view.showError("");
    view.addPending(socket.say(body), body);
    view.input.value = "";
  };
  view.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  view.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send();
    }
  });
  const wantsPrechat = data.prechat === "on" && !identity && store.get("chatted") !== "1";
  view.showPrechat(wantsPrechat);
  view.prechatForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = {};
    for (const name of ["name", "email", "phone"]) {
      const value = view.prechatForm.elements[name].value.trim();
      if (value) form[name] = value;
    }
    if (Object.keys(form).length) socket.prechat(form);
    view.showPrechat(false);
    view.input.focus();
  });
  view.skipButton.addEventListener("click", () => view.showPrechat(false));
  view.launcher.addEventListener("click", () => {
    view.setOpen(true);
    readVisible();
  });
  view.closeButton.addEventListener("click", () => view.setOpen(false));
  document.addEventListener("visibilitychange", readVisible);
  // Someone who chatted before sees the panel open again after a reload.
  if (store.get("chatted") === "1") view.setOpen(true);
  socket.start();
}

main();
