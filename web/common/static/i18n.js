// The words of a page, in the language its user reads (STYLE.md §16). Each page (desk,
// supervisor, review) keeps only its own catalogues, one per language, and makes its
// translator here:
//
//     export const {t, translatePage, locale} = catalogues({en, es});
//
// Scripts ask `t(key)`; markup names its key in `data-i18n` (text), `data-i18n-placeholder`,
// `data-i18n-aria-label` or `data-i18n-title`, and `translatePage()` fills them in.
// Placeholders are `{name}`: t("inbox.unread", {count: 3}); keys ending in `.one` / `.other`
// are plural forms picked by `count`. A key no catalogue has shows as itself: a missing word
// shows, it does not break the page.

const STORED = "centralita.language";
const ATTRIBUTES = [["i18nPlaceholder", "placeholder"], ["i18nAriaLabel", "aria-label"],
                    ["i18nTitle", "title"]];

const primary = (tag) => String(tag || "").toLowerCase().split("-")[0];

/** The page's language among `available` (an object keyed by language): the user's choice
 * for this page (`?lang=es`, then kept in this browser), else their own setting (the server
 * marks the page with it, web/auth/page_language.py: it follows them to any computer), else
 * this browser's kept choice, else the first of the browser's languages there is, else
 * English. */
export function pickLanguage(
  available,
  query = globalThis.location?.search ?? "",
  stored = globalThis.localStorage?.getItem(STORED),
  browser = globalThis.navigator?.languages ?? [globalThis.navigator?.language ?? "en"],
  profile = globalThis.document?.documentElement?.dataset?.userLanguage,
) {
  const asked = primary(new URLSearchParams(query).get("lang"));
  if (asked in available) {
    globalThis.localStorage?.setItem(STORED, asked);
    return asked;
  }
  if (primary(profile) in available) return primary(profile);
  if (primary(stored) in available) return primary(stored);
  return browser.map(primary).find((code) => code in available) ?? "en";
}

/** The translator over a page's catalogues (`{en, es}`; English is the fallback). Sets
 * <html lang>, which tells the browser and `t` the page's language. */
export function catalogues(byLanguage) {
  const en = byLanguage.en;
  if (globalThis.document) document.documentElement.lang = pickLanguage(byLanguage);

  function current() {
    return byLanguage[primary(document.documentElement.lang || "en")] || en;
  }

  /** The text for `key` with `{name}` placeholders filled from `params`. */
  function t(key, params = {}) {
    let template;
    if ("count" in params) {
      const form = Number(params.count) === 1 ? "one" : "other";
      template = current()[`${key}.${form}`] ?? en[`${key}.${form}`];
    }
    template = template ?? current()[key] ?? en[key] ?? key;
    return template.replace(/\{(\w+)\}/g, (whole, name) =>
      name in params ? String(params[name]) : whole);
  }

  /** The page's language tag, for numbers and times. */
  function locale() {
    return document.documentElement.lang || "en";
  }

  /** Fill in every `data-i18n*` element under `root`. */
  function translatePage(root = document) {
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const [data, attr] of ATTRIBUTES) {
      const selector = `[data-${data.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}]`;
      for (const node of root.querySelectorAll(selector)) node.setAttribute(attr, t(node.dataset[data]));
    }
  }

  return {t, locale, translatePage};
}
