// The transcript beside the player: one line per segment (time, who, what), the line being
// played highlighted as the audio plays, a click (or Enter) on a line seeks to its start.

import {duration, h} from "/common/static/dom.js";
import {t} from "./i18n.js";

export class Transcript {
  constructor(list, player) {
    this.list = list;
    this.player = player;
    this.lines = [];
    this.current = null;
    player.audio.addEventListener("timeupdate", () => this.follow(player.audio.currentTime));
    player.audio.addEventListener("seeked", () => this.follow(player.audio.currentTime));
  }

  show(segments, paused) {
    const inPause = (s) => paused.some((p) => s.start < p.end && p.start < s.end);
    this.lines = segments.map((segment) => {
      const node = h("li", {
        tabindex: "0", role: "button", class: inPause(segment) ? "in-pause" : null,
        dataset: {start: String(segment.start), end: String(segment.end),
                  speaker: segment.speaker, segment: String(segment.id)},
      }, h("span", {class: "time"}, duration(segment.start)),
         h("span", {class: "who"}, t(`speaker.${segment.speaker}`)),
         h("span", {class: "said", lang: segment.language || null}, segment.text));
      const seek = () => {
        this.player.seek(segment.start);
        this.follow(segment.start);
        if (this.player.audio.paused) this.player.audio.play().catch(() => {});
      };
      node.addEventListener("click", seek);
      node.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          seek();
        }
      });
      return {segment, node};
    });
    this.list.replaceChildren(...this.lines.map((line) => line.node));
  }

  /** Highlight the line being said at `seconds` (the last one started before it). */
  follow(seconds) {
    let found = null;
    for (const line of this.lines) {
      if (line.segment.start <= seconds + 0.05) found = line;
      else break;
    }
    if (found && seconds > found.segment.end + 2) found = null;  // a silence after it
    if (found === this.current) return;
    this.current?.node.classList.remove("current");
    this.current = found;
    if (found) {
      found.node.classList.add("current");
      found.node.setAttribute("aria-current", "true");
      found.node.scrollIntoView({block: "nearest"});
    }
    for (const line of this.lines) if (line !== found) line.node.removeAttribute("aria-current");
  }
}
