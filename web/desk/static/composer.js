// The composer: the agent writes to the customer of the case on the screen, by the channel
// of the conversation or, from a call's case, by SMS, WhatsApp or email without hanging up.
// It posts to the case's REST routes (web/twilio_api.py, web/email_api.py, web/chat_api.py)
// and shows what the server answered, refusals in the server's own words (an opted-out
// number: why it will not be sent). The message itself comes back on the case's live socket.
//
//   chat       POST /api/cases/{id}/chat {body}; typing through /chat/typing {active}
//   sms        POST /api/cases/{id}/messages {channel, body}, with a live SMS segment count
//   whatsapp   the same route, channel "whatsapp"
//   email      POST /api/cases/{id}/emails {subject, body, in_reply_to_message?}: subject
//              "Re: <last subject>" and the last customer email quoted, both editable

import {$, h, text, show, clock} from "/common/static/dom.js";
import {t} from "./i18n.js";
import {countSegments} from "./sms_segments.js";
import {postJson} from "/common/static/api.js";

const TYPING_IDLE_MS = 3000;  // no key for this long: the agent stopped typing

function lastInboundEmail(timeline) {
  let found = null;
  for (const interaction of (timeline && timeline.interactions) || []) {
    for (const m of interaction.messages || []) {
      if (m.channel === "email" && m.direction === "inbound"
          && (found === null || (m.created_at || "") >= (found.created_at || ""))) found = m;
    }
  }
  return found;
}

/** "Re: <subject>" (once: a subject that already says Re: keeps it). */
export function replySubject(subject) {
  const bare = String(subject || "").trim();
  if (!bare) return "";
  return /^re\s*:/i.test(bare) ? bare : t("composer.reply_prefix", {subject: bare});
}

/** The quote of `message` under the agent's reply: "On <date>, <from> wrote:" + "> " lines. */
export function quoteOf(message) {
  const lines = String(message.body || "").replace(/\r\n?/g, "\n").trimEnd().split("\n");
  const header = t("composer.quote_header", {date: clock(message.created_at),
                                             from: message.sender || ""});
  return `\n\n${header}\n${lines.map((line) => (line ? `> ${line}` : ">")).join("\n")}`;
}

export class Composer {
  constructor() {
    this.root = $("composer");
    this.channel = $("composer-channel");
    this.subjectRow = $("composer-subject-row");
    this.subject = $("composer-subject");
    this.body = $("composer-body");
    this.segments = $("composer-segments");
    this.status = $("composer-status");
    this.send = $("composer-send");
    this.caseId = null;
    this.timeline = null;
    this.prefilled = {subject: "", body: ""};  // what we wrote in: replaced while untouched
    this.replyTo = null;
    this.typingOn = false;
    this.typingTimer = null;
    this.busy = false;
    this.drafts = new Map();  // case id -> what the agent was writing there, kept on a switch
    this.root.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.channel.addEventListener("change", () => this.channelChanged());
    this.body.addEventListener("input", () => this.edited());
  }

  /** Write on `caseId` by one of `channels` (the first chosen); null hides the composer.
   * The same case again keeps what the agent wrote (its channels may have grown). */
  target(caseId, channels) {
    if (caseId === null || caseId === undefined || channels.length === 0) {
      this.stopTyping();
      this.keepDraft();
      this.caseId = null;
      show(this.root, false);
      return;
    }
    show(this.root, true);
    const options = (list) => list.map((c) => h("option", {value: c}, t(`channel.${c}`)));
    if (caseId === this.caseId) {
      const had = [...this.channel.options].map((o) => o.value);
      if (had.join() === channels.join()) return;
      const chosen = this.channel.value;
      this.channel.replaceChildren(...options(channels));
      this.channel.value = channels.includes(chosen) ? chosen : channels[0];
      if (this.channel.value !== chosen) this.channelChanged();
      return;
    }
    this.stopTyping();
    this.keepDraft();
    this.caseId = caseId;
    this.timeline = null;
    this.replyTo = null;
    this.channel.replaceChildren(...options(channels));
    this.channel.value = channels[0];
    this.subject.value = "";
    this.body.value = "";
    this.prefilled = {subject: "", body: ""};
    this.say("");
    const draft = this.drafts.get(caseId);
    if (draft && channels.includes(draft.channel)) {
      this.channel.value = draft.channel;
      this.subject.value = draft.subject;
      this.body.value = draft.body;
      this.prefilled = {...draft.prefilled};
      this.replyTo = draft.replyTo;
    }
    this.channelChanged();
  }

  /** Put an article's link into the message (agent assist): after what the agent wrote,
   * as the subject too when an email has none of the agent's own. */
  insertLink(title, url) {
    if (this.caseId === null) return;
    const line = t("assist.link", {title, url});
    const mine = this.body.value === this.prefilled.body ? "" : this.body.value.trimEnd();
    this.body.value = mine ? `${mine}\n${line}` : line;
    if (this.kind === "email" && this.subject.value === this.prefilled.subject) {
      this.subject.value = title;
    }
    this.edited();
    this.body.focus();
  }

  /** Remember what the agent wrote on the case on screen (switching to another case). */
  keepDraft() {
    if (this.caseId === null) return;
    if (this.body.value === this.prefilled.body && this.subject.value === this.prefilled.subject) {
      this.drafts.delete(this.caseId);
      return;
    }
    this.drafts.set(this.caseId, {channel: this.kind, subject: this.subject.value,
                                  body: this.body.value, prefilled: {...this.prefilled},
                                  replyTo: this.replyTo});
  }

  /** The case's timeline changed: a new customer email becomes what a reply quotes. */
  setTimeline(timeline) {
    this.timeline = timeline;
    if (this.channel.value === "email") this.prefillEmail();
  }

  get kind() {
    return this.channel.value;
  }

  channelChanged() {
    this.stopTyping();
    show(this.subjectRow, this.kind === "email");
    if (this.kind === "email") this.prefillEmail();
    else if (this.body.value === this.prefilled.body) {
      this.body.value = "";
      this.prefilled.body = "";
    }
    this.countSegments();
  }

  prefillEmail() {
    const last = lastInboundEmail(this.timeline);
    if (last === null || (this.replyTo !== null && this.replyTo === last.id)) return;
    this.replyTo = last.id;
    if (this.subject.value === this.prefilled.subject) {
      this.subject.value = this.prefilled.subject = replySubject(last.subject);
    }
    if (this.body.value === this.prefilled.body) {
      this.body.value = this.prefilled.body = quoteOf(last);
      this.body.setSelectionRange(0, 0);
    }
  }

  edited() {
    this.countSegments();
    if (this.kind !== "chat" || this.caseId === null) return;
    if (!this.typingOn) {
      this.typingOn = true;
      this.postTyping(true);
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (!this.typingOn) return;
    this.typingOn = false;
    this.postTyping(false);
  }

  postTyping(active) {
    // Best effort: a lost indicator is not worth telling the agent about.
    postJson(`${this.casePath()}/chat/typing`, {active}).catch(() => {});
  }

  countSegments() {
    const sms = this.kind === "sms";
    show(this.segments, sms);
    if (!sms) return;
    const s = countSegments(this.body.value);
    text(this.segments, t("composer.segments", {count: s.count, units: s.units,
                                                per: s.perSegment, encoding: s.encoding}));
    this.segments.dataset.count = String(s.count);
    this.segments.dataset.encoding = s.encoding;
  }

  casePath() {
    return `/api/cases/${encodeURIComponent(String(this.caseId))}`;
  }

  request() {
    const body = this.body.value;
    if (this.kind === "chat") return [`${this.casePath()}/chat`, {body}];
    if (this.kind === "email") {
      const message = {subject: this.subject.value, body};
      if (this.replyTo !== null) message.in_reply_to_message = this.replyTo;
      return [`${this.casePath()}/emails`, message];
    }
    return [`${this.casePath()}/messages`, {channel: this.kind, body}];
  }

  say(message, kind = "") {
    text(this.status, message);
    this.status.dataset.kind = kind;
    this.status.setAttribute("role", kind === "error" ? "alert" : "status");
  }

  async submit() {
    if (this.busy || this.caseId === null) return;
    if (!this.body.value.trim() || this.body.value === this.prefilled.body) {
      this.say(t("composer.empty"), "error");
      return;
    }
    if (this.kind === "email" && !this.subject.value.trim()) {
      this.say(t("composer.no_subject"), "error");
      return;
    }
    const caseId = this.caseId;
    const [path, message] = this.request();
    this.busy = true;
    this.send.disabled = true;
    this.say(t("composer.sending"));
    this.stopTyping();
    try {
      const resp = await postJson(path, message);
      if (caseId !== this.caseId) return;
      if (resp.ok) {
        this.body.value = "";
        this.prefilled.body = "";
        this.countSegments();
        this.say(t("composer.sent"), "ok");
        return;
      }
      let refusal = null;
      try {
        refusal = (await resp.json()).error;
      } catch (err) { /* not JSON: say the status */ }
      this.say(refusal && refusal.message ? t("composer.refused", {message: refusal.message})
        : t("composer.failed", {status: resp.status}), "error");
      if (refusal) this.status.dataset.code = refusal.code || "";
    } catch (err) {
      this.say(t("composer.offline"), "error");
    } finally {
      this.busy = false;
      this.send.disabled = false;
    }
  }
}
