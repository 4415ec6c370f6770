// The models manifest (models.json, written by `styleport demo build`). Format, version 1:
//
// { "format": "styleport-demo", "version": 1,
//   "samples": [{"path": "samples/x.jpg", "license": "...", "credit": "..."}],
//   "models": [{
//      "id": "starry", "title": "Starry Night", "num_styles": 1,
//      "styles": [{"name": "...", "thumbnail": "models/starry/style0.jpg", "license": "...", "source": "..."}],
//      "files": {"onnx": {"path": "...onnx", "precision": "fp32", "bytes": 1},
//                "tfjs": {"path": ".../model.json", "precision": "uint8", "bytes": 1}},
//      "contract": {"color": "RGB", "range": [0, 255], "dynamic_size": true,
//                   "onnx": {"layout": "NCHW", "image": "image", "style_weights": "style_weights", "output": "stylized"},
//                   "tfjs": {"layout": "NHWC", "image": "...", "style_weights": "...", "output": "..."}}}]}
//
// Paths are relative to the manifest. See web_demo/MANIFEST.md.

export const MANIFEST_FORMAT = 'styleport-demo';
export const MANIFEST_VERSION = 1;

/** Fetch and check the manifest; throws an Error with one clear line when it is unusable. */
export async function loadManifest(url) {
  let response;
  try {
    response = await fetch(url, { cache: 'no-cache' });
  } catch (err) {
    throw new Error(`could not fetch the models manifest ${url} (${err.message})`);
  }
  if (!response.ok) throw new Error(`could not fetch the models manifest ${url} (HTTP ${response.status})`);
  let manifest;
  try {
    manifest = await response.json();
  } catch (err) {
    throw new Error(`the models manifest ${url} is not valid JSON`);
  }
  checkManifest(manifest, url);
  return manifest;
}

function checkManifest(m, url) {
  if (m?.format !== MANIFEST_FORMAT) throw new Error(`${url} is not a styleport demo manifest`);
  if (m.version > MANIFEST_VERSION) throw new Error(`${url} has manifest version ${m.version}; this page reads ${MANIFEST_VERSION}`);
  if (!Array.isArray(m.models) || m.models.length === 0) throw new Error(`${url} lists no models`);
  for (const model of m.models) {
    if (!model.id || !Array.isArray(model.styles) || model.styles.length !== model.num_styles) {
      throw new Error(`${url}: model "${model.id ?? '?'}" needs an id and one style entry per style`);
    }
    if (!model.files?.onnx && !model.files?.tfjs) throw new Error(`${url}: model "${model.id}" has no model files`);
  }
}

/** One-hot weights selecting style `index` of a model with `count` styles. */
export function oneHot(count, index) {
  const w = new Array(count).fill(0);
  w[index] = 1;
  return w;
}

/** Normalise mixing weights to sum to 1 (all zero -> one-hot on the first style). */
export function normalise(weights) {
  const sum = weights.reduce((a, b) => a + Math.max(0, b), 0);
  if (sum <= 0) return oneHot(weights.length, 0);
  return weights.map((v) => Math.max(0, v) / sum);
}
