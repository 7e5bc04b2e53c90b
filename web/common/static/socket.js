// A page's WebSocket (the desk's, the wallboard's): JSON messages in and out, reconnects with
// backoff, and an application ping the server answers with a pong, so a dead connection is
// noticed even when the browser does not say so. Logged out (the session expired, or ended
// elsewhere): off to the login page, back to this page after.

const PING_MS = 25000;
const REPLACED = 4000;  // the desk was opened in another window (web/desk/link.py)

export class LiveSocket {
  /** `onMessage(msg)` for each message, `onLink(status)` for "open" / "down" / "replaced". */
  constructor(path, onMessage, onLink) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = `${scheme}://${location.host}${path}`;
    this.onMessage = onMessage;
    this.onLink = onLink;
    this.ws = null;
    this.backoff = 500;
    this.lastPong = 0;
    this.pinger = null;
    this.stopped = false;
  }

  open() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.backoff = 500;
      this.lastPong = Date.now();
      this.onLink("open");
      this.pinger = setInterval(() => this.ping(), PING_MS);
    });
    ws.addEventListener("message", (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (msg.type === "pong") this.lastPong = Date.now();
      this.onMessage(msg);
    });
    ws.addEventListener("close", (event) => this.closed(ws, event));
  }

  /** Start again (the wallboard: a delta went missing, a snapshot comes on reconnecting). */
  restart() {
    if (this.ws !== null) this.ws.close();
  }

  ping() {
    if (Date.now() - this.lastPong > 2 * PING_MS + 5000) {
      this.ws.close();  // no pong for two rounds: start over
      return;
    }
    this.send({type: "ping"});
  }

  async closed(ws, event) {
    if (ws !== this.ws) return;
    clearInterval(this.pinger);
    this.pinger = null;
    if (event.code === REPLACED) {
      this.stopped = true;
      this.onLink("replaced");
      return;
    }
    this.onLink("down");
    if (this.stopped) return;
    try {
      const me = await fetch("/api/me", {credentials: "same-origin"});
      if (me.status === 401) {
        location.assign("/login?next=" + encodeURIComponent(location.pathname));
        return;
      }
    } catch (err) { /* the server is down: keep trying */ }
    setTimeout(() => this.open(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, 10000);
  }

  /** Send a message; false when the socket is not open (the caller tells the user). */
  send(message) {
    if (this.ws === null || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }
}
