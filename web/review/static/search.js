// Transcript search: the header's form, results linking to the second in the recording
// (`/review/{id}#t=SECONDS`), and the list of recent recordings.

import {getJson} from "/common/static/api.js";
import {$, duration, h, when} from "/common/static/dom.js";
import {t} from "./i18n.js";

export async function search(words) {
  const status = $("search-status");
  const list = $("search-results");
  $("search-results-box").hidden = false;
  status.textContent = t("search.searching");
  list.replaceChildren();
  try {
    const body = await getJson(`/api/review/search?q=${encodeURIComponent(words)}`);
    const results = body.results || [];
    status.textContent = results.length ? t("search.count", {count: results.length})
                                        : t("search.none");
    const wanted = new Set((words.match(WORD) || []).map(fold));
    list.replaceChildren(...results.map((hit) => resultItem(hit, wanted)));
  } catch (err) {
    status.textContent = t("search.failed", {error: err.message});
  }
}

const WORD = /[\p{L}\p{N}_]+/gu;

/** A word as the search compares it: lower case, accents off. */
function fold(word) {
  return word.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/** `text` with the searched words marked (text nodes and <mark>s, never markup). */
function marked(text, wanted) {
  return text.split(/([\p{L}\p{N}_]+)/u).map((part, i) =>
    (i % 2 === 1 && wanted.has(fold(part)) ? h("mark", {}, part) : part));
}

function resultItem(hit, wanted) {
  const where = t("search.at", {speaker: t(`speaker.${hit.speaker}`),
                                time: duration(hit.start), when: when(hit.started_at)});
  const said = hit.link ? h("a", {href: hit.link, class: "hit", dataset: {
    recording: hit.recording_id, start: String(hit.start)}}, marked(hit.text, wanted))
    : h("span", {class: "hit"}, marked(hit.text, wanted), " ", t("search.no_recording"));
  return h("li", {}, said, h("div", {class: "where"}, where));
}

export async function showRecent() {
  const body = await getJson("/api/recordings");
  const rows = (body.recordings || []).filter((r) => r.deleted_wall === null);
  $("recent-empty").hidden = rows.length > 0;
  $("recent").replaceChildren(...rows.map((row) => h("li", {},
    h("a", {href: `/review/${row.id}`}, t("list.item", {
      when: when(row.started_wall), duration: duration(row.duration || 0),
      agent: row.agent || t("list.no_agent")})))));
}
