// The screen pop: the customer's case timeline across channels, the IVR inputs of this
// call, and the live transcript from the case's WebSocket (/api/cases/{id}/live). A case is
// always named by its public id (a random string from the offer or the call), never a number.

import {$, h, text, show, clock} from "./dom.js";

const SPEAKERS = {caller: "Caller", agent: "Agent"};

function speakerLabel(speaker) {
  return SPEAKERS[speaker] || String(speaker);
}

function ivrValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export class CasePanel {
  constructor() {
    this.root = $("pop");
    this.ivr = $("ivr-inputs");
    this.transcript = $("transcript");
    this.timeline = $("timeline");
    this.title = $("case-title");
    this.liveStatus = $("live-status");
    this.caseId = null;
    this.callId = null;
    this.interactionId = null;
    this.seen = new Set();
    this.ws = null;
    this.generation = 0;
  }

  /** Show the pop for `caseId` (null: no case known) and this call's IVR inputs. */
  show(caseId, callId, ivrInputs) {
    if (caseId !== this.caseId || callId !== this.callId) {
      this.reset();
      this.caseId = caseId;
      this.callId = callId;
      if (caseId !== null && caseId !== undefined) this.load();
      else text(this.title, "(none yet)");
    }
    if (ivrInputs) this.renderIvr(ivrInputs);
    show(this.root, true);
  }

  /** Follow the case live (the call was answered). */
  live() {
    if (this.ws !== null || this.caseId === null || this.caseId === undefined) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const id = encodeURIComponent(String(this.caseId));
    const generation = this.generation;
    const ws = new WebSocket(`${scheme}://${location.host}/api/cases/${id}/live`);
    this.ws = ws;
    text(this.liveStatus, "connecting…");
    ws.addEventListener("open", () => text(this.liveStatus, "live"));
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
    this.interactionId = null;
    this.seen.clear();
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
    } else if (msg.type === "interaction_started" && this.interactionId === null) {
      this.interactionId = msg.interaction_id;
    } else if (msg.type === "note" && msg.note) {
      const notes = this.timeline.querySelector(".notes");
      if (notes) notes.append(this.noteItem(msg.note));
    } else if (msg.type === "gap") {
      this.load();  // events were dropped: the timeline is the truth
    }
  }

  renderIvr(inputs) {
    this.ivr.replaceChildren(...inputs.map((input) => h("li", {},
      h("span", {class: "kind"}, input.kind), " ",
      input.step ? h("span", {class: "step"}, input.step) : null, " ",
      h("strong", {}, ivrValue(input.value)))));
    if (inputs.length === 0) this.ivr.append(h("li", {class: "status"}, "none"));
  }

  renderTimeline(timeline) {
    const customer = timeline.customer || {};
    const caseInfo = timeline.case || {};
    text(this.title, `#${caseInfo.id} ${caseInfo.subject || ""} (${caseInfo.status || ""})`);
    const identities = (timeline.identities || []).map((i) => `${i.kind}: ${i.value}`).join(", ");
    const interactions = [...(timeline.interactions || [])].reverse();  // newest first
    const mine = interactions.find((i) => this.callId && i.call_id === this.callId);
    if (mine) this.interactionId = mine.id;
    else if (this.interactionId === null) {
      const open = interactions.find((i) => !i.ended_at);
      if (open) this.interactionId = open.id;
    }
    const current = interactions.find((i) => i.id === this.interactionId);
    if (current) for (const seg of current.segments || []) this.addSegment(seg);
    this.timeline.replaceChildren(
      h("p", {class: "customer"},
        h("strong", {}, customer.display_name || "Unknown customer"),
        identities ? ` · ${identities}` : ""),
      h("ol", {class: "interactions"}, interactions.map((i) => this.interactionItem(i))),
      h("h3", {}, "Notes"),
      h("ul", {class: "notes"}, (timeline.notes || []).map((n) => this.noteItem(n))),
    );
  }

  interactionItem(i) {
    const facts = [i.direction, i.queue && `queue ${i.queue}`, i.agent && `agent ${i.agent}`,
                   i.outcome].filter(Boolean).join(" · ");
    const segments = i.segments || [];
    const events = i.ivr_events || [];
    return h("li", {class: "interaction", dataset: {channel: i.channel || ""}},
      h("p", {}, h("span", {class: "channel"}, i.channel || "?"), " ",
        h("time", {datetime: i.started_at || ""}, clock(i.started_at)), " ", facts,
        i.id === this.interactionId ? h("span", {class: "badge"}, "this call") : null),
      i.summary ? h("p", {class: "summary"}, i.summary) : null,
      events.length ? h("ul", {class: "ivr"}, events.map((e) => h("li", {},
        h("span", {class: "kind"}, e.kind), " ", e.step || "", " ",
        h("strong", {}, ivrValue(e.value))))) : null,
      segments.length ? h("details", {},
        h("summary", {}, `Transcript (${segments.length})`),
        h("ol", {class: "transcript"}, segments.map((s) => this.segmentItem(s)))) : null,
    );
  }

  noteItem(note) {
    return h("li", {}, h("span", {class: "author"}, note.author), " ",
      h("time", {datetime: note.created_at || ""}, clock(note.created_at)), ": ", note.text);
  }

  segmentItem(seg) {
    return h("li", {class: "segment", dataset: {speaker: seg.speaker}},
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
