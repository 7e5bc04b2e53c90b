// The review page's words, one catalogue per language (STYLE.md §16): scripts ask `t(key)`,
// markup names its key in `data-i18n` (text), `data-i18n-placeholder` or
// `data-i18n-aria-label`, and `translatePage()` fills them in. The language is the user's
// choice (`?lang=es`, kept in this browser as the desk keeps it) or the browser's, else English.
// Placeholders are `{name}`; keys ending in `.one` / `.other` are plural forms by `count`.

import {es} from "./i18n_es.js";

export const en = {
  "review.title": "Centralita review",
  "review.heading": "Call review",
  "review.load_failed": "Could not load this page: {error}",
  "search.placeholder": "Search transcripts",
  "search.button": "Search",
  "search.results": "Results",
  "search.searching": "Searching…",
  "search.count.one": "{count} line found.",
  "search.count.other": "{count} lines found.",
  "search.none": "Nothing found.",
  "search.failed": "The search failed: {error}",
  "search.no_recording": "(no recording)",
  "search.at": "{speaker} at {time}, call of {when}",
  "list.recent": "Recent recordings",
  "list.empty": "No recordings you may see.",
  "list.item": "{when} · {duration} · {agent}",
  "list.no_agent": "no agent",
  "recording.title": "Call of {when}",
  "recording.facts": "Duration {duration} · agent {agent} · queue {queue}",
  "recording.none": "none",
  "recording.deleted": "This recording was deleted.",
  "speaker.caller": "Caller",
  "speaker.agent": "Agent",
  "wave.paused": "Recording paused",
  "paused.span": "Paused from {from} to {to} ({by})",
  "paused.by.agent": "by the agent",
  "paused.by.ivr": "for a sensitive step",
  "paused.by.api": "through the API",
  "paused.by.other": "paused",
  "transcript.title": "Transcript",
  "transcript.hint": "Click a line to play from there.",
  "transcript.empty": "This call has no transcript.",
  "qa.title": "Quality review",
  "qa.empty": "Not reviewed yet.",
  "qa.score": "Score (0-100)",
  "qa.notes": "Notes",
  "qa.save": "Save review",
  "qa.saved": "Review saved.",
  "qa.failed": "The review was not saved: {error}",
  "qa.item": "{score} — {reviewer}, {when}",
  "qa.no_score": "No score",
  "qa.score_value": "{score}/100",
};

const CATALOGUES = {en, es};

/** The page's language: `?lang=`, then the user's setting, then this browser's stored choice,
 * then its languages. */
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

/** The text for `key` with `{name}` placeholders filled from `params`. */
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
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  }
  for (const node of root.querySelectorAll("[data-i18n-aria-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  }
}
