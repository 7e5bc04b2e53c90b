// The widget's WebSocket to the chat server: hello, reconnect with resume, lines that wait
// for their receipt and are sent again (same id: the server stores them once).

const MAX_BACKOFF_MS = 30000;
const CLOSE_FORGED = 4403;

function newId() {
  if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ChatSocket {
  /**
   * `url`: the ws(s) URL of /api/chat/ws; `identity`: {user_id, user_hash} or null;
   * `store`: a VisitorStore; `handlers`: {onFrame(frame), onState(state)} where state is
   * "connecting" | "online" | "offline" | "refused".
   */
  constructor(url, identity, store, handlers) {
    this.url = url;
    this.identity = identity;
    this.store = store;
    this.handlers = handlers;
    this.lastSeen = 0;
    this.pending = new Map(); // line id -> body, until its receipt arrives
    this.backoff = 1000;
    this.ws = null;
    this.stopped = false;
  }

  start() {
    this.handlers.onState("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => this.hello());
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", (event) => this.closed(event.code));
  }

  hello() {
    const frame = { type: "hello" };
    const token = this.store.get("token");
    if (token) frame.token = token;
    if (this.identity) Object.assign(frame, this.identity);
    // A fresh page shows nothing yet: ask for the whole conversation if there is one.
    if (this.lastSeen > 0 || this.store.get("chatted") === "1") frame.last_seen = this.lastSeen;
    this.raw(frame);
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === "welcome") {
      this.store.set("token", frame.token);
      this.backoff = 1000;
      this.handlers.onState("online");
      for (const [id, body] of this.pending) this.raw({ type: "message", id, body });
    } else if (frame.type === "receipt") {
      this.pending.delete(frame.client_id);
    } else if (frame.type === "line") {
      this.lastSeen = Math.max(this.lastSeen, frame.id);
    } else if (frame.type === "error" && frame.client_id && frame.code !== "rate_limited"
               && frame.code !== "storage_unavailable") {
      this.pending.delete(frame.client_id); // refused for good: sending it again cannot help
    }
    this.handlers.onFrame(frame);
  }

  closed(code) {
    this.ws = null;
    if (code === CLOSE_FORGED) {
      this.handlers.onState("refused");
      return;
    }
    if (this.stopped) return;
    this.handlers.onState("offline");
    const delay = this.backoff * (0.75 + Math.random() / 2);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    window.setTimeout(() => this.start(), delay);
  }

  raw(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** Send a line; its id (the line waits in `pending` until stored). */
  say(body) {
    const id = newId();
    this.pending.set(id, body);
    this.store.set("chatted", "1");
    this.raw({ type: "message", id, body });
    return id;
  }

  /** Send a line again (after the server asked to wait). */
  retry(id) {
    const body = this.pending.get(id);
    if (body !== undefined) this.raw({ type: "message", id, body });
  }

  prechat(form) {
    this.store.set("chatted", "1");
    this.raw({ type: "prechat", ...form });
  }

  typing(active) {
    this.raw({ type: "typing", active });
  }

  ack(id, status) {
    this.raw({ type: "ack", id, status });
  }
}
