// The supervisor's page: the live wallboard (a snapshot, then deltas, web/supervisor/feed.py),
// the calls in progress with listen / whisper / barge and the live transcript, the history.

import {$, h, show, text} from "/common/static/dom.js";
import {Board} from "./board.js";
import {History} from "./history.js";
import {locale, t, translatePage} from "./i18n.js";
import {MODES, Monitor} from "./monitor.js";
import {wordReviewLink} from "/common/static/nav.js";
import {trendMarks} from "/common/static/sentiment.js";
import {LiveSocket} from "/common/static/socket.js";
import {Transcript} from "./transcript.js";

translatePage();
// A supervisor reviews their teams' recordings there, an admin all (web/review/api.py).
wordReviewLink($("review-link"), {supervisor: t("nav.review.supervisor"),
                                  admin: t("nav.review.admin")});

const board = new Board();
let skew = 0;  // ms: the server's wall clock minus ours (the board's times are the server's)
const received = {snapshot: 0, delta: 0, log: []};  // log: the last 50 messages (diagnostics)
const transcript = new Transcript($("transcript"));
const monitor = new Monitor($("remote"), renderMonitor);
const percent = new Intl.NumberFormat(locale(), {style: "percent", maximumFractionDigits: 0});

const socket = new LiveSocket("/api/supervisor/ws", (msg) => {
  if (msg.type === "snapshot" || msg.type === "delta") {
    received[msg.type] += 1;
    if (msg.type === "snapshot" && typeof msg.now === "number") skew = msg.now * 1000 - Date.now();
    received.log = [...received.log.slice(-49), msg];
    if (!board.take(msg)) {
      socket.restart();  // a delta went missing: start again from a snapshot
      return;
    }
    render();
  }
}, (status) => {
  document.body.dataset.link = status;
  text($("link"), t(`link.${status}`));
});

/** "m:ss" (or "h:mm:ss") since the wall time `since` (seconds). */
function since(wall) {
  if (wall === undefined || wall === null) return "";
  const s = Math.max(0, Math.floor((Date.now() + skew) / 1000 - wall));
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(hh ? 2 : 1, "0");
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

function share(value) {
  return value === undefined || value === null ? t("figure.none") : percent.format(value);
}

function seconds(value) {
  return value === undefined || value === null ? t("figure.none")
    : t("unit.seconds", {n: Math.round(value)});
}

function stateLabel(row) {
  if (row.state === "break" && row.reason) return t("state.break_because", {reason: row.reason});
  return t(`state.${row.state}`);
}

function sorted(section) {
  return Object.entries(section).sort(([a], [b]) => a.localeCompare(b));
}

function renderQueues() {
  $("queues-body").replaceChildren(...sorted(board.data.queues).map(([name, q]) =>
    h("tr", {dataset: {queue: name}},
      h("th", {scope: "row"}, name),
      h("td", {class: "num waiting"}, String(q.waiting ?? 0)),
      h("td", {class: "num longest", dataset: {since: q.oldest ?? ""}}, since(q.oldest)),
      h("td", {class: "num"}, share(q.service_level)),
      h("td", {class: "num"}, String(q.answered ?? 0)),
      h("td", {class: "num abandoned"}, String(q.abandoned ?? 0)),
      h("td", {class: "num"}, seconds(q.asa)),
      h("td", {}, Object.entries(q.agents || {}).map(
        ([state, n]) => h("span", {class: "badge", dataset: {state}}, `${t(`state.${state}`)} ${n}`))))));
}

function contact(row) {
  const call = row.call ? board.data.calls[row.call] : null;
  const parts = [];
  if (call) {
    parts.push(t("agents.on_call", {caller: call.caller || t("calls.unknown_caller"),
                                    queue: call.queue || ""}));
  }
  if (row.conversations) parts.push(t("agents.conversations", {count: row.conversations}));
  return parts.length ? parts.join(" · ") : t("agents.nothing");
}

function renderAgents() {
  $("agents-body").replaceChildren(...sorted(board.data.agents).map(([id, a]) =>
    h("tr", {dataset: {agent: id}},
      h("th", {scope: "row"}, a.name || id),
      h("td", {}, h("span", {class: "badge state", dataset: {state: a.state}}, stateLabel(a))),
      h("td", {class: "num", dataset: {since: a.since ?? ""}}, since(a.since)),
      h("td", {class: "contact"}, contact(a)))));
}

function renderChannels() {
  const rows = sorted(board.data.channels);
  show($("channels-empty"), rows.length === 0);
  $("channels-body").replaceChildren(...rows.map(([key, c]) =>
    h("tr", {dataset: {channel: key}},
      h("th", {scope: "row"}, c.queue),
      h("td", {}, t(`channel.${c.channel}`)),
      h("td", {class: "num"}, String(c.waiting ?? 0)),
      h("td", {class: "num", dataset: {since: c.oldest ?? ""}}, since(c.oldest)),
      h("td", {class: "num"}, seconds(c.asa)),
      h("td", {class: "num"}, share(c.service_level)))));
}

function agentName(id) {
  const a = board.data.agents[id];
  return a ? a.name || id : id;
}

function speakerLabel(speaker) {
  const label = t(`speaker.${speaker}`);
  return label === `speaker.${speaker}` ? String(speaker) : label;
}

// A call's sentiment so far, pushed with the board (centralita/wallboard_sentiment.py): its
// label, one mark per segment (the latest ones) coloured by level, its topics.
function sentimentOf(sentiment) {
  if (!sentiment) return null;
  const trend = sentiment.trend || [];
  const topics = (sentiment.topics || []).map((topic) => t(`topic.${topic}`)).join(", ");
  return h("span", {class: "sentiment", dataset: {level: sentiment.label}},
    t("calls.sentiment", {label: t(`sentiment.${sentiment.label}`)}), " ",
    trendMarks(trend, t("calls.trend", {count: trend.length}), (p, level) =>
      t("calls.point", {speaker: speakerLabel(p.speaker), second: Math.round(p.start),
                        label: t(`sentiment.${level}`)})),
    topics ? ` · ${t("calls.topics", {topics})}` : null);
}

function renderCalls() {
  const calls = sorted(board.data.calls);
  show($("calls-empty"), calls.length === 0);
  $("calls").replaceChildren(...calls.map(([id, c]) => {
    const line = t("calls.line", {
      caller: c.caller || t("calls.unknown_caller"), agent: agentName(c.agent),
      queue: c.queue || "", phase: t(`phase.${c.phase}`), time: since(c.since)});
    const buttons = MODES.map((mode) => h("button", {
      type: "button", class: "mode", dataset: {mode, call: id},
      "aria-pressed": String(monitor.callId === id && monitor.mode === mode),
    }, t(`monitor.${mode}`)));
    const watchers = Object.entries(c.supervisors || {}).map(([who, mode]) =>
      h("span", {class: "badge watcher", dataset: {mode, supervisor: who}},
        t("calls.supervisor", {who, mode: t(`monitor.${mode}`)})));
    return h("li", {dataset: {call: id}}, h("span", {class: "line"}, line), " ",
             sentimentOf(c.sentiment), " ", watchers, " ", buttons);
  }));
  if (monitor.callId !== null && !(monitor.callId in board.data.calls)) {
    monitor.ended();
    text($("monitor-status"), t("monitor.ended"));
  }
}

function renderMonitor() {
  const on = monitor.callId !== null;
  show($("monitor"), on || monitor.busy || monitor.error !== null
       || $("monitor-status").textContent !== "");
  let status = "";
  if (monitor.busy) status = t("monitor.connecting");
  else if (monitor.error) status = t("monitor.failed", {error: monitor.error});
  else if (on) status = t(`monitor.now.${monitor.mode}`);
  if (status) text($("monitor-status"), status);
  for (const mode of MODES) {
    const button = $(`mode-${mode}`);
    button.setAttribute("aria-pressed", String(on && monitor.mode === mode));
    button.disabled = !on || monitor.busy;
  }
  $("monitor-leave").disabled = !on || monitor.busy;
  const call = on ? board.data.calls[monitor.callId] : null;
  text($("monitor-call"), call ? call.caller || t("calls.unknown_caller") : "");
  if (on && call) transcript.follow(call.case_id, monitor.callId);
  else if (!on && !monitor.busy) transcript.stop();
  document.body.dataset.monitor = on ? monitor.mode : "";
  renderCalls();
}

function render() {
  renderQueues();
  renderAgents();
  renderChannels();
  renderMonitor();  // and the calls
}

function tick() {
  for (const node of document.querySelectorAll("[data-since]")) {
    if (node.dataset.since) text(node, since(Number(node.dataset.since)));
  }
}

$("calls").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-mode]");
  if (button) monitor.choose(button.dataset.call, button.dataset.mode);
});
for (const mode of MODES) {
  $(`mode-${mode}`).addEventListener("click", () => {
    if (monitor.callId !== null) monitor.choose(monitor.callId, mode);
  });
}
$("monitor-leave").addEventListener("click", () => {
  text($("monitor-status"), "");
  monitor.leave();
});

const history = new History();

// For tests and diagnostics: what the page holds and what its audio brings in.
window.supervisor = {
  board: () => board.data,
  received: () => ({snapshot: received.snapshot, delta: received.delta, seq: board.seq,
                    log: received.log}),
  monitor: () => ({call: monitor.callId, mode: monitor.mode, busy: monitor.busy,
                   error: monitor.error}),
  inbound: () => monitor.phone.inbound(),
  outbound: () => monitor.phone.outbound(),
  history,
};

setInterval(tick, 1000);
socket.open();
renderMonitor();
