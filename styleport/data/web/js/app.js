// The page: wires the manifest, the inference worker and the controls together. State lives in one
// object; every change that needs the network goes through requestRun(), which runs at most one
// inference at a time and always finishes with the newest settings ("latest wins"). Inference runs
// in js/worker.js, so the page stays responsive and a run can be stopped.
//
// For tests and links, the URL may preselect: ?engine=tfjs-wasm&res=256&model=ID&style=1&threads=1

import { Cancelled, EngineWorker, PIXEL_CAPS, RunError, describeInfo, ENGINES } from './engines.js';
import { blendToImageData, decodeImageFile, drawBitmap, fitSize, paint } from './imaging.js';
import { loadManifest, oneHot } from './manifest.js';
import { styleCredit, styleTitle } from './names.js';
import { buildEnginePicker, buildFooter, buildMixer, buildSamples, buildStyleCards, markSelected, syncMixer } from './ui.js';
import { Webcam } from './webcam.js';

const $ = (id) => document.getElementById(id);
const MANIFEST_URL = new URL('models.json', document.baseURI);
const VENDOR_URL = new URL('vendor/', document.baseURI);
const params = new URLSearchParams(location.search);

const state = {
  manifest: null,
  model: null, // manifest entry
  styleIndex: 0,
  weights: [1], // style weights for the selected model, sum 1
  engineKey: params.get('engine') ?? 'ort-wasm',
  threads: Number(params.get('threads') ?? 0) || 0, // 0 = automatic
  resolution: Number(params.get('res') ?? 512),
  strength: 1,
  source: null, // ImageBitmap or the webcam <video>
  sourceName: 'photo',
  generation: 0, // bumped whenever the photo or its size changes: older results are dropped
  frame: null, // {bitmap, w, h}: the photo at the run size, as shown and as fed to the engine
  photo: null, // ImageData the engine was fed (from the worker), for strength blending
  stylized: null, // (H,W,3) float32 of the last output, for `photo`
  rgba: null, // the output as RGBA bytes at strength 1 (made in the worker)
  worker: null, // EngineWorker for state.engineKey
};

// ---------------------------------------------------------------- status, errors, badge
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

function setStatus(text) {
  $('status').textContent = text;
}

function engineLabel(key = state.engineKey) {
  return ENGINES.find((e) => e.key === key)?.label ?? key;
}

function setBadge(text) {
  $('engine-info').textContent = text;
}

function describeFailure(err) {
  const name = err?.constructor?.name;
  if (name === 'BackendUnavailable') return `${engineLabel()} cannot run here: ${err.message.replace(/\.$/, '')}. Pick another engine.`;
  if (name === 'ModelLoadError') return `Model failed to load: ${err.message}`;
  if (err instanceof RunError && err.kind === 'memory') {
    const advice = /resolution/.test(err.message) ? '' : ' Choose a smaller resolution.';
    return `${engineLabel()} could not stylize this ${sizeText()} image: ${err.message}.${advice}`;
  }
  if (err instanceof RunError) return `${engineLabel()} failed on this image: ${err.message}`;
  return String(err?.message ?? err);
}

function sizeText() {
  return state.frame ? `${state.frame.w}×${state.frame.h}` : '';
}

function onProgress(msg) {
  const bar = $('progress');
  bar.hidden = false;
  if (msg.total) {
    bar.max = msg.total;
    bar.value = msg.loaded;
  } else {
    bar.removeAttribute('value'); // indeterminate
  }
  const mb = (n) => (n / 1e6).toFixed(1);
  const amount = msg.total > 1 ? ` ${mb(msg.loaded)} / ${mb(msg.total)} MB` : msg.total === 1 ? ` ${Math.round(msg.loaded * 100)}%` : '';
  setStatus(`Downloading ${msg.what}…${amount}`);
}

// ---------------------------------------------------------------- the photo on the stage
/** Check the size, scale the current source to the run size off the main thread and show it at once. */
async function showPhoto() {
  const src = state.source;
  const srcW = src.videoWidth || src.width;
  const srcH = src.videoHeight || src.height;
  const { w, h } = fitSize(srcW, srcH, state.resolution);
  const cap = PIXEL_CAPS[state.engineKey] ?? Infinity;
  if (w * h > cap) {
    const side = Math.floor(Math.sqrt((cap * Math.max(w, h)) / Math.min(w, h)));
    const mp = (n) => (n / 1e6).toFixed(1);
    throw new RangeError(
      `This photo is ${w}×${h} (${mp(w * h)} megapixels) at the chosen resolution; ${engineLabel()} handles at most ` +
        `${mp(cap)} megapixels in this browser. Choose a resolution of ${side} px or less.`,
    );
  }
  const bitmap = await createImageBitmap(src, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' });
  state.frame?.bitmap.close();
  state.frame = { bitmap, w, h };
  drawBitmap($('original'), bitmap);
  $('stage').classList.add('has-image');
  $('size').textContent = `${w}×${h}`;
  return state.frame;
}

function render() {
  const has = Boolean(state.stylized && state.photo);
  $('stage').classList.toggle('has-result', has);
  $('download').disabled = !has;
  if (!has) return;
  const { width: w, height: h } = state.photo;
  const full = state.strength >= 1; // the worker already made these bytes
  paint($('result'), full ? new ImageData(state.rgba, w, h) : blendToImageData(state.stylized, state.photo, state.strength));
  const style = state.model.styles[state.styleIndex];
  const what = state.model.num_styles > 1 && state.weights.filter((v) => v > 0).length > 1 ? 'a mix of styles' : `the style of ${styleCredit(style).split(' — License')[0]}`;
  $('result').setAttribute('aria-label', `Stylized photo: ${state.sourceName} in ${what}`);
}

function dropResult() {
  state.stylized = null;
  state.photo = null;
  state.rgba = null;
  render();
}

// ---------------------------------------------------------------- running the network
function worker() {
  if (!state.worker) state.worker = new EngineWorker(state.engineKey, VENDOR_URL, state.threads, onProgress);
  return state.worker;
}

async function runOnce() {
  if (!state.source || !state.model) return;
  const generation = state.generation;
  const live = state.source instanceof HTMLVideoElement;
  const frame = live || !state.frame ? await showPhoto() : state.frame;
  const engine = worker();
  if (!engine.info) setBadge(`Loading ${engineLabel()}…`);
  const model = state.model;
  const info = await engine.open(model, new URL(model.files[engine.engine.format].path, MANIFEST_URL).href);
  $('progress').hidden = true;
  setBadge(`Running: ${describeInfo(info)} · ${info.isolated ? 'cross-origin isolated' : 'not isolated'}`);
  setStatus(live ? '' : `Stylizing ${frame.w}×${frame.h} with ${styleTitle(model.styles[state.styleIndex])}…`);
  const copy = await createImageBitmap(frame.bitmap); // transferred to the worker; the page keeps its own
  const { data, rgba, photo, ms } = await engine.run(model, copy, frame.w, frame.h, state.weights);
  if (generation !== state.generation || frame !== state.frame) return; // the photo changed meanwhile
  state.photo = new ImageData(photo, frame.w, frame.h);
  state.stylized = data;
  state.rgba = rgba;
  render();
  $('latency').textContent = `${ms.toFixed(0)} ms / frame`;
  setStatus('');
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
  let restart = false;
  setState('running');
  $('cancel').hidden = false;
  $('stage').setAttribute('aria-busy', 'true');
  try {
    do {
      pending = false;
      await runOnce();
    } while (pending);
    clearError();
    setState('done');
  } catch (err) {
    $('progress').hidden = true;
    setStatus('');
    if (err instanceof Cancelled && err.message === 'engine changed') {
      restart = true; // changeEngine() queued a run with the new engine
    } else if (err instanceof Cancelled) {
      pending = false;
      setStatus('Stopped. Pick a smaller resolution or another engine, then choose a photo or style to run again.');
      setBadge(`${engineLabel()}: stopped`);
      setState('stopped');
    } else {
      console.warn(err);
      if (!(err instanceof RangeError || err instanceof RunError)) setBadge(`${engineLabel()}: not running`); // else it still runs
      showError(describeFailure(err));
    }
    if (webcam.running) stopWebcam();
  } finally {
    busy = false;
    $('cancel').hidden = true;
    $('stage').removeAttribute('aria-busy');
    if (restart) requestRun();
  }
}

/** A new photo or size: show it now, drop the old result, then stylize. */
async function newPhoto() {
  state.generation += 1;
  const generation = state.generation;
  dropResult();
  clearError();
  try {
    await showPhoto();
  } catch (err) {
    state.frame = null;
    $('stage').classList.remove('has-image');
    setStatus('');
    showError(err.message);
    return;
  }
  if (generation === state.generation) requestRun();
}

// ---------------------------------------------------------------- inputs
async function useFile(file) {
  let bitmap;
  try {
    bitmap = await decodeImageFile(file);
  } catch (err) {
    showError(err.message);
    return;
  }
  stopWebcam();
  state.source = bitmap;
  state.sourceName = file.name.replace(/\.[^.]+$/, '') || 'photo';
  newPhoto();
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
      newPhoto();
    }
    return;
  }
  photoBeforeWebcam = state.source instanceof HTMLVideoElement ? null : state.source;
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

function cancelRun() {
  state.worker?.cancel(); // the worker is terminated; a fresh one loads on the next run
}

// ---------------------------------------------------------------- controls
function selectStyle(model, index) {
  const changedModel = state.model?.id !== model.id;
  state.model = model;
  state.styleIndex = index;
  state.weights = oneHot(model.num_styles, index);
  markSelected(model.id, index);
  $('credit').textContent = styleCredit(model.styles[index]);
  if (changedModel) buildMixer(model, onMix);
  syncMixer(state.weights);
  requestRun();
}

function onMix(weights, text) {
  state.weights = weights;
  markSelected(null, -1);
  $('credit').textContent = text;
  requestRun();
}

function changeEngine(key) {
  state.worker?.terminate();
  state.worker = null;
  state.engineKey = key;
  newPhotoIfAny();
}

function newPhotoIfAny() {
  if (state.source && !(state.source instanceof HTMLVideoElement)) newPhoto();
  else requestRun();
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
    newPhotoIfAny();
  });
  $('webcam-toggle').addEventListener('click', toggleWebcam);
  $('download').addEventListener('click', download);
  $('cancel').addEventListener('click', cancelRun);
}

// ---------------------------------------------------------------- start
async function main() {
  setState('loading');
  wireControls();
  try {
    state.manifest = await loadManifest(MANIFEST_URL);
  } catch (err) {
    setBadge('No models');
    showError(err.message);
    return;
  }
  buildStyleCards(state.manifest, MANIFEST_URL, selectStyle);
  buildEnginePicker(state.manifest, state.engineKey, changeEngine);
  buildSamples(state.manifest, MANIFEST_URL, (url, name) => useUrl(url, name).catch((e) => showError(e.message)));
  buildFooter(state.manifest);
  const model = state.manifest.models.find((m) => m.id === params.get('model')) ?? state.manifest.models[0];
  const styleIndex = Math.min(Number(params.get('style') ?? 0), model.num_styles - 1);
  setBadge(`${engineLabel()} · loads with the first photo`);
  const first = state.manifest.samples?.[0];
  if (first && params.get('sample') !== '0') {
    // Show the sample photo at once; the engine downloads while it is on screen.
    await useUrl(new URL(first.path, MANIFEST_URL).href, first.name).catch((e) => showError(e.message));
    selectStyle(model, styleIndex);
  } else {
    selectStyle(model, styleIndex);
    setState('ready');
  }
}

main();
