// The engines that run exported files in the browser, on the page's side of the inference worker:
//
//   const worker = new EngineWorker(engineKey, vendorUrl, threads, onProgress);
//   const info = await worker.open(model, modelUrl);        // loads the library (once) and the model
//   const { data, rgba, photo, ms } = await worker.run(model, bitmap, w, h, weights); // -> (H,W,3) f32
//   worker.cancel();                                         // terminates the worker: a run stops now
//
// ONNX files run in onnxruntime-web (wasm or WebGPU), TF.js graph models in @tensorflow/tfjs (wasm,
// WebGL or WebGPU), all inside js/worker.js so the page never freezes. Libraries are loaded lazily
// from vendor/ (copied from npm by `styleport demo build`).

/** Engine/backend choices shown in the picker, in order of preference. */
export const ENGINES = [
  { key: 'ort-wasm', format: 'onnx', label: 'ONNX Runtime · WASM', backend: 'wasm' },
  { key: 'ort-webgpu', format: 'onnx', label: 'ONNX Runtime · WebGPU', backend: 'webgpu' },
  { key: 'tfjs-wasm', format: 'tfjs', label: 'TF.js · WASM', backend: 'wasm' },
  { key: 'tfjs-webgl', format: 'tfjs', label: 'TF.js · WebGL', backend: 'webgl' },
  { key: 'tfjs-webgpu', format: 'tfjs', label: 'TF.js · WebGPU', backend: 'webgpu' },
];

/**
 * Largest input (pixels, after the resolution choice) each engine is allowed to run. Measured with the
 * bundled width-0.5 networks in headless Chromium on the 2-core machine (MANIFEST.md, "Limits"): ORT
 * wasm ran 2048x2048 (37 s) while 6000x4000 ended in std::bad_alloc; TF.js wasm ran 1448x1448 (25 s)
 * and ran out of memory at 2048x2048. The GPU backends (not measurable here) get their wasm sibling's cap.
 */
export const PIXEL_CAPS = {
  'ort-wasm': 4_200_000,
  'ort-webgpu': 4_200_000,
  'tfjs-wasm': 2_100_000,
  'tfjs-webgl': 2_100_000,
  'tfjs-webgpu': 2_100_000,
};

/** A backend this browser cannot run (the message says why). */
export class BackendUnavailable extends Error {}

/** A model or library that could not be fetched or parsed. */
export class ModelLoadError extends Error {}

/** The engine failed while running (out of memory, texture too large...). */
export class RunError extends Error {
  constructor(message, kind) {
    super(message);
    this.kind = kind;
  }
}

/** The user stopped the run (the worker was terminated). */
export class Cancelled extends Error {}

/** Reason the engine cannot run in this browser, or null. Cheap checks only (no downloads). */
export function unavailableReason(engine) {
  if (typeof Worker !== 'function') return 'this browser cannot run Web Workers';
  if (engine.backend === 'webgpu' && !('gpu' in navigator)) {
    return 'WebGPU is not available in this browser (needs a recent Chrome/Edge, or Safari 26+)';
  }
  if (engine.backend === 'webgl') {
    if (typeof OffscreenCanvas !== 'function') return 'this browser cannot use WebGL inside a worker (no OffscreenCanvas)';
    const probe = new OffscreenCanvas(1, 1);
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

/** Threads for the wasm engines: all cores (up to 4) on cross-origin-isolated pages, else 1. */
export function wasmThreads(requested) {
  if (!self.crossOriginIsolated) return 1; // threads need SharedArrayBuffer
  const cores = navigator.hardwareConcurrency || 1;
  return Math.max(1, Math.min(requested || cores, 4));
}

/** One line saying what actually runs, from what the library reported inside the worker. */
export function describeInfo(info) {
  let text = `${info.library} ${info.version} · ${info.backend}`;
  if (info.threads) text += `, ${info.threads} thread${info.threads > 1 ? 's' : ''}`;
  if (info.software) {
    const name = info.renderer.match(/swiftshader|llvmpipe|softpipe|basic render driver|software/i)?.[0] ?? info.renderer;
    text += ` (software-emulated GPU: ${name}; very slow)`;
  }
  return text;
}

export class EngineWorker {
  constructor(key, vendorUrl, threads, onProgress) {
    this.engine = ENGINES.find((e) => e.key === key);
    if (!this.engine) throw new BackendUnavailable(`unknown engine "${key}"`);
    this.vendorUrl = vendorUrl;
    this.threads = this.engine.backend === 'wasm' ? wasmThreads(threads) : 1;
    this.onProgress = onProgress;
    this.worker = null;
    this.pending = new Map(); // id -> {resolve, reject}
    this.nextId = 1;
    this.ready = null; // promise of the init answer
    this.opened = new Map(); // model id -> promise
    this.info = null;
  }

  start() {
    if (this.worker) return;
    const reason = unavailableReason(this.engine);
    if (reason) throw new BackendUnavailable(reason);
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { name: 'styleport-inference' });
    this.worker.onmessage = (event) => this.receive(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.failAll(new ModelLoadError(`the inference worker failed (${event.message || 'script error'})`));
    };
    this.ready = this.request({ op: 'init', engine: this.engine, vendorUrl: String(this.vendorUrl), threads: this.threads }).then(
      (answer) => {
        this.info = answer.info;
        return answer.info;
      },
    );
  }

  request(message, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  receive(msg) {
    if (msg.op === 'progress') {
      this.onProgress?.(msg);
      return;
    }
    const waiter = this.pending.get(msg.id);
    if (!waiter) return;
    this.pending.delete(msg.id);
    if (msg.op === 'ok') {
      waiter.resolve(msg);
      return;
    }
    const Kind = msg.kind === 'unavailable' ? BackendUnavailable : msg.kind === 'load' ? ModelLoadError : RunError;
    waiter.reject(Kind === RunError ? new RunError(msg.message, msg.kind) : new Kind(msg.message));
  }

  failAll(err) {
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
    this.reset();
  }

  reset() {
    this.worker?.terminate();
    this.worker = null;
    this.ready = null;
    this.opened.clear();
  }

  /** Load the library (once) and `model`; resolves to what runs. */
  async open(model, modelUrl) {
    this.start();
    await this.ready;
    if (!this.opened.has(model.id)) {
      const opening = this.request({
        op: 'open',
        key: model.id,
        url: modelUrl,
        contract: model.contract,
        numStyles: model.num_styles,
      });
      this.opened.set(model.id, opening);
      opening.catch(() => this.opened.delete(model.id));
    }
    await this.opened.get(model.id);
    return this.info;
  }

  /** Stylize an ImageBitmap (transferred); resolves to {data: (H,W,3) f32, rgba, photo: RGBA bytes, ms}. */
  async run(model, bitmap, w, h, weights) {
    const answer = await this.request({ op: 'run', key: model.id, bitmap, h, w, weights }, [bitmap]);
    return { data: answer.data, rgba: answer.rgba, photo: answer.photo, ms: answer.ms };
  }

  /** Stop whatever runs now: the worker is terminated (a fresh one starts on the next request). */
  cancel() {
    if (!this.worker) return;
    this.failAll(new Cancelled('stopped'));
  }

  terminate() {
    this.failAll(new Cancelled('engine changed'));
  }
}
