// How many SMS parts a text costs, as the server counts them (channels/sms_segments.py; a
// test runs both on the same strings): GSM-7 160 septets in one part, 153 per part once
// concatenated, extension characters cost two septets and a pair is never split; any other
// character makes the whole text UCS-2, 70 UTF-16 code units in one part, 67 per part, and a
// surrogate pair is never split.

const GSM7_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà");
const GSM7_EXTENSION = new Set("^{}\\[~]|€\f");

export const SINGLE_GSM7 = 160;
export const MULTI_GSM7 = 153;
export const SINGLE_UCS2 = 70;
export const MULTI_UCS2 = 67;

/** True when every character of `text` is in the GSM-7 alphabet or its extension. */
export function isGsm7(text) {
  for (const c of text) if (!GSM7_BASIC.has(c) && !GSM7_EXTENSION.has(c)) return false;
  return true;
}

function costs(text, gsm) {
  // Iterating a string walks code points: an astral character is one item costing 2 units.
  const out = [];
  for (const c of text) {
    if (gsm) out.push(GSM7_EXTENSION.has(c) ? 2 : 1);
    else out.push(c.codePointAt(0) > 0xFFFF ? 2 : 1);
  }
  return out;
}

function parts(list, capacity) {
  let count = 1;
  let used = 0;
  for (const cost of list) {
    if (used + cost > capacity) {
      count += 1;
      used = 0;
    }
    used += cost;
  }
  return count;
}

/** `{encoding: "GSM-7"|"UCS-2", units, count, perSegment}` of `text` (empty: one part). */
export function countSegments(text) {
  const gsm = isGsm7(text);
  const list = costs(text, gsm);
  const units = list.reduce((a, b) => a + b, 0);
  const [single, multi] = gsm ? [SINGLE_GSM7, MULTI_GSM7] : [SINGLE_UCS2, MULTI_UCS2];
  const encoding = gsm ? "GSM-7" : "UCS-2";
  if (units <= single) return {encoding, units, count: 1, perSegment: single};
  return {encoding, units, count: parts(list, multi), perSegment: multi};
}
