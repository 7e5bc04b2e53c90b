// A call's sentiment as the pages show it (cases/insights.py scores each transcript segment
// from -1 to 1): a level per score, and the trend of a call drawn as one mark per segment in
// time order, coloured by its level (common.css).

import {h} from "./dom.js";

const NEUTRAL = 0.05;  // as cases/insights.py: within ±0.05 of zero is neutral

/** "positive", "negative" or "neutral". */
export function sentimentLevel(score) {
  if (score >= NEUTRAL) return "positive";
  if (score <= -NEUTRAL) return "negative";
  return "neutral";
}

/** The trend of `points` ({speaker, start, sentiment}): `label` says the whole in words (for
 * screen readers), `say(point, level)` each mark (its tooltip). */
export function trendMarks(points, label, say) {
  return h("span", {class: "trend", role: "img", "aria-label": label},
    points.map((point) => {
      const level = sentimentLevel(point.sentiment);
      return h("span", {class: "point", dataset: {level, speaker: point.speaker},
                        title: say(point, level)});
    }));
}
