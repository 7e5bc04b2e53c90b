// QA reviews of the recording's interaction: the list for everyone who may see the call,
// the form (score 0-100 and notes) for supervisors and admins.

import {answer, getJson, postJson} from "/common/static/api.js";
import {$, h, when} from "/common/static/dom.js";
import {t} from "./i18n.js";

export function showReviews(reviews) {
  $("qa-empty").hidden = reviews.length > 0;
  $("qa-list").replaceChildren(...reviews.map((review) => h("li", {class: "qa-item"},
    h("div", {}, t("qa.item", {
      score: review.score === null ? t("qa.no_score") : t("qa.score_value", {score: review.score}),
      reviewer: review.reviewer, when: when(review.created_at)})),
    review.notes ? h("div", {class: "qa-notes"}, review.notes) : null)));
}

export function setUpForm(interactionId, mayReview) {
  const form = $("qa-form");
  form.hidden = !mayReview;
  if (!mayReview) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const raw = $("qa-score").value.trim();
    const status = $("qa-status");
    try {
      await answer(await postJson(`/api/review/interactions/${interactionId}/qa`, {
        score: raw === "" ? null : Number(raw), notes: $("qa-notes").value}));
      status.textContent = t("qa.saved");
      form.reset();
      const body = await getJson(`/api/review/interactions/${interactionId}/qa`);
      showReviews(body.reviews);
    } catch (err) {
      status.textContent = t("qa.failed", {error: err.message});
    }
  });
}
