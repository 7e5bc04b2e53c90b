// Listening to a call from this browser (web/monitor_api.py): one WebRTC leg joins the call
// in the mode chosen (listen: hear both; whisper: the agent alone hears you; barge: all three
// talk), the mode switches during the call, Leave ends it. The peer connection is the desk's
// softphone (non-trickle offer, no STUN server, the remote audio in <audio id="remote">).
// Listening, the browser sends no audio at all (the mixer would drop it, but the supervisor's
// room is nobody's business): the microphone is open, its track off the sender until a
// whisper or a barge puts it back.

import {Softphone} from "/common/static/softphone.js";
import {request, reason} from "/common/static/api.js";

export const MODES = ["listen", "whisper", "barge"];

async function code(resp) {
  try {
    return (await resp.clone().json()).error.code;
  } catch (err) {
    return null;
  }
}

export class Monitor {
  constructor(remote, onChange) {
    this.phone = new Softphone(remote);
    this.onChange = onChange;
    this.callId = null;
    this.mode = null;
    this.busy = false;
    this.error = null;
  }

  changed() {
    this.onChange(this);
  }

  async run(work) {
    this.busy = true;
    this.error = null;
    this.changed();
    try {
      await work();
    } catch (err) {
      this.error = err.message || String(err);
    } finally {
      this.busy = false;
      this.changed();
    }
  }

  /** Listen, whisper or barge on `callId`: join it, or switch mode if already on it. */
  choose(callId, mode) {
    return this.run(async () => {
      if (this.callId !== null && this.callId !== callId) await this.leaveNow();
      if (this.callId === callId) {
        // Silent before the server hears of listening; speaking only once it knows the mode.
        if (mode === "listen") await this.phone.setSending(false);
        const resp = await request("PATCH", this.path(callId), {mode});
        if (!resp.ok) {
          await this.phone.setSending(this.mode !== "listen");
          throw new Error(await reason(resp));
        }
        this.mode = mode;
        await this.phone.setSending(mode !== "listen");
        return;
      }
      const sdp = await this.phone.start({send: mode !== "listen"});
      let resp = await request("POST", this.path(callId), {mode, sdp});
      if (resp.status === 409 && await code(resp) === "already_monitoring") {
        // Our leg from before a reload is still on the call: take it off, join again.
        await request("DELETE", this.path(callId));
        resp = await request("POST", this.path(callId), {mode, sdp});
      }
      if (!resp.ok) {
        this.phone.close();
        throw new Error(await reason(resp));
      }
      await this.phone.answer((await resp.json()).sdp);
      this.callId = callId;
      this.mode = mode;
    });
  }

  leave() {
    return this.run(() => this.leaveNow());
  }

  async leaveNow() {
    const callId = this.callId;
    this.callId = null;
    this.mode = null;
    // Tell the server first: closing the connection first would end the leg under it.
    try {
      if (callId !== null) await request("DELETE", this.path(callId));
    } finally {
      this.phone.close();
    }
  }

  /** The call ended under us: nothing to tell the server. */
  ended() {
    this.callId = null;
    this.mode = null;
    this.phone.close();
    this.changed();
  }

  path(callId) {
    return `/api/calls/${encodeURIComponent(callId)}/monitor`;
  }
}
