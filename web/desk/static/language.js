// The agent's own language setting (kept on the server: PUT /api/me/language, so it follows
// them to any computer, and every page they open speaks it: web/auth/page_language.py).
// Changing it reloads the page in the new language; "Browser's language" clears it.

import {$} from "/common/static/dom.js";
import {sendJson} from "/common/static/api.js";

export function wireLanguage() {
  const select = $("my-language");
  select.value = document.documentElement.dataset.userLanguage || "";
  select.addEventListener("change", async () => {
    const resp = await sendJson("PUT", "/api/me/language", {language: select.value || null});
    if (!resp.ok) return;
    // The stored per-browser choice must not outrank the new setting on this computer.
    globalThis.localStorage?.removeItem("centralita.language");
    const url = new URL(location.href);
    url.searchParams.delete("lang");
    location.replace(url.toString());
  });
}
