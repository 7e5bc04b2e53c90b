// Agent assist: articles of the knowledge base suggested from what the caller just said.
// The case's live socket brings {"type": "assist", "suggestions": [...]} after a caller's
// segment (centralita/assist_live.py); the newest suggestions replace the older ones, each
// with the caller's words that matched, and "Send link" puts the article's link into the
// composer (SMS, WhatsApp, email or chat: whichever the agent has chosen there).

import {$, h, show} from "/common/static/dom.js";
import {t} from "./i18n.js";

/** An article's link as the customer can open it (a path is made absolute on this host). */
export function absoluteUrl(url) {
  try { return new URL(url, location.origin).href; } catch (err) { return url; }
}

export class AssistPanel {
  /** `onSend(title, url)` is called when the agent sends a suggestion's link. */
  constructor(onSend) {
    this.root = $("assist");
    this.list = $("assist-list");
    this.onSend = onSend;
    this.interactionId = null;
  }

  /** Show the suggestions of one assist message (ignored for another call's interaction). */
  show(msg, interactionId) {
    if (interactionId !== null && msg.interaction_id !== interactionId) return;
    const suggestions = msg.suggestions || [];
    if (suggestions.length === 0) return;
    this.list.replaceChildren(...suggestions.map((s) => this.item(s)));
    show(this.root, true);
  }

  item(s) {
    const url = absoluteUrl(s.url);
    const send = h("button", {type: "button", class: "assist-send"}, t("assist.send"));
    send.addEventListener("click", () => this.onSend(s.title, url));
    return h("li", {class: "assist-item", dataset: {slug: s.slug}},
      h("a", {href: url, target: "_blank", rel: "noopener noreferrer", class: "assist-title"},
        s.title),
      s.phrase ? h("p", {class: "assist-phrase"}, t("assist.heard", {phrase: s.phrase})) : null,
      s.snippet ? h("p", {class: "assist-snippet"}, s.snippet) : null,
      h("p", {}, send));
  }

  clear() {
    this.list.replaceChildren();
    show(this.root, false);
  }
}
