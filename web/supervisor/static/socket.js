// The wallboard's WebSocket: JSON in, reconnects with backoff; an application ping notices a
// dead connection the browser does not report. Logged out: off to the login page.

const PING_MS = 25000;

export class BoardSocket {
  constructor(path, onMessage, onLink) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = `${scheme}://${location.host}${path}`;
    this.onMessage = onMessage;
    this.onLink = onLink;
    this.ws = null;
    this.backoff = 500;
    this.pinger = null;
  }

  open() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.backoff = 500;
      this.onLink("open");
      this.pinger = setInterval(() => this.send({type: "ping"}), PING_MS);
    });
    ws.addEventListener("message", (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (err) { return; }
      this.onMessage(msg);
    });
    ws.addEventListener("close", () => this.closed(ws));
  }

  /** Start again from a snapshot (a delta was missed). */
  restart() {
    if (this.ws !== null) this.ws.close();
  }

  async closed(ws) {
    if (ws !== this.ws) return;
    clearInterval(this.pinger);
    this.onLink("down");
    try {
      const me = await fetch("/api/me", {credentials: "same-origin"});
      if (me.status === 401) {
        location.assign("/login?next=" + encodeURIComponent("/supervisor"));
        return;
      }
    } catch (err) { /* the server is down: keep trying */ }
    setTimeout(() => this.open(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, 10000);
  }

  send(message) {
    if (this.ws === null || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }
}
