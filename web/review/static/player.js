// The player: the recording's <audio>, its waveform on a <canvas> (caller above, agent
// below, from the server's peaks), the paused spans shaded over it, and the play position.
// A click on the waveform seeks there. `seek(seconds)` is what the transcript calls.

const COLORS = {caller: "#2f6fd6", agent: "#1d9a6c", paused: "rgba(230, 140, 20, .35)",
                cursor: "#c0262d", axis: "#dde1e7"};

export class Player {
  constructor(audio, canvas) {
    this.audio = audio;
    this.canvas = canvas;
    this.peaks = null;
    this.duration = 0;
    this.paused = [];
    canvas.addEventListener("click", (event) => {
      const box = canvas.getBoundingClientRect();
      if (this.length() > 0 && box.width > 0) {
        this.seek(((event.clientX - box.left) / box.width) * this.length());
      }
    });
    for (const name of ["timeupdate", "seeked", "loadedmetadata", "durationchange"]) {
      audio.addEventListener(name, () => this.draw());
    }
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** Seconds the waveform spans: the peaks' duration, else the audio's. */
  length() {
    if (this.duration > 0) return this.duration;
    return Number.isFinite(this.audio.duration) ? this.audio.duration : 0;
  }

  load(src, peaks, paused, duration) {
    this.peaks = peaks;
    this.paused = paused || [];
    this.duration = peaks?.duration || duration || 0;
    this.audio.src = src;
    this.draw();
  }

  /** Play from `seconds` (once the audio can seek, if it cannot yet). */
  seek(seconds) {
    const target = Math.max(0, seconds);
    const go = () => {
      this.audio.currentTime = target;
      this.draw();
    };
    if (this.audio.readyState >= HTMLMediaElement.HAVE_METADATA) go();
    else this.audio.addEventListener("loadedmetadata", go, {once: true});
  }

  draw() {
    const canvas = this.canvas;
    const width = Math.max(1, Math.round(canvas.clientWidth * (globalThis.devicePixelRatio || 1)));
    const height = canvas.height;
    if (canvas.width !== width) canvas.width = width;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, width, height);
    const total = this.length();
    const x = (seconds) => (total > 0 ? (seconds / total) * width : 0);
    g.fillStyle = COLORS.paused;
    for (const span of this.paused) g.fillRect(x(span.start), 0, Math.max(2, x(span.end) - x(span.start)), height);
    const half = height / 2;
    g.fillStyle = COLORS.axis;
    g.fillRect(0, half, width, 1);
    const channels = this.peaks?.channels || {};
    for (const [name, top] of [["caller", 0], ["agent", half]]) {
      const values = channels[name];
      if (!values || values.length === 0) continue;
      g.fillStyle = COLORS[name];
      const step = width / values.length;
      const middle = top + half / 2;
      values.forEach((value, i) => {
        const bar = Math.max(1, value * (half / 2 - 2));
        g.fillRect(i * step, middle - bar, Math.max(1, step - 0.5), bar * 2);
      });
    }
    if (total > 0) {
      g.fillStyle = COLORS.cursor;
      g.fillRect(Math.min(width - 2, x(this.audio.currentTime)), 0, 2, height);
    }
  }
}
