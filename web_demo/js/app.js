// The page: wires the manifest, the engines and the controls together. State lives in one object;
// every change that needs the network goes through requestRun(), which runs at most one inference
// at a time and always finishes with the newest settings ("latest wins").
//
// For tests and links, the URL may preselect: ?engine=tfjs-wasm&res=256&model=ID&style=1

import { ENGINES, BackendUnavailable, ModelLoadError, openSession, probeWebGpu, unavailableReason } from './engines.js';
import { blendToImageData, decodeImageFile, drawSource, fitSize, paint, rgbFromImageData } from './imaging.js';
import { formatBytes, loadManifest, normalise, oneHot } from './manifest.js';
import { Webcam } from './webcam.js';

const $ = (id) => document.getElementById(id);
const pretty = (name) => name.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()); // great_wave -> Great wave
const MANIFEST_URL = new URL('models.json', document.baseURI);
const VENDOR_URL = new URL('vendor/', document.baseURI);
const params = new URLSearchParams(location.search);

const state = {
  manifest: null,
  model: null, // manifest entry
  weights: [1], // style weights for the selected model, sum 1
  engineKey: params.get('engine') ?? 'ort-wasm',
  resolution: Number(params.get('res') ?? 512),
  strength: 1,
  source: null, // ImageBitmap or the webcam <video>
  sourceName: 'photo',
  original: null, // (H,W,3) float32 of the last input
  stylized: null, // (H,W,3) float32 of the last output
  size: null, // {w, h}
  sessions: new Map(), // `${engineKey}|${modelId}` -> session
};

// ---------------------------------------------------------------- status and errors
function setState(name) {
  document.body.dataset.state = name;
}

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
  setState('error');
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

function describeFailure(err) {
  if (err instanceof BackendUnavailable) return `Backend unavailable: ${err.message.replace(/\.$/, '')}. Pick another engine.`;
  if (err instanceof ModelLoadError) return `Model failed to load: ${err.message}`;
  return String(err?.message ?? err);
}

// ---------------------------------------------------------------- running the network
async function getSession() {
  const key = `${state.engineKey}|${state.model.id}`;
  if (!state.sessions.has(key)) {
    $('engine-info').textContent = `Loading ${state.model.title}…`;
    state.sessions.set(key, openSession(state.engineKey, state.model, MANIFEST_URL, VENDOR_URL));
  }
  try {
    return await state.sessions.get(key);
  } catch (err) {
    state.sessions.delete(key);
    throw err;
  }
}

async function runOnce() {
  if (!state.source || !state.model) return;
  const src = state.source;
  const srcW = src.videoWidth || src.width;
  const srcH = src.videoHeight || src.height;
  const { w, h } = fitSize(srcW, srcH, state.resolution);
  const input = rgbFromImageData(drawSource(src, w, h, $('original'))); // RGBA canvas -> (H,W,3) f32
  const session = await getSession();
  const { data, ms } = await session.run(input, h, w, state.weights);
  state.original = input;
  state.stylized = data;
  state.size = { w, h };
  render();
  $('latency').textContent = `${ms.toFixed(0)} ms / frame`;
  $('size').textContent = `${w}×${h}`;
  const isolated = self.crossOriginIsolated ? 'cross-origin isolated' : 'not isolated';
  $('engine-info').textContent = `Running: ${session.describe()} · ${isolated}`;
  document.body.dataset.runs = String(Number(document.body.dataset.runs) + 1);
}

let busy = false;
let pending = false;

async function requestRun() {
  if (!state.source || !state.model) return;
  if (busy) {
    pending = true;
    return;
  }
  busy = true;
  setState('running');
  try {
    do {
      pending = false;
      await runOnce();
    } while (pending);
    clearError();
    setState('done');
  } catch (err) {
    console.warn(err);
    showError(describeFailure(err));
  } finally {
    busy = false;
  }
}

function render() {
  if (!state.stylized) return;
  const { w, h } = state.size;
  paint($('result'), blendToImageData(state.stylized, state.original, state.strength, w, h));
  $('stage').classList.add('has-image');
}

// ---------------------------------------------------------------- inputs
async function useFile(file) {
  try {
    const bitmap = await decodeImageFile(file);
    stopWebcam();
    state.source = bitmap;
    state.sourceName = file.name.replace(/\.[^.]+$/, '') || 'photo';
    await requestRun();
  } catch (err) {
    showError(err.message);
  }
}

async function useUrl(url, name) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not fetch ${url} (HTTP ${response.status})`);
  await useFile(new File([await response.blob()], name, { type: response.headers.get('content-type') ?? 'image/jpeg' }));
}

const webcam = new Webcam(
  $('webcam'),
  async (video) => {
    state.source = video;
    await requestRun();
  },
  (fps) => {
    $('fps').textContent = `${fps.toFixed(1)} FPS`;
  },
);
let photoBeforeWebcam = null;

async function toggleWebcam() {
  if (webcam.running) {
    stopWebcam();
    if (photoBeforeWebcam) {
      state.source = photoBeforeWebcam;
      await requestRun();
    }
    return;
  }
  photoBeforeWebcam = state.source;
  try {
    await webcam.start();
    $('webcam-toggle').textContent = 'Stop webcam';
    state.sourceName = 'webcam';
  } catch (err) {
    showError(err.message);
  }
}

function stopWebcam() {
  if (!webcam.running) return;
  webcam.stop();
  $('webcam-toggle').textContent = 'Live webcam';
  $('fps').textContent = '';
}

function download() {
  if (!state.stylized) return;
  $('result').toBlob((blob) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${state.sourceName}-${state.model.id}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }, 'image/png');
}

// ---------------------------------------------------------------- controls
function selectStyle(model, index) {
  const changedModel = state.model?.id !== model.id;
  state.model = model;
  state.weights = oneHot(model.num_styles, index);
  for (const card of document.querySelectorAll('.style-card')) {
    card.setAttribute('aria-pressed', String(card.dataset.model === model.id && Number(card.dataset.style) === index));
  }
  const style = model.styles[index];
  $('credit').textContent = [pretty(style.name), style.source, style.license].filter(Boolean).join(' · ');
  if (changedModel) buildMixer();
  syncMixer();
  requestRun();
}

function buildStyleCards() {
  const box = $('styles');
  box.replaceChildren();
  for (const model of state.manifest.models) {
    model.styles.forEach((style, index) => {
      const card = document.createElement('button');
      card.className = 'style-card';
      card.type = 'button';
      card.dataset.model = model.id;
      card.dataset.style = String(index);
      card.title = [style.name, style.source, style.license].filter(Boolean).join('\n');
      const img = document.createElement('img');
      img.src = new URL(style.thumbnail, MANIFEST_URL).href;
      img.alt = style.name;
      img.loading = 'lazy';
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = pretty(style.name);
      const license = document.createElement('span');
      license.className = 'license';
      license.textContent = style.license || 'license unknown';
      card.append(img, name, license);
      card.addEventListener('click', () => selectStyle(model, index));
      box.append(card);
    });
  }
}

function buildMixer() {
  const model = state.model;
  $('mix').hidden = model.num_styles < 2;
  const box = $('mix-sliders');
  box.replaceChildren();
  model.styles.forEach((style, index) => {
    const label = document.createElement('label');
    label.textContent = pretty(style.name);
    const slider = document.createElement('input');
    slider.type = 'range';
    slider.min = '0';
    slider.max = '100';
    slider.dataset.index = String(index);
    slider.addEventListener('input', () => {
      const raw = [...box.querySelectorAll('input')].map((s) => Number(s.value));
      state.weights = normalise(raw);
      for (const card of document.querySelectorAll('.style-card')) card.setAttribute('aria-pressed', 'false');
      $('credit').textContent = `Mix: ${model.styles.map((s, i) => `${pretty(s.name)} ${Math.round(state.weights[i] * 100)}%`).join(', ')}`;
      requestRun();
    });
    label.append(slider);
    box.append(label);
  });
}

function syncMixer() {
  $('mix-sliders').querySelectorAll('input').forEach((s, i) => {
    s.value = String(Math.round(state.weights[i] * 100));
  });
}

function buildEnginePicker() {
  const select = $('engine');
  select.replaceChildren();
  const formats = new Set(state.manifest.models.flatMap((m) => Object.keys(m.files ?? {})));
  for (const engine of ENGINES) {
    const option = document.createElement('option');
    option.value = engine.key;
    const reason = !formats.has(engine.format) ? `no ${engine.format} files in this build` : unavailableReason(engine);
    option.textContent = reason ? `${engine.label} (unavailable)` : engine.label;
    option.disabled = Boolean(reason);
    option.title = reason ?? '';
    select.append(option);
  }
  select.value = state.engineKey;
  probeWebGpu().then((reason) => {
    if (!reason) return;
    for (const option of select.options) {
      if (option.value.endsWith('webgpu') && !option.disabled) {
        option.disabled = true;
        option.textContent += ' (unavailable)';
        option.title = reason;
      }
    }
  });
  select.addEventListener('change', async () => {
    state.engineKey = select.value;
    const old = [...state.sessions.values()];
    state.sessions.clear();
    for (const p of old) p.then((s) => s.release()).catch(() => {});
    await requestRun();
  });
}

function buildSamples() {
  const box = $('samples');
  for (const sample of state.manifest.samples ?? []) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'sample';
    button.title = [sample.credit, sample.license].filter(Boolean).join(' · ');
    const img = document.createElement('img');
    img.src = new URL(sample.path, MANIFEST_URL).href;
    img.alt = sample.name;
    button.append(img);
    button.addEventListener('click', () => useUrl(img.src, sample.name).catch((e) => showError(e.message)));
    box.append(button);
  }
}

function wireControls() {
  $('file').addEventListener('change', (e) => {
    const file = e.target.files[0];
    e.target.value = ''; // so that choosing the same file again fires 'change' again
    if (file) useFile(file);
  });
  const stage = $('stage');
  for (const type of ['dragenter', 'dragover']) {
    stage.addEventListener(type, (e) => {
      e.preventDefault();
      stage.classList.add('dragging');
    });
  }
  stage.addEventListener('dragleave', () => stage.classList.remove('dragging'));
  stage.addEventListener('drop', (e) => {
    e.preventDefault();
    stage.classList.remove('dragging');
    const file = e.dataTransfer?.files?.[0];
    if (file) useFile(file);
  });
  $('strength').addEventListener('input', (e) => {
    state.strength = Number(e.target.value) / 100;
    $('strength-value').textContent = `${e.target.value}%`;
    render();
  });
  const compare = $('compare');
  const setSplit = () => stage.style.setProperty('--split', `${compare.value}%`);
  compare.addEventListener('input', setSplit);
  setSplit();
  const resolution = $('resolution');
  resolution.value = String(state.resolution);
  if (resolution.value !== String(state.resolution)) {
    resolution.append(new Option(`${state.resolution} px`, String(state.resolution), true, true));
  }
  resolution.addEventListener('change', () => {
    state.resolution = Number(resolution.value);
    requestRun();
  });
  $('webcam-toggle').addEventListener('click', toggleWebcam);
  $('download').addEventListener('click', download);
}

// ---------------------------------------------------------------- start
async function main() {
  setState('loading');
  wireControls();
  try {
    state.manifest = await loadManifest(MANIFEST_URL);
  } catch (err) {
    showError(err.message);
    return;
  }
  buildStyleCards();
  buildEnginePicker();
  buildSamples();
  const model = state.manifest.models.find((m) => m.id === params.get('model')) ?? state.manifest.models[0];
  const styleIndex = Math.min(Number(params.get('style') ?? 0), model.num_styles - 1);
  state.model = model;
  buildMixer();
  selectStyle(model, styleIndex);
  const sizes = state.manifest.models.map((m) => {
    const files = Object.entries(m.files).map(([fmt, f]) => `${fmt === 'onnx' ? 'ONNX' : 'TF.js'} ${f.precision} ${formatBytes(f.bytes)}`);
    return `${m.title}: ${files.join(', ')}`;
  });
  $('footer-models').textContent = sizes.join(' · ');
  const first = state.manifest.samples?.[0];
  if (first && params.get('sample') !== '0') {
    await useUrl(new URL(first.path, MANIFEST_URL).href, first.name).catch((e) => showError(e.message));
  } else {
    setState('ready');
  }
}

main();
