// The browser's side of the call: one RTCPeerConnection per answered offer, non-trickle ICE
// (the whole offer goes in one "accept" message), no STUN server (iceServers: []).

const GATHER_TIMEOUT_MS = 5000;

function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);  // send what we have
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

export class Softphone {
  /** `remote` is the <audio> element that plays the caller. */
  constructor(remote) {
    this.remote = remote;
    this.pc = null;
    this.mic = null;
    this.sender = null;
  }

  /** Open the microphone and a peer connection; the offer SDP once ICE gathering is done.
   * `send: false` opens the microphone but sends nothing yet (see `setSending`). */
  async start({send = true} = {}) {
    this.close();
    const pc = new RTCPeerConnection({iceServers: []});
    this.pc = pc;
    try {
      this.mic = await navigator.mediaDevices.getUserMedia({audio: true});
      const track = this.mic.getAudioTracks()[0];
      this.sender = pc.addTrack(track, this.mic);
      if (!send) await this.sender.replaceTrack(null);
      pc.addEventListener("track", (event) => {
        this.remote.srcObject = event.streams[0] || new MediaStream([event.track]);
        this.remote.muted = false;
        this.remote.play().catch(() => {});
      });
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      if (this.pc !== pc) throw new Error("call closed while connecting");
      return pc.localDescription.sdp;
    } catch (err) {
      if (this.pc === pc) this.close();
      throw err;
    }
  }

  /** The server's answer to our offer. */
  async answer(sdp) {
    if (this.pc === null) return;
    await this.pc.setRemoteDescription({type: "answer", sdp});
  }

  /** Cut (or restore) our microphone locally, besides the server's mute. */
  setMuted(muted) {
    if (this.mic === null) return;
    for (const track of this.mic.getAudioTracks()) track.enabled = !muted;
  }

  /** Send our microphone, or nothing at all (`on` false: no audio packet leaves the browser,
   * as while a supervisor only listens); the microphone stays open, so sending resumes at once
   * and the peer connection is not negotiated again. */
  async setSending(on) {
    if (this.sender === null || this.mic === null) return;
    const track = on ? this.mic.getAudioTracks()[0] ?? null : null;
    if (this.sender.track !== track) await this.sender.replaceTrack(track);
  }

  get active() {
    return this.pc !== null;
  }

  close() {
    if (this.pc !== null) {
      this.pc.close();
      this.pc = null;
      this.sender = null;
    }
    if (this.mic !== null) {
      for (const track of this.mic.getTracks()) track.stop();
      this.mic = null;
    }
    this.remote.srcObject = null;
  }

  /** Inbound audio figures from getStats (tests and diagnostics). */
  async inbound() {
    const out = {energy: 0, level: 0, packets: 0, state: this.pc ? this.pc.connectionState : "closed"};
    if (this.pc === null) return out;
    for (const s of (await this.pc.getStats()).values()) {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        out.energy = s.totalAudioEnergy || 0;
        out.level = s.audioLevel || 0;
        out.packets = s.packetsReceived || 0;
      }
    }
    return out;
  }

  /** Outbound audio figures from getStats: what this browser sent (tests and diagnostics). */
  async outbound() {
    const out = {packets: 0, bytes: 0, sending: this.sender !== null && this.sender.track !== null};
    if (this.pc === null) return out;
    for (const s of (await this.pc.getStats()).values()) {
      if (s.type === "outbound-rtp" && s.kind === "audio") {
        out.packets = s.packetsSent || 0;
        out.bytes = s.bytesSent || 0;
      }
    }
    return out;
  }
}
