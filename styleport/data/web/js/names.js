// Words shown to people: display names of styles and sample photos, credits, byte sizes.

const ROMAN = /^(?=[ivx]+$)x{0,3}(ix|iv|v?i{0,3})$/i; // I..XXXIX, as in titles; not "mix" or "civic"

/** "composition_viii" -> "Composition VIII", "great_wave" -> "Great Wave", "hawaMahal" -> "Hawa Mahal". */
export function prettyName(raw) {
  const words = String(raw)
    .replace(/([a-z])([A-Z])/g, '$1 $2') // camelCase
    .split(/[\s_-]+/)
    .filter(Boolean);
  return words.map((word) => (ROMAN.test(word) ? word.toUpperCase() : word[0].toUpperCase() + word.slice(1))).join(' ');
}

/** The painting's title when the model names it, else the style's name made readable. */
export function styleTitle(style) {
  return style.title || prettyName(style.name);
}

/** "Vincent van Gogh, 1889" (whatever of artist / year is known), or "". */
export function styleByline(style) {
  return [style.artist, style.year].filter(Boolean).join(', ');
}

/** The full credit line: title, artist, year and license, as plain text. */
export function styleCredit(style) {
  const parts = [styleTitle(style)];
  const byline = styleByline(style);
  if (byline) parts.push(byline);
  parts.push(style.license ? `License: ${style.license}` : 'License not stated in the model file');
  return parts.join(' — ');
}

export function sampleTitle(sample) {
  return sample.title || prettyName(sample.name);
}

export function formatBytes(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(n / 1e3))} kB`;
}
