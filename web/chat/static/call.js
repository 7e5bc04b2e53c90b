// "Call us": a call from the visitor's browser into the contact center, on the chat's case.
// The media side is the agent desk's own softphone (served here as ./softphone.js): one
// RTCPeerConnection, the whole offer (non-trickle ICE) in one `call` frame on the chat
// socket, the server's answer back in a `call` frame. The call bar says in words where the
// call is; the remote audio plays in an <audio> element of the widget.

import { Softphone } from "./softphone.js";

export class CallBar {
  /**
   * `view`: the ChatView (the bar goes into its panel); `strings`: the catalogue;
   * `send(frame)`: sends a frame on the chat socket.
   */
  constructor(view, strings, send) {
    this.t = strings;
    this.send = send;
    this.phase = "idle"; // idle | mic | calling | connecting | connected
    this.withAgent = false; // an agent took the call (a `call` frame said so)
    const make = (tag, props, text) => {
      const node = document.createElement(tag);
      for (const [key, value] of Object.entries(props)) node.setAttribute(key, value);
      if (text) node.textContent = text;
      return node;
    };
    this.callButton = make("button", { class: "call", type: "button" }, strings.call);
    this.hangupButton = make("button", { class: "hangup", type: "button", hidden: "" },
      strings.hangUp);
    this.status = make("p", { class: "call-state", role: "status", hidden: "" });
    this.audio = make("audio", { class: "remote", autoplay: "" });
    // The keypad, for the menus of the line (its keys go on the chat socket).
    this.keypad = make("div", { class: "keypad", role: "group", "aria-label": strings.keypad,
      hidden: "" });
    for (const key of "123456789*0#") {
      const button = make("button", { type: "button", "data-key": key }, key);
      button.addEventListener("click", () => this.press(key));
      this.keypad.append(button);
    }
    this.bar = make("div", { class: "callbar" });
    this.bar.append(this.callButton, this.hangupButton, this.status, this.keypad, this.audio);
    view.panel.insertBefore(this.bar, view.state);
    this.phone = new Softphone(this.audio);
    this.callButton.addEventListener("click", () => this.start());
    this.hangupButton.addEventListener("click", () => this.hangUp());
  }

  say(words) {
    this.status.textContent = words || "";
    this.status.hidden = !words;
  }

  setPhase(phase, words) {
    this.phase = phase;
    const busy = phase !== "idle";
    this.callButton.hidden = busy;
    this.hangupButton.hidden = !busy;
    this.keypad.hidden = phase !== "connected";
    this.say(words);
  }

  press(key) {
    if (this.phase === "connected") this.send({ type: "dtmf", digits: key });
  }

  async start() {
    if (this.phase !== "idle") return;
    this.withAgent = false;
    this.setPhase("mic", this.t.callStates.mic);
    let sdp;
    try {
      sdp = await this.phone.start();
    } catch (err) {
      const denied = err && (err.name === "NotAllowedError" || err.name === "NotFoundError");
      this.setPhase("idle", denied ? this.t.callStates.noMic : this.t.callStates.failed);
      return;
    }
    if (this.phase !== "mic") return; // hung up while the microphone was being allowed
    const pc = this.phone.pc;
    pc.addEventListener("connectionstatechange", () => {
      if (this.phone.pc !== pc) return;
      const state = pc.connectionState;
      if (state === "connected") {
        this.setPhase("connected",
          this.withAgent ? this.t.callStates.agent : this.t.callStates.connected);
      }
      else if (state === "failed" || state === "closed") this.ended(this.t.callStates.failed);
    });
    this.setPhase("calling", this.t.callStates.calling);
    this.send({ type: "call", sdp });
  }

  /** A `call` frame from the server. */
  async update(frame) {
    if (frame.state === "answered" && this.phase === "calling") {
      this.setPhase("connecting", this.t.callStates.connecting);
      try {
        await this.phone.answer(frame.sdp);
      } catch {
        this.send({ type: "hangup" });
        this.ended(this.t.callStates.failed);
      }
    } else if (frame.state === "refused") {
      const words = this.t.callErrors[frame.code] ?? this.t.callErrors.default;
      this.phone.close();
      this.setPhase("idle", typeof words === "function"
        ? words(Math.ceil(frame.retry_after ?? 1)) : words);
    } else if (frame.state === "agent" && this.phase !== "idle") {
      this.withAgent = true;
      if (this.phase === "connected") this.say(this.t.callStates.agent);
    } else if (frame.state === "ended") {
      this.ended(this.t.callStates.ended);
    }
  }

  hangUp() {
    if (this.phase === "idle") return;
    if (this.phase !== "mic") this.send({ type: "hangup" });
    this.ended(this.t.callStates.ended);
  }

  /** The call is over, whoever ended it (the socket going offline too). */
  ended(words) {
    if (this.phase === "idle") return;
    this.phone.close();
    this.setPhase("idle", words);
  }

  /** The call's figures (tests and diagnostics): phase, inbound audio energy and packets. */
  async stats() {
    return { phase: this.phase, ...(await this.phone.inbound()) };
  }
}
