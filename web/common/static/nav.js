// The link to the review page (/review), worded for who follows it: an agent finds their own
// recordings there, a supervisor their teams', an admin all (the review API holds each to
// that: web/review/api.py), so the words say which.

import {me} from "./api.js";

/** Word `link` (an <a href="/review">) for the signed-in user's role: `words` maps a role to
 * its text; until the role is known, or for a role without words, the markup's text stays. */
export async function wordReviewLink(link, words) {
  const {role} = await me();
  if (!role) return;
  link.dataset.role = role;
  if (words[role]) link.textContent = words[role];
}

/** Show each of `links` ({role: element}) to users of that role or higher. */
export async function showForRole(links) {
  const ranks = ["agent", "supervisor", "admin"];
  const {role} = await me();
  const rank = ranks.indexOf(role);
  for (const [needs, link] of Object.entries(links)) link.hidden = rank < ranks.indexOf(needs);
}
