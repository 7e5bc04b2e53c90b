// The inbox: the text conversations offered to the agent (accept / decline, with the time
// left) and the ones they have (channel, customer, unread messages, how long the customer has
// waited for an answer), and the call they are on, as rows to pick what the screen shows.
// Routing's messages are the truth (web/desk/protocol.py): the inbox only draws them.

import {$, h, text, show, duration} from "/common/static/dom.js";
import {t} from "./i18n.js";

// Glyphs every system font has (emoji fonts are not everywhere): a sign, not the label.
const ICONS = {chat: "✎", sms: "✉", whatsapp: "✆", email: "@", voice: "☎"};

function channelLabel(channel) {
  const label = t(`channel.${channel}`);
  return label === `channel.${channel}` ? String(channel) : label;
}

function channelTag(channel) {
  return h("span", {class: "channel", dataset: {channel: channel || ""}},
    h("span", {class: "icon", "aria-hidden": "true"}, ICONS[channel] || "•"), " ",
    channelLabel(channel));
}

/** Who the customer is, in words: their name or address; an anonymous web visitor by a
 * short tag of their id (the raw `visitor:<id>` address means nothing to an agent). */
export function customerOf(conversation) {
  const customer = conversation.customer;
  if (!customer) return t("inbox.unknown_customer");
  if (customer.startsWith("visitor:")) return t("inbox.web_visitor", {id: customer.slice(8, 14)});
  if (customer.startsWith("site:")) return customer.slice(5);
  return customer;
}

/** Seconds since an ISO time (0 when unknown or in the future). */
function since(iso, now) {
  const at = Date.parse(iso || "");
  return Number.isNaN(at) ? 0 : Math.max(0, (now - at) / 1000);
}

/** The sentence that tells a repeat contact (an offer's or a conversation's `repeat`), or
 * "" when it is not one. */
export function repeatSentence(repeat) {
  if (!repeat) return "";
  const params = {count: repeat.contacts, days: repeat.days};
  return t(Number(repeat.boost) > 0 ? "offer.repeat.ahead" : "offer.repeat.same", params);
}

export class Inbox {
  /** `actions`: {accept(offerId), decline(offerId), select(conversationId | "call")}. */
  constructor(actions) {
    this.root = $("inbox");
    this.offersList = $("inbox-offers");
    this.list = $("inbox-list");
    this.empty = $("inbox-empty");
    this.actions = actions;
  }

  /** Draw `offers` (offer messages, each with `deadline` in ms of performance.now()),
   * `conversations` (CONV objects), the call (or null) and which row is `selected`. */
  render({offers, conversations, call, selected}) {
    this.offersList.replaceChildren(...offers.map((offer) => this.offerRow(offer)));
    show($("inbox-offers-title"), offers.length > 0);
    const rows = conversations.map((c) => this.conversationRow(c, selected === c.id));
    if (call) rows.unshift(this.callRow(call, selected === "call"));
    this.list.replaceChildren(...rows);
    show(this.empty, offers.length === 0 && rows.length === 0);
    this.tick();
  }

  offerRow(offer) {
    const conversation = offer.conversation || {};
    return h("li", {class: "conversation-offer", dataset: {offerId: offer.offer_id,
                                                           channel: conversation.channel || ""}},
      h("p", {}, channelTag(conversation.channel), " ",
        h("strong", {class: "customer"}, customerOf(conversation)),
        conversation.queue ? h("span", {class: "queue"}, ` · ${conversation.queue}`) : null),
      conversation.repeat ? h("p", {class: "repeat"}, repeatSentence(conversation.repeat)) : null,
      offer.summary ? h("p", {class: "summary"}, t("inbox.offer_summary", {text: offer.summary}))
        : null,
      h("p", {class: "countdown", dataset: {deadline: String(offer.deadline || 0)}}),
      h("p", {class: "controls"},
        this.button("accept answer", t("inbox.accept"), () => this.actions.accept(offer.offer_id)),
        this.button("decline", t("inbox.decline"), () => this.actions.decline(offer.offer_id))));
  }

  conversationRow(c, selected) {
    const unread = Number(c.unread) || 0;
    const row = h("li", {class: "conversation", dataset: {id: String(c.id),
                                                          channel: c.channel || ""}},
      h("button", {type: "button", class: "pick", "aria-pressed": String(selected)},
        channelTag(c.channel), " ",
        h("strong", {class: "customer"}, customerOf(c)), " ",
        h("span", {class: "unread", "aria-label": t("inbox.unread", {count: unread}),
                   hidden: unread === 0 ? "" : null}, String(unread)), " ",
        h("span", {class: "waiting", dataset: {since: c.waiting_since || ""}})));
    row.querySelector("button").addEventListener("click", () => this.actions.select(c.id));
    return row;
  }

  callRow(call, selected) {
    const row = h("li", {class: "conversation call-row", dataset: {channel: "voice"}},
      h("button", {type: "button", class: "pick", "aria-pressed": String(selected)},
        channelTag("voice"), " ", h("strong", {class: "customer"}, call.caller || ""), " ",
        h("span", {class: "status"}, t("inbox.call"))));
    row.querySelector("button").addEventListener("click", () => this.actions.select("call"));
    return row;
  }

  button(cls, label, onClick) {
    const node = h("button", {type: "button", class: cls}, label);
    node.addEventListener("click", onClick);
    return node;
  }

  /** The countdowns and waiting times (the rest changes only on messages). */
  tick() {
    const now = performance.now();
    for (const node of this.offersList.querySelectorAll(".countdown")) {
      const left = Math.max(0, (Number(node.dataset.deadline) - now) / 1000);
      text(node, t("inbox.countdown", {seconds: Math.ceil(left)}));
    }
    const wall = Date.now();
    for (const node of this.list.querySelectorAll(".waiting")) {
      const from = node.dataset.since;
      text(node, from ? t("inbox.waiting", {time: duration(since(from, wall))}) : "");
    }
  }
}
