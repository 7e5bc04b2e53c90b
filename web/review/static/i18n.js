// The review page's words, one catalogue per language (STYLE.md §16); the language the page
// speaks, `t(key)` and `translatePage()` come from /common/static/i18n.js (`catalogues`).

import {catalogues} from "/common/static/i18n.js";
import {es} from "./i18n_es.js";

export const en = {
  "review.title": "Centralita review",
  "review.heading": "Call review",
  "review.load_failed": "Could not load this page: {error}",
  "nav.desk": "Desk",
  "nav.supervisor": "Supervisor",
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

export const {t, translatePage, locale} = catalogues({en, es});
