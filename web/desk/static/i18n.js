// The desk's words, in one catalogue per language (STYLE.md §16): scripts ask `t(key)`,
// markup names its key in `data-i18n` (text), `data-i18n-placeholder`,
// `data-i18n-aria-label` or `data-i18n-title`, and `translatePage()` fills them in. The page
// speaks the language of <html lang> when there is a catalogue for it, else English.
//
// Placeholders are `{name}`: t("inbox.unread", {count: 3}). Keys ending in `.one` / `.other`
// are plural forms picked by `count`.

export const en = {
  // the inbox
  "inbox.title": "Conversations",
  "inbox.empty": "No conversations.",
  "inbox.offers": "Offered to you",
  "inbox.mine": "Yours",
  "inbox.call": "Current call",
  "inbox.accept": "Accept",
  "inbox.decline": "Decline",
  "inbox.countdown": "{seconds} s to accept",
  "inbox.unread.one": "{count} unread message",
  "inbox.unread.other": "{count} unread messages",
  "inbox.waiting": "waiting {time}",
  "inbox.answered": "answered",
  "inbox.unknown_customer": "Unknown customer",
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
  "timeline.unknown_customer": "Unknown customer",
  "timeline.notes": "Notes",
  "timeline.this_call": "this call",
  "timeline.this_conversation": "this conversation",
  "timeline.transcript": "Transcript ({count})",
  "timeline.messages": "Messages ({count})",
  "timeline.from_customer": "Customer",
  "timeline.from_agent": "Agent",
  "timeline.attachments": "Attachments: {names}",
  "timeline.subject": "Subject: {subject}",
  "status.queued": "queued",
  "status.sending": "sending",
  "status.sent": "sent",
  "status.delivered": "delivered",
  "status.read": "read",
  "status.undelivered": "not delivered",
  "status.failed": "failed",
  "status.received": "received",
};

const CATALOGUES = {en};

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
