// A call's live transcript: the case's live socket (/api/cases/{id}/live), the segments of the
// interaction of that call, each line as a speaker and what they said.

import {h, text} from "/common/static/dom.js";
import {sentimentLevel} from "/common/static/sentiment.js";
import {t} from "./i18n.js";

export class Transcript {
  constructor(list) {
    this.list = list;
    this.ws = null;
    this.callId = null;
    this.interactionId = null;
    this.seen = new Set();
  }

  follow(caseId, callId) {
    if (this.callId === callId && this.ws !== null) return;
    this.stop();
    this.callId = callId;
    if (!caseId) {
      this.list.append(h("li", {class: "status"}, t("transcript.no_case")));
      return;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/cases/${encodeURIComponent(caseId)}/live`);
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      let msg;
      try { msg = JSON.parse(event.data); } catch (err) { return; }
      this.onEvent(msg);
    });
  }

  onEvent(msg) {
    if (msg.type === "snapshot" && msg.timeline) {
      const mine = (msg.timeline.interactions || []).find((i) => i.call_id === this.callId);
      if (mine) {
        this.interactionId = mine.id;
        for (const seg of mine.segments || []) this.add(seg);
      }
    } else if (msg.type === "interaction_started" && this.interactionId === null) {
      this.interactionId = msg.interaction_id;
    } else if (msg.type === "segment" && msg.segment) {
      const seg = msg.segment;
      if (this.interactionId === null) this.interactionId = seg.interaction_id;
      if (seg.interaction_id === this.interactionId) this.add(seg);
    }
  }

  add(seg) {
    const key = seg.id ?? `${seg.speaker}:${seg.start}:${seg.text}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const who = t(`speaker.${seg.speaker}`);
    // Each line carries its sentiment's level (a coloured edge, common.css).
    const level = typeof seg.sentiment === "number" ? sentimentLevel(seg.sentiment) : "";
    const item = h("li", {class: "segment", dataset: {speaker: seg.speaker, level},
                          title: level ? t(`sentiment.${level}`) : null},
      h("span", {class: "speaker"}, who), " ");
    const said = h("span", {class: "said"});
    text(said, seg.text);
    item.append(said);
    this.list.append(item);
  }

  stop() {
    if (this.ws !== null) this.ws.close();
    this.ws = null;
    this.callId = null;
    this.interactionId = null;
    this.seen.clear();
    this.list.replaceChildren();
  }
}
