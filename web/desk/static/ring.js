// The ring tone of an offer, made with WebAudio (no audio file to fetch): 440 + 480 Hz,
// two seconds on, four off, as a North American ring-back.

const ON_S = 2.0;
const PERIOD_S = 6.0;

export class Ringer {
  constructor() {
    this.context = null;
    this.gain = null;
    this.oscillators = [];
    this.timer = null;
    this.playing = false;
  }

  /** Create or resume the AudioContext; call it from a click to satisfy autoplay rules. */
  unlock() {
    if (this.context === null) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return;
      this.context = new Context();
    }
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
  }

  start() {
    if (this.playing) return;
    this.unlock();
    if (this.context === null) return;
    this.playing = true;
    const ctx = this.context;
    this.gain = ctx.createGain();
    this.gain.gain.value = 0;
    this.gain.connect(ctx.destination);
    this.oscillators = [440, 480].map((hz) => {
      const osc = ctx.createOscillator();
      osc.frequency.value = hz;
      osc.connect(this.gain);
      osc.start();
      return osc;
    });
    const cadence = () => {
      const now = ctx.currentTime;
      this.gain.gain.setValueAtTime(0.08, now);
      this.gain.gain.setValueAtTime(0, now + ON_S);
    };
    cadence();
    this.timer = setInterval(cadence, PERIOD_S * 1000);
  }

  stop() {
    if (!this.playing) return;
    this.playing = false;
    clearInterval(this.timer);
    this.timer = null;
    for (const osc of this.oscillators) osc.stop();
    this.oscillators = [];
    this.gain.disconnect();
    this.gain = null;
  }
}
