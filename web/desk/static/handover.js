// Handover: "Continue by SMS / email / chat" on the case on screen (a call's or a
// conversation's). The agent picks a channel; the server drafts the message from the
// interaction summary (short, masked facts left out) and a fresh signed chat link
// (GET /api/cases/{id}/handover); the agent may edit the text (the link is added by the
// server, after it, so an edit can never break it) and sends it
// (POST /api/cases/{id}/handover {channel, text}). Refusals show in the server's words.
// The customer's answer comes back on the same case, offered first to this agent.
// The customer's preferred channel (GET /api/cases/{id}/preferred_channel: chosen by them,
// or inferred from how they contact us) comes first and is marked as theirs.

import {$, h, text, show} from "/common/static/dom.js";
import {t} from "./i18n.js";
import {postJson} from "/common/static/api.js";

const CHANNELS = ["sms", "whatsapp", "email", "chat"];
const WORDS = {
  "handover.title": "Continue by…",
  "handover.sms": "SMS", "handover.whatsapp": "WhatsApp", "handover.email": "Email",
  "handover.chat": "Chat (link by SMS)",
  "handover.link": "The message ends with this link:",
  "handover.send": "Send", "handover.cancel": "Cancel",
  "handover.drafting": "Preparing the message…", "handover.sending": "Sending…",
  "handover.sent": "Sent. The customer's answer comes back to you on this case.",
  "handover.failed": "Not sent: {reason}",
  "handover.preferred": "{channel} (preferred)",
};

/** `t(key)`, or the English words here when the catalogue does not have the key yet. */
function tr(key, params = {}) {
  const said = t(key, params);
  if (said !== key) return said;
  return (WORDS[key] || key).replace(/\{(\w+)\}/g, (w, n) => (n in params ? String(params[n]) : w));
}

async function reasonOf(resp) {
  try {
    return (await resp.json()).error.message;
  } catch (err) {
    return `HTTP ${resp.status}`;
  }
}

export class HandoverPanel {
  constructor() {
    this.root = $("handover");
    this.caseId = null;
    this.channel = null;
    this.preferred = null;  // the customer's preferred channel, when it is one of CHANNELS
    this.buttons = h("p", {class: "handover-channels"});
    this.form = h("form", {class: "handover-form", hidden: ""});
    this.body = h("textarea", {rows: "4", "aria-label": tr("handover.title"),
                               id: "handover-text"});
    this.link = h("code", {id: "handover-link"});
    this.status = h("span", {class: "status", role: "status", id: "handover-status"});
    this.sendButton = h("button", {type: "submit", id: "handover-send"}, tr("handover.send"));
    const cancel = h("button", {type: "button"}, tr("handover.cancel"));
    cancel.addEventListener("click", () => this.close());
    this.form.append(h("p", {}, this.body), h("p", {}, tr("handover.link"), " ", this.link),
                     h("p", {}, this.sendButton, " ", cancel));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.root.append(h("h2", {}, tr("handover.title")), this.buttons, this.form,
                     h("p", {}, this.status));
  }

  /** Offer the handover on case `caseId` (a public id); null hides the panel. */
  target(caseId) {
    if (caseId === this.caseId) return;
    this.caseId = caseId ?? null;
    this.close();
    text(this.status, "");
    show(this.root, this.caseId !== null);
    this.buttons.replaceChildren(...CHANNELS.map((channel) => {
      const button = h("button", {type: "button", "data-channel": channel,
                                  id: `handover-${channel}`}, tr(`handover.${channel}`));
      button.addEventListener("click", () => this.open(channel));
      return button;
    }));
    this.preferred = null;
    if (this.caseId !== null) this.loadPreferred(this.caseId);
  }

  /** Put the customer's preferred channel first, marked (a failure leaves the order). */
  async loadPreferred(caseId) {
    let preference;
    try {
      const resp = await fetch(`/api/cases/${encodeURIComponent(caseId)}/preferred_channel`,
                               {credentials: "same-origin"});
      if (!resp.ok) return;
      preference = await resp.json();
    } catch (err) {
      return;
    }
    if (caseId !== this.caseId || !CHANNELS.includes(preference.channel)) return;
    const button = this.buttons.querySelector(`[data-channel="${preference.channel}"]`);
    if (!button) return;
    this.preferred = preference.channel;
    button.dataset.preferred = preference.source;
    button.textContent = tr("handover.preferred", {channel: tr(`handover.${preference.channel}`)});
    this.buttons.prepend(button);
  }

  close() {
    this.channel = null;
    show(this.form, false);
  }

  async open(channel) {
    const caseId = this.caseId;
    if (caseId === null) return;
    this.channel = channel;
    text(this.status, tr("handover.drafting"));
    const resp = await fetch(`/api/cases/${encodeURIComponent(caseId)}/handover`,
                             {credentials: "same-origin"});
    if (caseId !== this.caseId) return;
    if (!resp.ok) {
      text(this.status, tr("handover.failed", {reason: await reasonOf(resp)}));
      return;
    }
    const draft = await resp.json();
    this.body.value = draft.text || "";
    text(this.link, draft.link);
    text(this.status, "");
    show(this.form, true);
    this.body.focus();
  }

  async submit() {
    if (this.caseId === null || this.channel === null) return;
    this.sendButton.disabled = true;
    text(this.status, tr("handover.sending"));
    try {
      const resp = await postJson(`/api/cases/${encodeURIComponent(this.caseId)}/handover`,
                                  {channel: this.channel, text: this.body.value});
      if (resp.status === 201) {
        text(this.status, tr("handover.sent"));
        this.close();
      } else {
        text(this.status, tr("handover.failed", {reason: await reasonOf(resp)}));
      }
    } finally {
      this.sendButton.disabled = false;
    }
  }
}
