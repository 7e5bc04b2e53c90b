// The widget's DOM, inside an open shadow root so the site's styles and ours do not mix.
// Every piece of data reaches the page as text (textContent), never as markup.

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class ChatView {
  /** Build the launcher and the panel under `host` (an element on the site's page). */
  constructor(host, strings, lang, cssUrl) {
    this.t = strings;
    this.time = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
    const root = host.attachShadow({ mode: "open" });
    root.append(h("link", { rel: "stylesheet", href: cssUrl }));
    this.launcher = h("button", { class: "launcher", type: "button", part: "launcher" },
      strings.open);
    this.closeButton = h("button", { class: "close", type: "button",
      "aria-label": strings.close }, "×");
    this.state = h("p", { class: "state", role: "status" });
    this.list = h("ol", { class: "lines", "aria-live": "polite" });
    this.typingLine = h("p", { class: "typing", hidden: "" }, strings.typing);
    this.error = h("p", { class: "error", role: "alert", hidden: "" });
    this.input = h("textarea", { class: "input", rows: "2", placeholder: strings.placeholder,
      "aria-label": strings.placeholder });
    this.sendButton = h("button", { class: "send", type: "submit" }, strings.send);
    this.composer = h("form", { class: "composer" }, this.input, this.sendButton);
    this.prechatForm = this.buildPrechat();
    this.panel = h("section", { class: "panel", hidden: "", "aria-label": strings.title },
      h("header", {}, h("h2", {}, strings.title), this.closeButton),
      this.state, this.list, this.typingLine, this.error, this.prechatForm, this.composer);
    root.append(this.launcher, this.panel);
    this.lines = new Map(); // server id or "c:" + client id -> <li>
  }

  buildPrechat() {
    const field = (name, type, label) => h("label", {}, label,
      h("input", { name, type, maxlength: "200", autocomplete: name === "phone" ? "tel" : name }));
    this.skipButton = h("button", { type: "button", class: "skip" }, this.t.skip);
    return h("form", { class: "prechat", hidden: "" },
      h("p", {}, this.t.prechatIntro),
      field("name", "text", this.t.name), field("email", "email", this.t.email),
      field("phone", "tel", this.t.phone),
      h("div", { class: "actions" }, this.skipButton,
        h("button", { type: "submit" }, this.t.start)));
  }

  get open() {
    return !this.panel.hidden;
  }

  setOpen(open) {
    this.panel.hidden = !open;
    this.launcher.hidden = open;
    if (open) this.input.focus();
  }

  showPrechat(visible) {
    this.prechatForm.hidden = !visible;
    this.composer.hidden = visible;
  }

  setState(state) {
    const words = { connecting: this.t.connecting, offline: this.t.offline, online: "",
      refused: "" };
    this.state.textContent = words[state] ?? "";
    this.state.hidden = !this.state.textContent;
  }

  showError(message) {
    this.error.textContent = message || "";
    this.error.hidden = !message;
  }

  setTyping(active) {
    this.typingLine.hidden = !active;
  }

  /** A line the visitor just typed, before the server stored it. */
  addPending(clientId, body) {
    const li = this.lineElement("visitor", body, null, this.t.sending);
    li.dataset.client = clientId;
    this.lines.set(`c:${clientId}`, li);
    this.list.append(li);
    this.scroll();
  }

  markSent(clientId, id) {
    const li = this.lines.get(`c:${clientId}`);
    if (!li) return;
    li.dataset.id = String(id);
    li.querySelector(".status").textContent = this.t.sent;
    this.lines.set(id, li);
  }

  /** The visitor's line `id` was read by the agent (a `status` frame). */
  markStatus(id, status) {
    const li = this.lines.get(id);
    if (li && status === "read" && li.classList.contains("visitor")) {
      li.querySelector(".status").textContent = this.t.read;
    }
  }

  markFailed(clientId) {
    const li = this.lines.get(`c:${clientId}`);
    if (li) li.querySelector(".status").textContent = this.t.failed;
  }

  /** A stored line (either side); false if it was on screen already. */
  addLine(line) {
    if (this.lines.has(line.id)) return false;
    const pending = line.client_id ? this.lines.get(`c:${line.client_id}`) : undefined;
    if (pending) {
      this.markSent(line.client_id, line.id);
      if (line.at) pending.querySelector("time").textContent = this.time.format(new Date(line.at));
      return false;
    }
    const status = line.from !== "visitor" ? ""
      : line.status === "read" ? this.t.read : this.t.sent;
    const li = this.lineElement(line.from, line.body, line.at, status);
    li.dataset.id = String(line.id);
    this.lines.set(line.id, li);
    // In id order: a replayed line can arrive after a newer live one.
    const after = [...this.list.children].find(
      (node) => node.dataset.id && Number(node.dataset.id) > line.id);
    this.list.insertBefore(li, after ?? null);
    this.scroll();
    return true;
  }

  lineElement(from, body, at, status) {
    const who = from === "visitor" ? this.t.you : this.t.agent;
    const when = at ? this.time.format(new Date(at)) : "";
    return h("li", { class: `line ${from}` },
      h("span", { class: "who" }, who),
      h("span", { class: "body" }, body),
      h("span", { class: "meta" }, h("time", {}, when), " ", h("span", { class: "status" },
        status)));
  }

  scroll() {
    this.list.scrollTop = this.list.scrollHeight;
  }
}
