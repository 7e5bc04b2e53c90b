// What the widget keeps between page loads, in the embedding site's localStorage: the
// visitor token (a reload continues the same conversation) and whether this browser has
// chatted (then the widget asks for the conversation again when the page loads).
//
// Not a cookie: the widget talks to the chat server from another site's page, where a
// SameSite cookie of the chat server is not sent and third-party cookies are blocked.

export class VisitorStore {
  /** Keys are per chat server, so two servers' widgets on one site do not mix. */
  constructor(serverOrigin) {
    this.prefix = `centralita-chat:${serverOrigin}:`;
  }

  get(name) {
    try {
      return window.localStorage.getItem(this.prefix + name);
    } catch {
      return null; // storage disabled: the chat still works for this page load
    }
  }

  set(name, value) {
    try {
      window.localStorage.setItem(this.prefix + name, value);
    } catch {
      // storage full or disabled: nothing to keep
    }
  }
}
