// The review page: /review lists recent recordings and searches transcripts; /review/{id}
// plays one recording with its waveform, paused spans, synced transcript and QA reviews.
// `#t=SECONDS` in the address starts the recording there (search results link so).

import {getJson} from "/common/static/api.js";
import {$, duration, h, when} from "/common/static/dom.js";
import {showForRole} from "/common/static/nav.js";
import {t, translatePage} from "./i18n.js";
import {Player} from "./player.js";
import {setUpForm, showReviews} from "./qa.js";
import {search, showRecent} from "./search.js";
import {Transcript} from "./transcript.js";

const PEAKS = 1200;

function alertUser(message) {
  $("alert").textContent = message;
  $("alert").hidden = false;
}

function hashSeconds() {
  const match = /(?:^#|&)t=(\d+(?:\.\d+)?)/.exec(globalThis.location.hash);
  return match ? Number(match[1]) : null;
}

function pausedBy(by) {
  const kind = String(by || "").split(":")[0];
  return ["agent", "ivr", "api"].includes(kind) ? t(`paused.by.${kind}`) : t("paused.by.other");
}

async function showRecording(id) {
  $("recording-view").hidden = false;
  const data = await getJson(`/api/review/recordings/${id}`);
  const row = data.recording;
  document.body.dataset.recording = row.id;
  $("rec-title").textContent = t("recording.title", {when: when(row.started_wall)});
  $("rec-facts").textContent = t("recording.facts", {
    duration: duration(row.duration || 0), agent: row.agent || t("recording.none"),
    queue: row.queue || t("recording.none")});
  const paused = row.paused_spans || [];
  $("legend-paused").hidden = paused.length === 0;
  $("paused-list").replaceChildren(...paused.map((span) => h("li", {}, t("paused.span", {
    from: duration(span.start), to: duration(span.end), by: pausedBy(span.by)}))));
  const player = new Player($("audio"), $("wave"));
  const transcript = new Transcript($("transcript"), player);
  transcript.show(data.segments, paused);
  $("transcript-empty").hidden = data.segments.length > 0;
  showReviews(data.reviews);
  setUpForm(row.interaction_id, data.may_review);
  if (row.deleted_wall !== null) {
    alertUser(t("recording.deleted"));
    document.body.dataset.view = "recording";
    return;
  }
  let peaks = null;
  try {
    peaks = await getJson(`/api/review/recordings/${id}/peaks?n=${PEAKS}`);
  } catch (err) { /* the player works without its waveform */ }
  player.load(data.audio, peaks, paused, row.duration);
  const start = hashSeconds();
  if (start !== null) {
    player.seek(start);
    transcript.follow(start);
  }
  globalThis.addEventListener("hashchange", () => {
    const at = hashSeconds();
    if (at !== null) player.seek(at);
  });
  document.body.dataset.view = "recording";
}

async function showList() {
  $("list-view").hidden = false;
  const words = new URLSearchParams(globalThis.location.search).get("q");
  if (words) {
    $("search-q").value = words;
    await search(words);
  }
  await showRecent();
  document.body.dataset.view = "list";
}

async function main() {
  translatePage();
  // Back to the desk (every role may open it), or to the supervisor's page.
  showForRole({agent: $("desk-link"), supervisor: $("supervisor-link")});
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const words = $("search-q").value.trim();
    if (!words) return;
    if (document.body.dataset.view === "list") {
      history.replaceState(null, "", `/review?q=${encodeURIComponent(words)}`);
      search(words);
    } else {
      globalThis.location.assign(`/review?q=${encodeURIComponent(words)}`);
    }
  });
  const match = /^\/review\/([0-9a-f]+)$/.exec(globalThis.location.pathname);
  try {
    if (match) await showRecording(match[1]);
    else await showList();
  } catch (err) {
    document.body.dataset.view = "error";
    alertUser(t("review.load_failed", {error: err.message}));
  }
}

main();
