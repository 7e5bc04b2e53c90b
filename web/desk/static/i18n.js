// The desk's words, in one catalogue per language (STYLE.md §16): scripts ask `t(key)`,
// markup names its key in `data-i18n` (text), `data-i18n-placeholder`,
// `data-i18n-aria-label` or `data-i18n-title`, and `translatePage()` fills them in. The page
// speaks the language of <html lang> when there is a catalogue for it, else English; that is
// set when this module loads, from the user's choice or the browser's (`pickLanguage`).
//
// Placeholders are `{name}`: t("inbox.unread", {count: 3}). Keys ending in `.one` / `.other`
// are plural forms picked by `count`.

import {es} from "./i18n_es.js";

export const en = {
  // the header, the link to the server
  "desk.title": "Centralita desk",
  "desk.not_connected": "Not connected to the server; try again in a moment.",
  "link.connecting": "connecting…",
  "link.open": "connected",
  "link.down": "reconnecting…",
  "link.replaced": "opened in another window: this one is idle",
  "state.offline": "Offline",
  "state.available": "Available",
  "state.reserved": "Ringing",
  "state.on_call": "On call",
  "state.wrap_up": "Wrap-up",
  "state.break": "Break",
  "state.break_reason": "Break reason",
  // calls: the offer, the call, transfers, the wrap-up
  "idle.title": "No call",
  "idle.text": "Calls offered to you ring here.",
  "kind.call": "call",
  "kind.callback": "callback",
  "kind.transfer": "transfer",
  "kind.consult": "consult",
  "offer.incoming": "Incoming",
  "offer.caller": "Caller",
  "offer.queue": "Queue",
  "offer.from": "From",
  "offer.answer": "Answer",
  "offer.decline": "Decline",
  "offer.connecting": "Connecting…",
  "offer.countdown": "{seconds} s to answer",
  "offer.withdrawn": "The offer was withdrawn ({reason}).",
  "offer.no_reason": "no reason given",
  "offer.cannot_answer": "Cannot answer: {error}",
  "offer.repeat.ahead": "Repeat contact: {count} contacts from this customer in {days} days, so they were moved ahead in the queue.",
  "offer.repeat.same": "Repeat contact: {count} contacts from this customer in {days} days.",
  "handover.preferred": "{channel} (preferred)",
  "call.on_call_with": "On call with",
  "call.queue": "Queue",
  "call.mute": "Mute",
  "call.unmute": "Unmute",
  "call.hold": "Hold",
  "call.resume": "Resume",
  "call.hangup": "Hang up",
  "call.keypad": "DTMF keypad",
  "call.sent": "Sent:",
  "call.reconnecting": "{phase} (reconnecting audio…)",
  "call.audio_failed": "The call's audio failed: {error}",
  "call.cannot_rejoin": "Cannot get the call's audio back: {error}",
  "coached.listen": "A supervisor is listening to this call.",
  "coached.whisper": "A supervisor is coaching you: only you hear them.",
  "coached.barge": "A supervisor has joined the call: the caller hears them too.",
  "transfer.title": "Transfer",
  "transfer.to": "Transfer to",
  "transfer.blind": "Blind transfer",
  "transfer.consult_agent": "Consult agent",
  "transfer.consult": "Consult",
  "transfer.consulting": "Consulting",
  "transfer.complete": "Complete transfer",
  "transfer.cancel": "Cancel consult",
  "transfer.choose": "Agent or queue…",
  "transfer.choose_agent": "Agent…",
  "transfer.agents": "Agents",
  "transfer.queues": "Queues",
  "party.title": "Add to call",
  "party.who": "Who to add",
  "party.choose_who": "Agent or queue…",
  "party.number": "or a phone number",
  "party.number_label": "Phone number to add",
  "party.add": "Add",
  "party.choose": "Choose an agent or a queue, or type a number.",
  "party.ringing": "Ringing them…",
  "party.joined": "They joined the call: everyone hears everyone.",
  "party.refused": "Not added: {reason}",
  "party.failed": "Could not reach the server; try again.",
  "wrapup.title": "Wrap-up",
  "wrapup.call_with": "Call with",
  "wrapup.ended": "ended.",
  "wrapup.disposition": "Disposition",
  "wrapup.choose_option": "Choose…",
  "wrapup.resolved": "Resolved",
  "wrapup.follow_up": "Follow-up",
  "wrapup.escalated": "Escalated",
  "wrapup.no_answer": "No answer",
  "wrapup.other": "Other",
  "wrapup.notes": "Notes",
  "wrapup.save": "Save",
  "wrapup.saving": "Saving…",
  "wrapup.choose": "Choose a disposition.",
  "wrapup.the_caller": "the caller",
  "wrapup.countdown": "{seconds} s of wrap-up left",
  "keys.title": "Keys",
  "keys.answer": "answer",
  "keys.decline": "decline",
  "keys.hold": "hold / resume",
  "keys.mute": "mute / unmute",
  "keys.hangup": "hang up",
  "keys.dtmf": "DTMF in a call",
  // the screen pop
  "pop.ivr": "IVR inputs",
  "pop.transcript": "Live transcript",
  "pop.case": "Case",
  // agent assist: articles suggested from what the caller says
  "assist.title": "Suggested articles",
  "assist.heard": "Heard: “{phrase}”",
  "assist.send": "Send link",
  "assist.link": "{title}: {url}",
  "speaker.caller": "Caller",
  "speaker.agent": "Agent",
  "direction.inbound": "inbound",
  "direction.outbound": "outbound",
  // the inbox
  "inbox.title": "Conversations",
  "inbox.empty": "No conversations.",
  "inbox.away": "You are offline: go available to keep your conversations, or they go back to the queue.",
  "inbox.offers": "Offered to you",
  "inbox.mine": "Yours",
  "inbox.call": "Current call",
  "inbox.accept": "Accept",
  "language.mine": "Language of my pages",
  "language.browser": "Browser's language",
  "inbox.offer_summary": "So far: {text}",
  "inbox.decline": "Decline",
  "inbox.countdown": "{seconds} s to accept",
  "inbox.unread.one": "{count} unread message",
  "inbox.unread.other": "{count} unread messages",
  "inbox.waiting": "waiting {time}",
  "inbox.answered": "answered",
  "inbox.unknown_customer": "Unknown customer",
  "inbox.web_visitor": "Web visitor {id}",
  "inbox.withdrawn.taken": "The conversation was taken by another agent.",
  "inbox.withdrawn.timeout": "The conversation offer timed out.",
  "inbox.withdrawn.declined": "The conversation offer was declined.",
  "inbox.withdrawn.closed": "The customer's conversation was closed.",
  "inbox.withdrawn.other": "The conversation offer was withdrawn.",
  "channel.chat": "Chat",
  "channel.sms": "SMS",
  "channel.whatsapp": "WhatsApp",
  "channel.email": "Email",
  "channel.voice": "Call",
  // the conversation's header
  "conversation.close": "Close conversation",
  "conversation.closed": "Conversation closed.",
  "conversation.typing": "The customer is typing…",
  // the composer
  "composer.title": "Reply",
  "composer.channel": "Send by",
  "composer.subject": "Subject",
  "composer.body": "Message",
  "composer.send": "Send",
  "composer.sending": "Sending…",
  "composer.sent": "Sent.",
  "composer.empty": "Write a message first.",
  "composer.no_subject": "Write a subject first.",
  "composer.reply_prefix": "Re: {subject}",
  "composer.quote_header": "On {date}, {from} wrote:",
  "composer.segments.one": "{units}/{per} characters · 1 SMS · {encoding}",
  "composer.segments.other": "{units} characters · {count} SMS of {per} · {encoding}",
  "composer.refused": "Not sent: {message}",
  "composer.failed": "Not sent: the server answered {status}.",
  "composer.offline": "Not sent: the server could not be reached.",
  // the timeline
  "timeline.none_yet": "(none yet)",
  "timeline.connecting": "connecting…",
  "timeline.live": "live",
  "timeline.no_inputs": "none",
  "timeline.queue": "queue {queue}",
  "timeline.agent": "agent {agent}",
  "timeline.unknown_customer": "Unknown customer",
  "timeline.notes": "Notes",
  "timeline.this_call": "this call",
  "timeline.this_conversation": "this conversation",
  "timeline.transcript": "Transcript ({count})",
  "timeline.transcript_post": "Transcript, improved after the call ({count})",
  // sentiment and topics of a call (cases.insights)
  "insights.sentiment": "Sentiment: {label}",
  "insights.label.positive": "positive",
  "insights.label.negative": "negative",
  "insights.label.neutral": "neutral",
  "insights.trend": "Sentiment over the call, {count} points",
  "insights.point": "{speaker} at {second} s: {label}",
  "insights.topics": "Topics: {topics}",
  "topic.billing": "billing",
  "topic.refund": "refund",
  "topic.delivery": "delivery",
  "topic.cancellation": "cancellation",
  "topic.technical": "technical problem",
  "topic.account": "account",
  "topic.complaint": "complaint",
  "timeline.messages": "Messages ({count})",
  "timeline.from_customer": "Customer",
  "timeline.from_agent": "Agent",
  "timeline.attachments": "Attachments: {names}",
  "timeline.subject": "Subject: {subject}",
  "timeline.quoted": "Quoted history",
  "status.queued": "queued",
  "status.sending": "sending",
  "status.sent": "sent",
  "status.delivered": "delivered",
  "status.read": "read",
  "status.undelivered": "not delivered",
  "status.failed": "failed",
  "status.received": "received",
};

const CATALOGUES = {en, es};

/** The desk's language: the user's choice (`?lang=es`, kept in this browser's storage),
 * else the first of the browser's languages we have a catalogue for, else English. */
export function pickLanguage(
  query = globalThis.location?.search ?? "",
  stored = globalThis.localStorage?.getItem("centralita.language"),
  browser = globalThis.navigator?.languages ?? [globalThis.navigator?.language ?? "en"],
  // The signed-in user's own setting, which the server marks the page with
  // (web/auth/page_language.py): it follows them to any computer.
  profile = globalThis.document?.documentElement?.dataset?.userLanguage,
) {
  const primary = (tag) => String(tag || "").toLowerCase().split("-")[0];
  const asked = primary(new URLSearchParams(query).get("lang"));
  if (asked in CATALOGUES) {
    globalThis.localStorage?.setItem("centralita.language", asked);
    return asked;
  }
  if (primary(profile) in CATALOGUES) return primary(profile);
  if (primary(stored) in CATALOGUES) return primary(stored);
  return browser.map(primary).find((code) => code in CATALOGUES) ?? "en";
}

// <html lang> says the page's language to the browser and to `catalogue()` below.
if (globalThis.document) document.documentElement.lang = pickLanguage();

function catalogue() {
  const lang = (document.documentElement.lang || "en").toLowerCase().split("-")[0];
  return CATALOGUES[lang] || en;
}

/** The text for `key` with `{name}` placeholders filled from `params` (the key itself when
 * no catalogue has it: a missing word shows, it does not break the page). */
export function t(key, params = {}) {
  let template;
  if ("count" in params) {
    const form = Number(params.count) === 1 ? "one" : "other";
    template = catalogue()[`${key}.${form}`] ?? en[`${key}.${form}`];
  }
  template = template ?? catalogue()[key] ?? en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    name in params ? String(params[name]) : whole);
}

/** Fill in every `data-i18n*` element under `root`. */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const [data, attr] of [["i18nPlaceholder", "placeholder"], ["i18nAriaLabel", "aria-label"],
                               ["i18nTitle", "title"]]) {
    const selector = `[data-${data.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}]`;
    for (const node of root.querySelectorAll(selector)) node.setAttribute(attr, t(node.dataset[data]));
  }
}
