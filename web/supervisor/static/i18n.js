// The supervisor page's words, one catalogue per language (STYLE.md §16): scripts ask
// `t(key)`, markup names its key in `data-i18n` (text) or `data-i18n-aria-label`, and
// `translatePage()` fills them in. The language is the user's choice (`?lang=es`, kept in this
// browser) or the browser's, else English; `{name}` placeholders, `.one`/`.other` plurals.

import {es} from "./i18n_es.js";

export const en = {
  "sup.title": "Centralita supervisor",
  "sup.heading": "Centralita · Supervisor",
  "link.connecting": "connecting…",
  "link.open": "live",
  "link.down": "reconnecting…",
  "queues.title": "Queues",
  "queues.name": "Queue",
  "queues.waiting": "Waiting",
  "queues.longest": "Longest wait",
  "queues.service_level": "Service level",
  "queues.answered": "Answered today",
  "queues.abandoned": "Abandoned today",
  "queues.asa": "Average answer",
  "queues.agents": "Agents",
  "queues.none": "No queues.",
  "agents.title": "Agents",
  "agents.name": "Agent",
  "agents.state": "State",
  "agents.time": "Time in state",
  "agents.contact": "Current contact",
  "agents.on_call": "Call with {caller} ({queue})",
  "agents.conversations.one": "{count} conversation",
  "agents.conversations.other": "{count} conversations",
  "agents.nothing": "—",
  "state.offline": "Offline",
  "state.available": "Available",
  "state.reserved": "Ringing",
  "state.on_call": "On call",
  "state.wrap_up": "Wrap-up",
  "state.break": "Break",
  "state.break_because": "Break: {reason}",
  "channels.title": "Text channels",
  "channels.queue": "Queue",
  "channels.channel": "Channel",
  "channels.first_response": "First response",
  "channels.none": "No text channels are routed.",
  "channel.chat": "Web chat",
  "channel.sms": "SMS",
  "channel.whatsapp": "WhatsApp",
  "channel.email": "Email",
  "calls.title": "Calls in progress",
  "calls.none": "No calls right now.",
  "calls.line": "{caller} with {agent} · {queue} · {phase} · {time}",
  "calls.unknown_caller": "Unknown number",
  "calls.supervisor": "{who}: {mode}",
  "phase.connected": "talking",
  "phase.held": "on hold",
  "phase.consulting": "consulting",
  "phase.ringing": "ringing",
  "phase.ended": "ended",
  "monitor.title": "Monitoring",
  "monitor.mode": "Mode",
  "monitor.listen": "Listen",
  "monitor.whisper": "Whisper",
  "monitor.barge": "Barge in",
  "monitor.leave": "Leave",
  "monitor.transcript": "Live transcript",
  "monitor.connecting": "Connecting…",
  "monitor.now.listen": "You are listening: nobody hears you.",
  "monitor.now.whisper": "You are whispering: only the agent hears you.",
  "monitor.now.barge": "You are in the call: the caller and the agent hear you.",
  "monitor.failed": "Could not join the call: {error}",
  "monitor.ended": "The call ended.",
  "speaker.caller": "Caller",
  "speaker.agent": "Agent",
  "speaker.supervisor": "Supervisor",
  "transcript.no_case": "This call has no case yet.",
  "history.title": "History",
  "history.since": "From",
  "history.until": "Until",
  "history.figure": "Figure",
  "history.show": "Show",
  "history.csv": "Download CSV",
  "history.by_queue": "Per queue",
  "history.by_agent": "Per agent",
  "history.by_hour": "Per hour",
  "history.by_day": "Per day",
  "history.empty": "No calls in this period.",
  "history.failed": "Could not load the figures: {error}",
  "figure.service_level": "Service level",
  "figure.asa": "Average speed of answer",
  "figure.aht": "Average handle time",
  "figure.abandonment_rate": "Abandonment",
  "unit.seconds": "{n} s",
  "figure.none": "no figure",
};

const CATALOGUES = {en, es};

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

if (globalThis.document) document.documentElement.lang = pickLanguage();

function catalogue() {
  const lang = (document.documentElement.lang || "en").toLowerCase().split("-")[0];
  return CATALOGUES[lang] || en;
}

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

/** The page's language tag, for numbers and times. */
export function locale() {
  return document.documentElement.lang || "en";
}

export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-aria-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  }
}
