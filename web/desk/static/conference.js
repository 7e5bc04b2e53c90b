// "Add to call": the agent brings another agent, an available agent of a queue, or a phone
// number into the call they are on (a conference: POST /api/calls/{id}/parties). Everyone then
// hears everyone; the server rings the party and answers once they joined, or says why not,
// and the page shows that in words.

import {$, h, text} from "/common/static/dom.js";
import {postJson} from "/common/static/api.js";
import {t} from "./i18n.js";

export class ConferencePanel {
  constructor() {
    this.callId = null;
    this.busy = false;
    $("party-add").addEventListener("click", () => this.add());
    $("party-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.add();
    });
  }

  /** The call now (its id), or null: a new call starts with no status line. */
  setCall(callId) {
    if (callId !== this.callId) {
      this.callId = callId;
      text($("party-status"), "");
    }
    $("party-add").disabled = !callId || this.busy;
  }

  /** Who can be added: the other agents (with their state) and the queues. */
  setDirectory(agents, queues, stateLabel) {
    $("party-to").replaceChildren(
      h("option", {value: ""}, t("party.choose_who")),
      h("optgroup", {label: t("transfer.agents")}, agents.map((a) => h(
        "option", {value: `agent:${a.id}`}, `${a.name || a.id} (${stateLabel(a.state)})`))),
      h("optgroup", {label: t("transfer.queues")}, queues.map(
        (q) => h("option", {value: `queue:${q}`}, q))),
    );
  }

  body() {
    const number = $("party-number").value.trim();
    if (number) return {number};
    const [kind, ...rest] = $("party-to").value.split(":");
    const name = rest.join(":");
    return name && (kind === "agent" || kind === "queue") ? {[kind]: name} : null;
  }

  async add() {
    const status = $("party-status");
    const body = this.body();
    if (!this.callId || this.busy) return;
    if (!body) {
      text(status, t("party.choose"));
      return;
    }
    this.busy = true;
    $("party-add").disabled = true;
    text(status, t("party.ringing"));
    try {
      const resp = await postJson(`/api/calls/${encodeURIComponent(this.callId)}/parties`, body);
      if (resp.ok) {
        text(status, t("party.joined"));
        $("party-number").value = "";
        $("party-to").value = "";
      } else {
        let reason = "";
        try {
          reason = (await resp.json()).error.message;
        } catch (err) { /* no JSON: the status is all there is */ }
        text(status, t("party.refused", {reason: reason || String(resp.status)}));
      }
    } catch (err) {
      text(status, t("party.failed"));
    } finally {
      this.busy = false;
      $("party-add").disabled = !this.callId;
    }
  }
}
