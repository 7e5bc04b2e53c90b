// The agent desk: state control, offers that ring, the softphone, call controls, wrap-up,
// and the inbox of text conversations (chat, SMS, WhatsApp, email) with the composer.
// The server's messages are the truth: a button sends a command and the page changes when
// the server says the call or the conversation changed (web/desk/protocol.py lists them).

import {$, h, text, show, duration} from "/common/static/dom.js";
import {Ringer} from "./ring.js";
import {Softphone} from "/common/static/softphone.js";
import {LiveSocket} from "/common/static/socket.js";
import {wordReviewLink} from "/common/static/nav.js";
import {CasePanel} from "./casepanel.js";
import {Composer} from "./composer.js";
import {HandoverPanel} from "./handover.js";
import {AssistPanel} from "./assist.js";
import {ConferencePanel} from "./conference.js";
import {wireLanguage} from "./language.js";
import {Inbox, customerOf, repeatSentence} from "./inbox.js";
import {t, translatePage} from "./i18n.js";

const KEEP = 50;  // messages kept in the test hook, each way

// The words for a server value (`state.available`, `kind.call`), or the value itself.
function label(group, value) {
  const key = `${group}.${value}`;
  const said = t(key);
  return said === key ? String(value ?? "") : said;
}

const state = {
  view: "starting",
  link: "connecting",
  agent: null,
  agentState: null,
  offer: null,           // the offer ringing now
  offerDeadline: 0,      // ms (performance.now) when it expires
  accepting: null,       // offer id we answered and await the call for
  rejoining: null,       // call id whose audio this (reloaded) page is getting back
  call: null,
  coached: null,         // {call_id, mode}: a supervisor on our call (listen, whisper, barge)
  callSince: 0,
  wrapup: null,
  wrapupCaller: null,
  wrapupDeadline: 0,
  savingWrapup: false,
  directory: {agents: [], queues: []},
  dtmfSent: "",
  received: [],
  sent: [],
  last: {},
  errors: [],
  pc: null,
  ringing: false,
  conversations: {},      // id -> CONV (the agent's open text conversations)
  conversationOffers: {}, // offer id -> conversation_offer message, with `deadline` (ms)
  acceptingConversation: null,  // the offer id the agent accepted, until routing answers
  focus: null,            // what the screen shows: "call", a conversation id, or null
  readSent: {},           // conversation id -> the unread count a read was sent for
  endedCall: null,        // {case_id, call_id} of the call that ended, until its wrap-up
};

const ringer = new Ringer();
const phone = new Softphone($("remote"));
const pop = new CasePanel();
const composer = new Composer();
// "Continue by SMS / email / chat" with the summary and a chat link (web/handover_api.py).
const handover = new HandoverPanel();
// "Add to call": another agent, an agent of a queue or a number joins (a conference).
const conference = new ConferencePanel();
const inbox = new Inbox({accept: acceptConversation, decline: declineConversation,
                         select: focusOn});
const socket = new LiveSocket("/api/desk/ws", receive, linkChanged);
// Agent assist: suggested articles in the case panel; "Send link" writes into the composer.
const assist = new AssistPanel((title, url) => composer.insertLink(title, url));
pop.onAssist = (msg, interactionId) => assist.show(msg, interactionId);
pop.onReset = () => assist.clear();
pop.onTimeline = (timeline) => {
  composer.setTimeline(timeline);
  updateComposer();
};

// The test hook: the page's state, the softphone's inbound audio figures, the ring tone.
window.desk = {
  state,
  inbound: () => phone.inbound(),
  ring: () => ({playing: ringer.playing, context: ringer.context ? ringer.context.state : null}),
  send: command,
  segments: () => import("./sms_segments.js"),
};

function keep(list, item) {
  list.push(item);
  if (list.length > KEEP) list.shift();
}

function command(message) {
  keep(state.sent, message);
  if (!socket.send(message)) alertAgent(t("desk.not_connected"));
}

function alertAgent(message) {
  const node = $("alert");
  text(node, message);
  show(node, Boolean(message));
}

function linkChanged(status) {
  state.link = status;
  document.body.dataset.link = status;
  const labels = {open: t("link.open"), down: t("link.down"), replaced: t("link.replaced")};
  text($("link"), labels[status] || status);  // status: the socket's, not a word for people
  if (status !== "open") {
    ringer.stop();
    state.ringing = false;
  }
  render();
}

// --- messages from the server ---------------------------------------------------------------

const handlers = {
  hello(msg) {
    state.agent = msg.agent;
    state.agentState = msg.state;
    state.directory = msg.directory || {agents: [], queues: []};
    state.offer = null;
    state.accepting = null;
    state.conversations = {};
    for (const c of msg.conversations || []) state.conversations[c.id] = c;
    state.conversationOffers = {};
    for (const offer of msg.conversation_offers || []) addConversationOffer(offer);
    state.acceptingConversation = null;
    state.readSent = {};
    if (!(state.focus in state.conversations)) state.focus = null;
    setCall(msg.call);
    state.coached = msg.coached || null;  // a supervisor already on the call
    // Opened (or reloaded) while on a call: get its audio back on this page.
    if (state.call && !phone.active && !state.rejoining) rejoin(state.call.call_id);
    renderDirectory();
  },
  state(msg) {
    state.agentState = msg;
    if (state.savingWrapup) {
      state.savingWrapup = false;
      state.wrapup = null;
      state.endedCall = null;
    }
  },
  offer(msg) {
    state.offer = msg;
    state.offerDeadline = performance.now() + (Number(msg.timeout) || 0) * 1000;
    state.accepting = null;
    state.endedCall = null;
    alertAgent("");
    if (!state.call) state.focus = "call";  // the screen pop of the call that rings
  },
  offer_withdrawn(msg) {
    if (!state.offer || state.offer.offer_id !== msg.offer_id) return;
    if (state.accepting === msg.offer_id) phone.close();
    state.offer = null;
    state.accepting = null;
    alertAgent(t("offer.withdrawn", {reason: msg.reason || t("offer.no_reason")}));
  },
  async answer_sdp(msg) {
    if (msg.rejoin) {
      if (state.rejoining !== msg.rejoin) return;
      state.rejoining = null;
      try {
        await phone.answer(msg.sdp);
      } catch (err) {
        alertAgent(t("call.audio_failed", {error: err.message}));
      }
      return;
    }
    if (state.accepting !== msg.offer_id) return;
    try {
      await phone.answer(msg.sdp);
    } catch (err) {
      alertAgent(t("call.audio_failed", {error: err.message}));
    }
  },
  call(msg) {
    setCall(msg);
  },
  wrapup(msg) {
    setCall(null);
    state.wrapup = msg;
    state.wrapupDeadline = performance.now() + (Number(msg.seconds) || 0) * 1000;
    state.savingWrapup = false;
    // The screen pop stays for the notes (late transcript segments still arrive).
    const form = $("wrapup");
    form.reset();
    text($("wrapup-status"), "");
  },
  wrapup_saved() {
    state.savingWrapup = false;
    state.wrapup = null;
    state.endedCall = null;
  },
  conversation_offer(msg) {
    addConversationOffer(msg);
  },
  conversation_offer_withdrawn(msg) {
    if (!(msg.offer_id in state.conversationOffers)) return;
    delete state.conversationOffers[msg.offer_id];
    if (state.acceptingConversation === msg.offer_id) state.acceptingConversation = null;
    if (msg.reason !== "declined") {
      const key = `inbox.withdrawn.${msg.reason}`;
      alertAgent(t(key) === key ? t("inbox.withdrawn.other") : t(key));
    }
  },
  conversation(msg) {
    const c = msg.conversation;
    if (!c || typeof c.id !== "number") return;
    for (const [offerId, offer] of Object.entries(state.conversationOffers)) {
      if (offer.conversation && offer.conversation.id === c.id) {
        delete state.conversationOffers[offerId];
        if (state.acceptingConversation === offerId) {
          state.acceptingConversation = null;
          state.focus = c.id;  // the agent took it: open it
        }
      }
    }
    const me = state.agent ? state.agent.id : null;
    if (c.state !== "assigned" || (c.agent && me && c.agent !== me)) {  // not (or no longer) ours
      dropConversation(c.id);
      return;
    }
    state.conversations[c.id] = c;
    if (state.readSent[c.id] !== undefined && c.unread === 0) delete state.readSent[c.id];
  },
  conversation_closed(msg) {
    dropConversation(msg.id);
  },
  directory(msg) {
    state.directory = msg;
    renderDirectory();
  },
  error(msg) {
    keep(state.errors, msg);
    const where = msg.where ? ` (${msg.where})` : "";
    alertAgent(`${msg.message}${where}`);
    if (msg.command === "wrapup") state.savingWrapup = false;
    if ((msg.command === "accept" || msg.code === "bad_offer") && state.accepting) {
      phone.close();
      state.accepting = null;
    }
    if ((msg.command === "rejoin" || msg.code === "bad_offer") && state.rejoining) {
      phone.close();
      state.rejoining = null;
    }
    if (msg.command === "conversation_accept" && state.acceptingConversation) {
      delete state.conversationOffers[state.acceptingConversation];
      state.acceptingConversation = null;
    }
  },
  pong() {},
  coached(msg) {  // a supervisor listens, whispers or barged in on our call (mode null: left)
    state.coached = msg.mode ? {call_id: msg.call_id, mode: msg.mode} : null;
  },
};

async function receive(msg) {
  keep(state.received, msg);
  state.last[msg.type] = msg;
  const handler = handlers[msg.type];
  if (handler) await handler(msg);
  render();
}

// A call message may carry only what changed (phase, muted, held, consult): the caller, the
// queue and the case come from the earlier messages of the same call, or from its offer.
function callBase(callId) {
  if (state.call && state.call.call_id === callId) return state.call;
  const offer = state.offer;
  if (offer && offer.call_id === callId) {
    return {caller: offer.caller, queue: offer.queue, case_id: offer.case_id};
  }
  return {};
}

function setCall(message) {
  if (message && message.phase !== "ended") {
    const call = {...callBase(message.call_id), ...message};
    if (!state.call || state.call.call_id !== call.call_id) {
      state.callSince = performance.now();
      state.dtmfSent = "";
      state.focus = "call";
    }
    if (state.offer && state.offer.call_id === call.call_id) {
      state.offer = null;
      state.accepting = null;
    }
    state.call = call;
    phone.setMuted(Boolean(call.muted));
    return;
  }
  if (state.call) {
    state.wrapupCaller = state.call.caller;
    // The screen pop stays on the ended call's case until the wrap-up is saved.
    state.endedCall = {case_id: state.call.case_id ?? null, call_id: state.call.call_id};
  }
  state.call = null;
  state.rejoining = null;
  phone.close();  // the pop stays until the wrap-up is saved
}

// --- commands -------------------------------------------------------------------------------

async function answer() {
  const offer = state.offer;
  if (!offer || state.accepting) return;
  ringer.unlock();
  state.accepting = offer.offer_id;
  render();
  try {
    const sdp = await phone.start();
    if (state.accepting !== offer.offer_id) {  // withdrawn while we gathered
      phone.close();
      return;
    }
    command({type: "accept", offer_id: offer.offer_id, sdp});
  } catch (err) {
    state.accepting = null;
    alertAgent(t("offer.cannot_answer", {error: err.message || err}));
  }
  render();
}

async function rejoin(callId) {
  state.rejoining = callId;
  try {
    const sdp = await phone.start();
    if (!state.call || state.call.call_id !== callId) {  // the call ended meanwhile
      phone.close();
      state.rejoining = null;
      return;
    }
    phone.setMuted(Boolean(state.call.muted));
    command({type: "rejoin", call_id: callId, sdp});
  } catch (err) {
    state.rejoining = null;
    alertAgent(t("call.cannot_rejoin", {error: err.message || err}));
  }
  render();
}

function decline() {
  if (!state.offer || state.accepting) return;
  command({type: "decline", offer_id: state.offer.offer_id});
  state.offer = null;
  render();
}

// --- text conversations ---------------------------------------------------------------------

function addConversationOffer(msg) {
  state.conversationOffers[msg.offer_id] = {
    ...msg, deadline: performance.now() + (Number(msg.timeout) || 0) * 1000};
}

function dropConversation(id) {
  delete state.conversations[id];
  delete state.readSent[id];
  if (state.focus === id) state.focus = state.call || state.wrapup ? "call" : null;
}

function acceptConversation(offerId) {
  if (!(offerId in state.conversationOffers) || state.acceptingConversation) return;
  state.acceptingConversation = offerId;
  command({type: "conversation_accept", offer_id: offerId});
  render();
}

function declineConversation(offerId) {
  if (!(offerId in state.conversationOffers)) return;
  command({type: "conversation_decline", offer_id: offerId});
  delete state.conversationOffers[offerId];
  render();
}

function focusOn(target) {
  state.focus = target;
  render();
}

function closeConversation() {
  const c = focusedConversation();
  if (c) command({type: "conversation_close", id: c.id});
}

function focusedConversation() {
  return typeof state.focus === "number" ? state.conversations[state.focus] || null : null;
}

// The conversation on the screen is read: tell routing once per new unread count.
function markRead() {
  const c = focusedConversation();
  if (!c || !(c.unread > 0) || document.visibilityState === "hidden") return;
  if (state.readSent[c.id] === c.unread || state.link !== "open") return;
  state.readSent[c.id] = c.unread;
  command({type: "conversation_read", id: c.id});
}

// Who the customer can be written to, from the case's identities and open conversations.
function channelsOf(timeline, first) {
  const channels = first ? [first] : [];
  const add = (c) => { if (!channels.includes(c)) channels.push(c); };
  const kinds = new Set(((timeline && timeline.identities) || []).map((i) => i.kind));
  const chatOpen = ((timeline && timeline.interactions) || []).some(
    (i) => i.channel === "chat" && !i.ended_at);
  if (chatOpen) add("chat");
  if (kinds.has("phone")) { add("sms"); add("whatsapp"); }
  if (kinds.has("email")) add("email");
  return channels;
}

function updatePop() {
  const c = focusedConversation();
  const head = $("conversation-head");
  show(head, Boolean(c));
  if (c) {
    text($("conversation-channel"), t(`channel.${c.channel}`));
    text($("conversation-customer"), customerOf(c));
    pop.show(c.case_id ?? null, null, null, {conversationId: c.id});
    pop.live();
  } else if (state.call) {
    pop.show(state.call.case_id ?? null, state.call.call_id, null);
    pop.live();
  } else if (state.offer) {
    pop.show(state.offer.case_id ?? null, state.offer.call_id, state.offer.ivr_inputs || []);
  } else if (state.wrapup || state.endedCall) {
    const ended = state.wrapup || state.endedCall;
    pop.show(ended.case_id ?? null, ended.call_id, null);
  } else {
    pop.hide();
  }
  updateComposer();
}

function updateComposer() {
  const c = focusedConversation();
  if (c) composer.target(c.case_id, channelsOf(pop.data, c.channel));
  else if ((state.call || state.wrapup || state.endedCall) && pop.data) {
    composer.target(pop.caseId, channelsOf(pop.data));
  }
  else composer.target(null, []);
  handover.target(c ? c.case_id : ((state.call || state.wrapup || state.endedCall) && pop.data
    ? pop.caseId : null));
}

function renderInbox() {
  const offers = Object.values(state.conversationOffers);
  const conversations = Object.values(state.conversations).sort(
    (a, b) => String(a.waiting_since || "~").localeCompare(String(b.waiting_since || "~"))
      || a.id - b.id);
  inbox.render({offers, conversations, call: state.call,
                selected: focusedConversation() ? state.focus : (state.call ? "call" : null)});
  for (const button of $("inbox-offers").querySelectorAll("button")) {
    button.disabled = Boolean(state.acceptingConversation);
  }
  // Logged out (a reload, the Offline button): routing gives them back after a grace.
  const away = state.agentState && state.agentState.state === "offline";
  show($("inbox-away"), Boolean(away) && conversations.length > 0);
}

function toggle(kind) {
  if (!state.call) return;
  const on = kind === "mute" ? !state.call.muted : !state.call.held;
  command({type: kind, on});
}

function hangup() {
  if (state.call) command({type: "hangup"});
}

function dtmf(digit) {
  if (!state.call) return;
  command({type: "dtmf", digits: digit});
  state.dtmfSent = (state.dtmfSent + digit).slice(-32);
  text($("dtmf-sent"), state.dtmfSent);
}

function target(value) {
  const [kind, ...rest] = value.split(":");
  const name = rest.join(":");
  if (!name || (kind !== "agent" && kind !== "queue")) return null;
  return {[kind]: name};
}

function transfer() {
  const to = target($("transfer-to").value);
  if (state.call && to) command({type: "transfer", to});
}

function consult() {
  const to = target($("consult-to").value);
  if (state.call && to) command({type: "consult", to});
}

function setAgentState(name) {
  ringer.unlock();  // a click: the ring tone may play from now on
  const message = {type: "state", state: name};
  const reason = $("break-reason").value.trim();
  if (name === "break" && reason) message.reason = reason;
  command(message);
}

function saveWrapup(event) {
  event.preventDefault();
  if (!state.wrapup || state.savingWrapup) return;
  const disposition = $("disposition").value;
  if (!disposition) {
    alertAgent(t("wrapup.choose"));
    return;
  }
  state.savingWrapup = true;
  command({type: "wrapup", disposition, notes: $("notes").value});
  render();
}

// --- keyboard -------------------------------------------------------------------------------

function typing(target) {
  if (!(target instanceof Element)) return false;
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

const SHORTCUTS = {a: answer, d: decline, h: () => toggle("hold"), m: () => toggle("mute"),
                   x: hangup};

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (typing(event.target)) return;
  const key = event.key.toLowerCase();
  if (SHORTCUTS[key]) {
    event.preventDefault();
    SHORTCUTS[key]();
  } else if (/^[0-9*#]$/.test(event.key) && state.call) {
    event.preventDefault();
    dtmf(event.key);
  }
});

// --- rendering ------------------------------------------------------------------------------

function viewName() {
  if (state.link === "replaced") return "replaced";
  if (state.call) return "call";
  if (state.offer) return state.accepting ? "connecting" : "ringing";
  if (state.wrapup) return "wrapup";
  if (state.agent === null) return "starting";
  return "idle";
}

function render() {
  state.view = viewName();
  state.pc = phone.pc;
  document.body.dataset.view = state.view;

  const ringing = state.view === "ringing" && state.link === "open";
  if (ringing) ringer.start();
  else ringer.stop();
  state.ringing = ringer.playing;

  text($("agent-name"), state.agent ? state.agent.name || state.agent.id : "");
  const agentState = state.agentState || {};
  const badge = $("agent-state");
  badge.dataset.state = agentState.state || "";
  text(badge, agentState.state ? label("state", agentState.state) : "…");
  text($("agent-reason"), agentState.reason || "");
  for (const name of ["available", "break", "offline"]) {
    $(`state-${name}`).setAttribute("aria-pressed", String(agentState.state === name));
  }

  renderOffer();
  renderCall();
  renderWrapup();
  renderInbox();
  updatePop();
  markRead();
  show($("idle"), state.view === "idle" || state.view === "starting");
}

function renderOffer() {
  const offer = state.offer;
  show($("offer"), Boolean(offer));
  if (!offer) return;
  text($("offer-kind"), label("kind", offer.kind));
  text($("offer-caller"), offer.caller);
  text($("offer-queue"), offer.queue);
  const from = offer.from_agent;
  show($("offer-from-label"), Boolean(from));
  show($("offer-from"), Boolean(from));
  text($("offer-from"), from || "");
  const repeat = repeatSentence(offer.repeat);
  show($("offer-repeat"), Boolean(repeat));
  text($("offer-repeat"), repeat);
  text($("offer-status"), state.accepting ? t("offer.connecting") : "");
  $("answer").disabled = Boolean(state.accepting);
  $("decline").disabled = Boolean(state.accepting);
  tick();
}

function renderCall() {
  const call = state.call;
  show($("call"), Boolean(call));
  conference.setCall(call ? call.call_id : null);
  if (!call) return;
  text($("call-caller"), call.caller);
  text($("call-queue"), call.queue);
  const phase = call.reconnecting ? t("call.reconnecting", {phase: call.phase}) : call.phase;
  text($("call-phase"), phase);
  $("call-phase").dataset.phase = call.phase;
  const coached = state.coached && state.coached.call_id === call.call_id ? state.coached.mode : null;
  show($("coached"), Boolean(coached));
  text($("coached"), coached ? t(`coached.${coached}`) : "");
  $("coached").dataset.mode = coached || "";
  const mute = $("mute");
  mute.setAttribute("aria-pressed", String(Boolean(call.muted)));
  mute.firstChild.textContent = `${call.muted ? t("call.unmute") : t("call.mute")} `;
  const hold = $("hold");
  hold.setAttribute("aria-pressed", String(Boolean(call.held)));
  hold.firstChild.textContent = `${call.held ? t("call.resume") : t("call.hold")} `;
  text($("dtmf-sent"), state.dtmfSent);
  const consulting = call.consult || null;
  show($("consult-box"), Boolean(consulting));
  if (consulting) {
    text($("consult-agent"), consulting.agent);
    text($("consult-phase"), consulting.phase);
  }
  $("consult").disabled = Boolean(consulting);
  $("transfer").disabled = Boolean(consulting);
  tick();
}

function renderWrapup() {
  const wrapup = state.wrapup;
  show($("wrapup"), Boolean(wrapup) && !state.call);
  if (!wrapup) return;
  text($("wrapup-caller"), state.wrapupCaller || t("wrapup.the_caller"));
  $("wrapup-save").disabled = state.savingWrapup;
  text($("wrapup-status"), state.savingWrapup ? t("wrapup.saving") : "");
  tick();
}

function renderDirectory() {
  const me = state.agent ? state.agent.id : null;
  const agents = (state.directory.agents || []).filter((a) => a.id !== me);
  const agentOption = (a) => h("option", {value: `agent:${a.id}`},
    `${a.name || a.id} (${label("state", a.state)})`);
  $("transfer-to").replaceChildren(
    h("option", {value: ""}, t("transfer.choose")),
    h("optgroup", {label: t("transfer.agents")}, agents.map(agentOption)),
    h("optgroup", {label: t("transfer.queues")}, (state.directory.queues || []).map(
      (q) => h("option", {value: `queue:${q}`}, q))),
  );
  $("consult-to").replaceChildren(h("option", {value: ""}, t("transfer.choose_agent")), ...agents.map(agentOption));
  conference.setDirectory(agents, state.directory.queues || [], (s) => label("state", s));
}

// Countdowns and the call timer; the rest of the page changes only on messages.
function tick() {
  const now = performance.now();
  if (state.offer) {
    const left = Math.max(0, (state.offerDeadline - now) / 1000);
    text($("offer-countdown"), state.offer.timeout ? t("offer.countdown", {seconds: Math.ceil(left)}) : "");
    if (left === 0 && state.offer.timeout && ringer.playing) {
      ringer.stop();
      state.ringing = false;
    }
  }
  if (state.call) text($("call-timer"), duration((now - state.callSince) / 1000));
  inbox.tick();
  if (state.wrapup) {
    const left = Math.max(0, (state.wrapupDeadline - now) / 1000);
    text($("wrapup-countdown"), state.wrapup.seconds ? t("wrapup.countdown", {seconds: Math.ceil(left)}) : "");
  }
}

// --- wiring ---------------------------------------------------------------------------------

function wire() {
  $("answer").addEventListener("click", answer);
  $("decline").addEventListener("click", decline);
  $("mute").addEventListener("click", () => toggle("mute"));
  $("hold").addEventListener("click", () => toggle("hold"));
  $("hangup").addEventListener("click", hangup);
  $("keypad").addEventListener("click", (event) => {
    const key = event.target.closest("button[data-digit]");
    if (key) dtmf(key.dataset.digit);
  });
  $("transfer").addEventListener("click", transfer);
  $("consult").addEventListener("click", consult);
  $("consult-complete").addEventListener("click", () => command({type: "consult_complete"}));
  $("consult-cancel").addEventListener("click", () => command({type: "consult_cancel"}));
  for (const name of ["available", "break", "offline"]) {
    $(`state-${name}`).addEventListener("click", () => setAgentState(name));
  }
  $("state-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setAgentState("break");
  });
  $("wrapup").addEventListener("submit", saveWrapup);
  $("conversation-close").addEventListener("click", closeConversation);
  wireLanguage();
  document.addEventListener("visibilitychange", () => markRead());
  translatePage();
  // Agents find their own recordings there, supervisors their teams' (web/review/api.py).
  wordReviewLink($("review-link"), {agent: t("nav.review.agent"),
                                    supervisor: t("nav.review.supervisor"),
                                    admin: t("nav.review.admin")});
  setInterval(tick, 250);
  renderDirectory();
  render();
  socket.open();
}

wire();
