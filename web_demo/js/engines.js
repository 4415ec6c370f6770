// The two engines that run exported files in the browser, behind one small interface:
//
//   const session = await openSession(engineKey, model, baseUrl);
//   const { data, ms } = await session.run(hwc, h, w, styleWeights);  // (H,W,3) f32 -> (H,W,3) f32
//   session.describe()  // what actually runs: library, version, backend, threads
//
// ONNX files run in onnxruntime-web (wasm or WebGPU), TF.js graph models in @tensorflow/tfjs
// (wasm, WebGL or WebGPU). Libraries are loaded lazily from vendor/ (copied from npm by
// `styleport demo build`), so the page fetches only what the chosen engine needs.

import { hwcToNchw, nchwToHwc } from './imaging.js';

/** Engine/backend choices shown in the picker, in order of preference. */
export const ENGINES = [
  { key: 'ort-wasm', format: 'onnx', label: 'ONNX Runtime · WASM', backend: 'wasm' },
  { key: 'ort-webgpu', format: 'onnx', label: 'ONNX Runtime · WebGPU', backend: 'webgpu' },
  { key: 'tfjs-wasm', format: 'tfjs', label: 'TF.js · WASM', backend: 'wasm' },
  { key: 'tfjs-webgl', format: 'tfjs', label: 'TF.js · WebGL', backend: 'webgl' },
  { key: 'tfjs-webgpu', format: 'tfjs', label: 'TF.js · WebGPU', backend: 'webgpu' },
];

/** A backend this browser cannot run (the message says why). */
export class BackendUnavailable extends Error {}

/** A model file that could not be fetched or parsed. */
export class ModelLoadError extends Error {}

/** Reason the engine cannot run in this browser, or null. Cheap checks only (no downloads). */
export function unavailableReason(engine) {
  if (engine.backend === 'webgpu' && !('gpu' in navigator)) {
    return 'WebGPU is not available in this browser (needs a recent Chrome/Edge, or Safari 26+)';
  }
  if (engine.backend === 'webgl') {
    const probe = document.createElement('canvas');
    if (!(probe.getContext('webgl2') || probe.getContext('webgl'))) return 'WebGL is not available in this browser';
  }
  if (typeof WebAssembly !== 'object') return 'WebAssembly is not available in this browser';
  return null;
}

/** Resolves to a reason when WebGPU is exposed but has no usable adapter (e.g. GPU disabled), else null. */
export async function probeWebGpu() {
  if (!('gpu' in navigator)) return 'WebGPU is not available in this browser';
  try {
    const adapter = await navigator.gpu.requestAdapter();
    return adapter ? null : 'WebGPU is exposed but this device offers no GPU adapter';
  } catch (err) {
    return `WebGPU adapter request failed (${err.message})`;
  }
}

function wasmThreads() {
  // Threads need SharedArrayBuffer, which browsers only grant to cross-origin-isolated pages.
  return self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
}

// ---------------------------------------------------------------- onnxruntime-web
const ortModules = {};

async function loadOrt(backend, vendorUrl) {
  const file = backend === 'webgpu' ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs';
  if (!ortModules[file]) {
    ortModules[file] = import(new URL(`ort/${file}`, vendorUrl).href).then((ort) => {
      ort.env.wasm.wasmPaths = new URL('ort/', vendorUrl).href;
      ort.env.wasm.numThreads = wasmThreads();
      ort.env.logLevel = 'error';
      return ort;
    });
  }
  return ortModules[file];
}

class OrtSession {
  constructor(ort, session, engine, model) {
    this.ort = ort;
    this.session = session;
    this.engine = engine;
    const io = model.contract?.onnx ?? {};
    this.imageName = io.image ?? session.inputNames[0];
    this.weightsName = model.num_styles > 1 ? io.style_weights ?? session.inputNames[1] : null;
    this.outputName = io.output ?? session.outputNames[0];
  }

  async run(hwc, h, w, styleWeights) {
    const { Tensor } = this.ort;
    const feeds = { [this.imageName]: new Tensor('float32', hwcToNchw(hwc, h, w), [1, 3, h, w]) }; // (H,W,3) -> (1,3,H,W)
    if (this.weightsName) feeds[this.weightsName] = new Tensor('float32', Float32Array.from(styleWeights), [1, styleWeights.length]);
    const t0 = performance.now();
    const results = await this.session.run(feeds);
    const out = results[this.outputName];
    const planar = await out.getData();
    const ms = performance.now() - t0;
    out.dispose?.();
    return { data: nchwToHwc(planar, h, w), ms }; // (1,3,H,W) -> (H,W,3)
  }

  describe() {
    const threads = this.engine.backend === 'wasm' ? `, ${this.ort.env.wasm.numThreads} thread(s)` : '';
    return `onnxruntime-web ${this.ort.env.versions?.web ?? ''} · ${this.engine.backend}${threads}`;
  }

  async release() {
    await this.session.release();
  }
}

async function openOrt(engine, model, modelUrl, vendorUrl) {
  const ort = await loadOrt(engine.backend, vendorUrl);
  let session;
  try {
    session = await ort.InferenceSession.create(modelUrl, {
      executionProviders: [engine.backend],
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    const text = String(err?.message ?? err);
    if (engine.backend === 'webgpu' && /webgpu|adapter|gpu/i.test(text)) {
      throw new BackendUnavailable(`ONNX Runtime could not start WebGPU here (${text.split('\n')[0]})`);
    }
    throw new ModelLoadError(`ONNX Runtime could not load ${modelUrl} (${text.split('\n')[0]})`);
  }
  return new OrtSession(ort, session, engine, model);
}

// ---------------------------------------------------------------- TF.js
let tfReady = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement('script');
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new ModelLoadError(`could not load ${src}`));
    document.head.append(el);
  });
}

async function loadTf(vendorUrl) {
  if (!tfReady) {
    tfReady = (async () => {
      await loadScript(new URL('tfjs/tf.min.js', vendorUrl).href);
      await loadScript(new URL('tfjs/tf-backend-wasm.min.js', vendorUrl).href);
      if ('gpu' in navigator) await loadScript(new URL('tfjs/tf-backend-webgpu.min.js', vendorUrl).href);
      const tf = self.tf;
      tf.wasm.setWasmPaths(new URL('tfjs/', vendorUrl).href);
      tf.wasm.setThreadsCount(wasmThreads()); // its default is half the cores
      tf.env().set('WEBGL_PACK', true);
      return tf;
    })();
  }
  return tfReady;
}

class TfjsSession {
  constructor(tf, graph, engine, model) {
    this.tf = tf;
    this.graph = graph;
    this.engine = engine;
    const io = model.contract?.tfjs ?? {};
    const inputs = graph.inputs.map((t) => t.name);
    this.imageName = io.image ?? graph.inputs.find((t) => t.shape?.length === 4)?.name ?? inputs[0];
    this.weightsName = model.num_styles > 1 ? io.style_weights ?? inputs.find((n) => n !== this.imageName) : null;
    this.outputName = io.output ?? graph.outputs[0].name;
  }

  async run(hwc, h, w, styleWeights) {
    const tf = this.tf;
    const t0 = performance.now();
    const out = tf.tidy(() => {
      const feeds = { [this.imageName]: tf.tensor4d(hwc, [1, h, w, 3]) }; // (H,W,3) -> (1,H,W,3)
      if (this.weightsName) feeds[this.weightsName] = tf.tensor2d(Float32Array.from(styleWeights), [1, styleWeights.length]);
      return this.graph.execute(feeds, this.outputName);
    });
    const data = await out.data(); // (1,H,W,3) -> (H,W,3), already interleaved
    out.dispose();
    return { data, ms: performance.now() - t0 };
  }

  describe() {
    const tf = this.tf;
    let threads = '';
    if (tf.getBackend() === 'wasm') {
      threads = `, ${tf.wasm.getThreadsCount()} thread(s)`;
    }
    return `TF.js ${tf.version.tfjs} · ${tf.getBackend()}${threads}`;
  }

  async release() {
    this.graph.dispose();
  }
}

async function openTfjs(engine, model, modelUrl, vendorUrl) {
  const tf = await loadTf(vendorUrl);
  if (engine.backend === 'webgpu' && !tf.findBackendFactory('webgpu')) {
    throw new BackendUnavailable('TF.js WebGPU backend is not available in this browser');
  }
  let ok = false;
  try {
    ok = await tf.setBackend(engine.backend);
    await tf.ready();
  } catch (err) {
    ok = false;
  }
  if (!ok || tf.getBackend() !== engine.backend) {
    throw new BackendUnavailable(`TF.js could not start its ${engine.backend} backend in this browser`);
  }
  try {
    return new TfjsSession(tf, await tf.loadGraphModel(modelUrl), engine, model);
  } catch (err) {
    throw new ModelLoadError(`TF.js could not load ${modelUrl} (${String(err?.message ?? err).split('\n')[0]})`);
  }
}

// ---------------------------------------------------------------- entry point
/** Open `model` (a manifest entry) with the engine `key`; baseUrl = the manifest's URL. */
export async function openSession(key, model, baseUrl, vendorUrl) {
  const engine = ENGINES.find((e) => e.key === key);
  if (!engine) throw new BackendUnavailable(`unknown engine "${key}"`);
  const reason = unavailableReason(engine);
  if (reason) throw new BackendUnavailable(reason);
  const file = model.files?.[engine.format];
  if (!file) throw new ModelLoadError(`model "${model.title}" has no ${engine.format} file in the manifest`);
  const modelUrl = new URL(file.path, baseUrl).href;
  return engine.format === 'onnx'
    ? openOrt(engine, model, modelUrl, vendorUrl)
    : openTfjs(engine, model, modelUrl, vendorUrl);
}
