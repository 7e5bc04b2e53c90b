// The screen pop: the customer's case timeline across channels (calls with their transcripts,
// chat lines, SMS, WhatsApp and email messages, notes), the IVR inputs of this call, and the
// live events from the case's WebSocket (/api/cases/{id}/live). A case is always named by its
// public id (a random string from the offer, the call or the conversation), never a number.
//
// It shows a call (`callId`: IVR inputs and live transcript too) or a text conversation
// (`conversationId`: the timeline only); `onTimeline(timeline)` hears each new state of the
// timeline (the composer quotes the last email from it).

import {$, h, text, show, clock} from "/common/static/dom.js";
import {sentimentLevel, trendMarks} from "/common/static/sentiment.js";
import {t} from "./i18n.js";

const TYPING_MS = 8000;  // a visitor's typing indicator without news goes away after this
// Delivery statuses only move forward: a timeline read before a delivery report must not
// undo one that arrived while it was on its way.
const STATUS_RANK = {received: 0, queued: 1, sending: 2, sent: 3, undelivered: 4, failed: 4,
                     delivered: 5, read: 6};

// An email reply's quoted history (as channels/email_quotes.py finds it: "> " lines and the
// attribution just before them) is kept out of the timeline's text and shown on demand.
const ATTRIBUTION = /^\s*(on\b.*\bwrote|el\b.*\bescribi[oó]|le\b.*\ba [ée]crit|am\b.*\bschrieb.*)\s*:?\s*$/i;

/** `[what the customer wrote this time, the whole text]` of an email body. */
export function withoutQuotes(body) {
  const lines = String(body || "").replace(/\r\n?/g, "\n").split("\n");
  const kept = [];
  for (let i = 0; i < lines.length; i += 1) {
    const quote = /^\s*>/.test(lines[i]);
    const introduces = ATTRIBUTION.test(lines[i]) && /^\s*>/.test(lines[i + 1] || "")
      || ATTRIBUTION.test(`${lines[i]} ${lines[i + 1] || ""}`) && /^\s*>/.test(lines[i + 2] || "");
    if (quote) continue;
    if (introduces) {
      if (!ATTRIBUTION.test(lines[i])) i += 1;  // a two-line attribution
      continue;
    }
    kept.push(lines[i]);
  }
  const whole = lines.join("\n").trim();
  const text = kept.join("\n").trim();
  return [text || whole, whole];
}

function later(a, b) {
  return (STATUS_RANK[b] ?? -1) > (STATUS_RANK[a] ?? -1) ? b : a;
}

// The call's sentiment (its label, and one mark per segment in time order, coloured by
// level) and its topics, in words.
function insightsItem(insights) {
  const trend = insights.trend || [];
  const topics = (insights.topics || []).map((x) => t(`topic.${x.topic}`)).join(", ");
  return h("div", {class: "insights"},
    h("p", {}, t("insights.sentiment", {label: t(`insights.label.${insights.label}`)}), " ",
      trendMarks(trend, t("insights.trend", {count: trend.length}), (p, level) =>
        t("insights.point", {speaker: speakerLabel(p.speaker), second: Math.round(p.start),
                             label: t(`insights.label.${level}`)}))),
    topics ? h("p", {class: "topics"}, t("insights.topics", {topics})) : null);
}

function speakerLabel(speaker) {
  const label = t(`speaker.${speaker}`);
  return label === `speaker.${speaker}` ? String(speaker) : label;
}

function ivrValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function channelLabel(channel) {
  return t(`channel.${channel}`) === `channel.${channel}` ? String(channel || "?")
    : t(`channel.${channel}`);
}

export class CasePanel {
  constructor() {
    this.root = $("pop");
    this.ivr = $("ivr-inputs");
    this.transcript = $("transcript");
    this.timeline = $("timeline");
    this.title = $("case-title");
    this.liveStatus = $("live-status");
    this.typing = $("customer-typing");
    this.caseId = null;
    this.callId = null;
    this.conversationId = null;
    this.interactionId = null;
    this.data = null;         // the last timeline, with live messages added
    this.seen = new Set();
    this.messages = new Set();
    this.statuses = new Map();  // message id -> the furthest delivery status seen
    this.ws = null;
    this.generation = 0;
    this.typingTimer = null;
    this.onTimeline = null;
    this.onAssist = null;  // (message, this call's interaction id) for agent assist
    this.onReset = null;
  }

  /** Show the pop for `caseId` (null: no case known) and this call's IVR inputs, or for the
   * text conversation `options.conversationId` of the case. */
  show(caseId, callId, ivrInputs, options = {}) {
    const conversationId = options.conversationId ?? null;
    if (caseId !== this.caseId || callId !== this.callId
        || conversationId !== this.conversationId) {
      this.reset();
      this.caseId = caseId;
      this.callId = callId;
      this.conversationId = conversationId;
      this.interactionId = conversationId;
      if (caseId !== null && caseId !== undefined) this.load();
      else text(this.title, t("timeline.none_yet"));
    }
    this.root.dataset.mode = conversationId !== null ? "conversation" : "call";
    if (ivrInputs) this.renderIvr(ivrInputs);
    show(this.root, true);
  }

  /** Follow the case live (the call was answered, or a conversation is open). */
  live() {
    if (this.ws !== null || this.caseId === null || this.caseId === undefined) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const id = encodeURIComponent(String(this.caseId));
    const generation = this.generation;
    const ws = new WebSocket(`${scheme}://${location.host}/api/cases/${id}/live`);
    this.ws = ws;
    text(this.liveStatus, t("timeline.connecting"));
    ws.addEventListener("open", () => text(this.liveStatus, t("timeline.live")));
    ws.addEventListener("close", () => {
      if (this.ws === ws) {
        this.ws = null;
        text(this.liveStatus, "");
      }
    });
    ws.addEventListener("message", (event) => {
      if (generation !== this.generation) return;
      let msg;
      try { msg = JSON.parse(event.data); } catch (err) { return; }
      this.onEvent(msg);
    });
  }

  hide() {
    this.reset();
    show(this.root, false);
  }

  reset() {
    this.generation += 1;
    if (this.ws !== null) {
      this.ws.close();
      this.ws = null;
    }
    this.caseId = null;
    this.callId = null;
    this.conversationId = null;
    this.interactionId = null;
    this.data = null;
    this.seen.clear();
    this.messages.clear();
    this.statuses.clear();
    this.setTyping(false);
    if (this.onReset) this.onReset();
    for (const node of [this.ivr, this.transcript, this.timeline, this.title, this.liveStatus]) {
      node.replaceChildren();
    }
  }

  async load() {
    const generation = this.generation;
    const id = encodeURIComponent(String(this.caseId));
    text(this.title, `#${this.caseId}`);
    try {
      const resp = await fetch(`/api/cases/${id}`, {credentials: "same-origin"});
      if (!resp.ok) throw new Error(`case ${this.caseId}: HTTP ${resp.status}`);
      const timeline = await resp.json();
      if (generation === this.generation) this.renderTimeline(timeline);
    } catch (err) {
      if (generation === this.generation) {
        this.timeline.replaceChildren(h("p", {class: "status"}, String(err.message)));
      }
    }
  }

  onEvent(msg) {
    if (msg.type === "snapshot") {
      this.renderTimeline(msg.timeline);
    } else if (msg.type === "segment" && msg.segment) {
      if (this.interactionId === null) this.interactionId = msg.segment.interaction_id;
      if (msg.segment.interaction_id === this.interactionId) this.addSegment(msg.segment);
    } else if (msg.type === "transcript") {
      this.load();  // the post-call pass's transcript replaces the live one
    } else if (msg.type === "assist") {
      if (this.onAssist && this.callId !== null) this.onAssist(msg, this.interactionId);
    } else if (msg.type === "interaction_started") {
      if (this.interactionId === null && this.callId !== null) {
        this.interactionId = msg.interaction_id;
      }
      if (this.callId === null) this.load();  // a new conversation on the case: show it
    } else if (msg.type === "note" && msg.note) {
      const notes = this.timeline.querySelector(".notes");
      if (notes) notes.append(this.noteItem(msg.note));
    } else if (msg.type === "message" && msg.message) {
      this.addMessage(msg.message);
    } else if (msg.type === "message_status" && msg.message) {
      this.updateStatus(msg.message);
    } else if (msg.type === "chat_typing" && msg.from === "visitor") {
      this.setTyping(Boolean(msg.active));
    } else if (msg.type === "gap" || msg.type === "case_merged") {
      this.load();  // events were dropped, or the case moved: the timeline is the truth
    }
  }

  setTyping(active) {
    clearTimeout(this.typingTimer);
    show(this.typing, active);
    if (active) this.typingTimer = setTimeout(() => show(this.typing, false), TYPING_MS);
  }

  renderIvr(inputs) {
    this.ivr.replaceChildren(...inputs.map((input) => h("li", {},
      h("span", {class: "kind"}, input.kind), " ",
      input.step ? h("span", {class: "step"}, input.step) : null, " ",
      h("strong", {}, ivrValue(input.value)))));
    if (inputs.length === 0) this.ivr.append(h("li", {class: "status"}, t("timeline.no_inputs")));
  }

  renderTimeline(timeline) {
    this.data = timeline;
    this.messages.clear();
    const customer = timeline.customer || {};
    const caseInfo = timeline.case || {};
    text(this.title, `#${caseInfo.id} ${caseInfo.subject || ""} (${caseInfo.status || ""})`);
    const identities = (timeline.identities || []).map((i) => `${i.kind}: ${i.value}`).join(", ");
    const interactions = [...(timeline.interactions || [])].reverse();  // newest first
    const mine = interactions.find((i) => this.callId && i.call_id === this.callId);
    if (mine) this.interactionId = mine.id;
    else if (this.interactionId === null && this.callId !== null) {
      const open = interactions.find((i) => !i.ended_at);
      if (open) this.interactionId = open.id;
    }
    const current = interactions.find((i) => i.id === this.interactionId);
    if (current && this.callId !== null) {
      for (const seg of current.segments || []) this.addSegment(seg);
    }
    this.timeline.replaceChildren(
      h("p", {class: "customer"},
        h("strong", {}, customer.display_name || t("timeline.unknown_customer")),
        identities ? ` · ${identities}` : ""),
      h("ol", {class: "interactions"}, interactions.map((i) => this.interactionItem(i))),
      h("h3", {}, t("timeline.notes")),
      h("ul", {class: "notes"}, (timeline.notes || []).map((n) => this.noteItem(n))),
    );
    const open = this.timeline.querySelector(".interaction.current .messages");
    if (open) open.scrollTop = open.scrollHeight;
    if (this.onTimeline) this.onTimeline(timeline);
  }

  interactionItem(i) {
    const facts = [i.direction && t(`direction.${i.direction}`),
                   i.queue && t("timeline.queue", {queue: i.queue}),
                   i.agent && t("timeline.agent", {agent: i.agent}),
                   i.outcome].filter(Boolean).join(" · ");
    const segments = i.segments || [];
    const events = i.ivr_events || [];
    const messages = i.messages || [];
    const current = i.id === this.interactionId;
    const badge = this.callId !== null ? t("timeline.this_call") : t("timeline.this_conversation");
    const list = h("ol", {class: "messages"}, messages.map((m) => this.messageItem(m)));
    return h("li", {class: current ? "interaction current" : "interaction",
                    dataset: {channel: i.channel || "", interactionId: String(i.id)}},
      h("p", {}, h("span", {class: "channel"}, channelLabel(i.channel)), " ",
        h("time", {datetime: i.started_at || ""}, clock(i.started_at)), " ", facts,
        current ? h("span", {class: "badge"}, badge) : null),
      i.summary ? h("p", {class: "summary"}, i.summary) : null,
      i.insights ? insightsItem(i.insights) : null,
      events.length ? h("ul", {class: "ivr"}, events.map((e) => h("li", {},
        h("span", {class: "kind"}, e.kind), " ", e.step || "", " ",
        h("strong", {}, ivrValue(e.value))))) : null,
      segments.length ? h("details", {},
        h("summary", {}, t(i.transcript_source === "post" ? "timeline.transcript_post"
          : "timeline.transcript", {count: segments.length})),
        h("ol", {class: "transcript"}, segments.map((s) => this.segmentItem(s)))) : null,
      i.channel !== "voice" ? (current || messages.length <= 3 ? list
        : h("details", {}, h("summary", {}, t("timeline.messages", {count: messages.length})),
          list)) : null,
    );
  }

  messageItem(m) {
    this.messages.add(m.id);
    const status = later(m.status, this.statuses.get(m.id));
    this.statuses.set(m.id, status);
    const inbound = m.direction === "inbound";
    const who = inbound ? t("timeline.from_customer") : t("timeline.from_agent");
    const attachments = (m.attachments || []).map((a) => a.filename).filter(Boolean);
    return h("li", {class: "message", dataset: {messageId: String(m.id),
                                                direction: m.direction || ""}},
      h("p", {class: "meta"}, h("span", {class: "who"}, who), " ",
        h("span", {class: "address"}, inbound ? m.sender || "" : m.recipient || ""), " ",
        h("time", {datetime: m.created_at || ""}, clock(m.created_at)),
        inbound ? null : h("span", {class: "delivery", dataset: {status: status || ""}},
          this.statusLabel(status))),
      m.subject ? h("p", {class: "subject"}, t("timeline.subject", {subject: m.subject})) : null,
      ...this.bodyOf(m),
      attachments.length
        ? h("p", {class: "status"}, t("timeline.attachments", {names: attachments.join(", ")}))
        : null);
  }

  /** The body's text; an email's quoted history folded away under "Quoted history". */
  bodyOf(m) {
    if (m.channel !== "email") return [h("p", {class: "body"}, m.body || "")];
    const [fresh, whole] = withoutQuotes(m.body);
    if (fresh === whole) return [h("p", {class: "body"}, whole)];
    return [h("p", {class: "body"}, fresh),
            h("details", {class: "quoted"}, h("summary", {}, t("timeline.quoted")),
              h("p", {class: "body"}, whole))];
  }

  statusLabel(status) {
    if (!status) return "";
    const label = t(`status.${status}`);
    return label === `status.${status}` ? status : label;
  }

  addMessage(message) {
    if (this.messages.has(message.id)) {
      this.updateStatus(message);
      return;
    }
    const item = this.timeline.querySelector(
      `.interaction[data-interaction-id="${Number(message.interaction_id)}"] .messages`);
    if (!item || !this.data) {
      this.load();  // a conversation the page has not shown yet
      return;
    }
    const interaction = (this.data.interactions || []).find(
      (i) => i.id === message.interaction_id);
    if (interaction) (interaction.messages = interaction.messages || []).push(message);
    item.append(this.messageItem(message));
    item.scrollTop = item.scrollHeight;
    if (message.direction === "inbound") this.setTyping(false);
    if (this.onTimeline) this.onTimeline(this.data);
  }

  updateStatus(message) {
    const status = later(this.statuses.get(message.id), message.status);
    this.statuses.set(message.id, status);
    const node = this.timeline.querySelector(
      `.message[data-message-id="${Number(message.id)}"] .delivery`);
    if (node) {
      node.dataset.status = status || "";
      text(node, this.statusLabel(status));
    }
  }

  noteItem(note) {
    return h("li", {}, h("span", {class: "author"}, note.author), " ",
      h("time", {datetime: note.created_at || ""}, clock(note.created_at)), ": ", note.text);
  }

  segmentItem(seg) {
    // Each line carries its sentiment's level (a coloured edge): the trend as the call goes.
    const level = typeof seg.sentiment === "number" ? sentimentLevel(seg.sentiment) : "";
    return h("li", {class: "segment", dataset: {speaker: seg.speaker, level},
                    title: level ? t(`insights.label.${level}`) : null},
      h("span", {class: "speaker"}, speakerLabel(seg.speaker)), " ",
      h("span", {class: "text"}, seg.text));
  }

  addSegment(seg) {
    if (this.seen.has(seg.id)) return;
    this.seen.add(seg.id);
    this.transcript.append(this.segmentItem(seg));
    this.transcript.scrollTop = this.transcript.scrollHeight;
  }
}
