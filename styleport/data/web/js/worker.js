// The inference worker: every engine runs here, never on the page's main thread, so the page
// stays responsive during a run and a long run can be cancelled by terminating this worker.
//
// A classic (non-module) worker, because TF.js ships UMD scripts that only importScripts() can
// load in a worker; ONNX Runtime Web's ES module is loaded with a dynamic import().
//
// Messages in (from engines.js):  {op: 'init', engine, vendorUrl, threads}
//                                 {op: 'open', id, key, url, contract, numStyles, format}
//                                 {op: 'run', id, key, bitmap, h, w, weights}   bitmap: a transferred ImageBitmap
// Messages out: {op: 'progress', id, what, loaded, total}, {op: 'ok', id, ...}, {op: 'error', id, kind, message}

'use strict';

const MIN_SIDE = 8; // the CLI's minimum (styleport/stylize.py MIN_SIDE): reflection pads need >= 5 px

let engine = null; // {key, format, backend}
let lib = null; // the loaded ORT module or the TF.js global
let info = null; // what runs, as reported by the library after initialisation
const sessions = new Map(); // model key -> {run(nchwOrNhwc...)}

function post(message, transfer = []) {
  self.postMessage(message, transfer);
}

class WorkerError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // 'unavailable' | 'load' | 'run' | 'memory'
  }
}

/** fetch() with progress messages; resolves to the body bytes. */
async function fetchBytes(url, id, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new WorkerError('load', `could not download ${what} (${err.message})`);
  }
  if (!response.ok) throw new WorkerError('load', `could not download ${what} (HTTP ${response.status})`);
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  let lastPost = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    const now = performance.now();
    if (now - lastPost > 100) {
      post({ op: 'progress', id, what, loaded, total });
      lastPost = now;
    }
  }
  post({ op: 'progress', id, what, loaded, total: total || loaded });
  const out = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

// ---------------------------------------------------------------- pixels
/** The RGBA bytes of a bitmap, read here so the page's main thread never loops over pixels. */
function pixelsOf(bitmap, w, h) {
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, w, h).data;
}

/** (h,w,3) float32 output + the photo's RGBA -> RGBA bytes (rounded, clamped; the photo's alpha, as the CLI). */
function withAlpha(hwc, photo) {
  const out = new Uint8ClampedArray(photo.length);
  for (let i = 0, j = 0; i < photo.length; i += 4, j += 3) {
    out[i] = hwc[j];
    out[i + 1] = hwc[j + 1];
    out[i + 2] = hwc[j + 2];
    out[i + 3] = photo[i + 3];
  }
  return out;
}

/** RGBA bytes (H,W,4) -> float32 0..255 in the engine's layout, grown to MIN_SIDE by edge replication. */
function toInput(rgba, h, w, layout) {
  const H = Math.max(h, MIN_SIDE);
  const W = Math.max(w, MIN_SIDE);
  const n = H * W;
  const out = new Float32Array(n * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(y, h - 1); // replicate the last row / column (the CLI pads bottom and right)
    for (let x = 0; x < W; x++) {
      const s = (sy * w + Math.min(x, w - 1)) * 4;
      const d = y * W + x;
      if (layout === 'NCHW') {
        out[d] = rgba[s]; // (H,W,4) -> (1,3,H,W)
        out[n + d] = rgba[s + 1];
        out[2 * n + d] = rgba[s + 2];
      } else {
        out[d * 3] = rgba[s]; // (H,W,4) -> (1,H,W,3)
        out[d * 3 + 1] = rgba[s + 1];
        out[d * 3 + 2] = rgba[s + 2];
      }
    }
  }
  return { data: out, H, W };
}

/** Engine output (padded size H,W) -> (h,w,3) float32 interleaved, cropped back to the photo. */
function fromOutput(out, H, W, h, w, layout) {
  const n = H * W;
  const hwc = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = y * W + x;
      const d = (y * w + x) * 3;
      if (layout === 'NCHW') {
        hwc[d] = out[s]; // (1,3,H,W) -> (h,w,3)
        hwc[d + 1] = out[n + s];
        hwc[d + 2] = out[2 * n + s];
      } else {
        hwc[d] = out[s * 3]; // (1,H,W,3) -> (h,w,3)
        hwc[d + 1] = out[s * 3 + 1];
        hwc[d + 2] = out[s * 3 + 2];
      }
    }
  }
  return hwc;
}

// ---------------------------------------------------------------- onnxruntime-web
async function initOrt(vendorUrl, threads, id) {
  const file = engine.backend === 'webgpu' ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs';
  let ort;
  try {
    ort = await import(new URL(`ort/${file}`, vendorUrl).href);
  } catch (err) {
    throw new WorkerError('load', `could not load ONNX Runtime Web (${err.message})`);
  }
  ort.env.wasm.wasmPaths = new URL('ort/', vendorUrl).href;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  // Download the 14 MB wasm binary ourselves so the page can show progress; ORT compiles these bytes.
  const wasmFile = engine.backend === 'webgpu' ? 'ort-wasm-simd-threaded.asyncify.wasm' : 'ort-wasm-simd-threaded.wasm';
  const bytes = await fetchBytes(new URL(`ort/${wasmFile}`, vendorUrl).href, id, 'ONNX Runtime (WebAssembly)');
  ort.env.wasm.wasmBinary = bytes.buffer;
  lib = ort;
  return {
    library: 'onnxruntime-web',
    version: ort.env.versions?.web ?? '',
    backend: engine.backend,
    threads: engine.backend === 'wasm' ? ort.env.wasm.numThreads : null,
  };
}

async function openOrt(msg) {
  const bytes = await fetchBytes(msg.url, msg.id, 'the model');
  let session;
  try {
    session = await lib.InferenceSession.create(bytes, {
      executionProviders: [engine.backend],
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    const text = String(err?.message ?? err).split('\n')[0];
    if (engine.backend === 'webgpu' && /webgpu|adapter|gpu/i.test(text)) {
      throw new WorkerError('unavailable', `ONNX Runtime could not start WebGPU here (${text})`);
    }
    throw new WorkerError('load', `ONNX Runtime could not load the model (${text})`);
  }
  if (engine.backend === 'wasm') info.threads = lib.env.wasm.numThreads; // final after the first session
  const io = msg.contract?.onnx ?? {};
  const imageName = io.image ?? session.inputNames[0];
  const weightsName = msg.numStyles > 1 ? (io.style_weights ?? session.inputNames[1]) : null;
  const outputName = io.output ?? session.outputNames[0];
  return {
    layout: 'NCHW',
    async run(input, H, W, weights) {
      const feeds = { [imageName]: new lib.Tensor('float32', input, [1, 3, H, W]) };
      if (weightsName) feeds[weightsName] = new lib.Tensor('float32', Float32Array.from(weights), [1, weights.length]);
      const results = await session.run(feeds);
      const out = results[outputName];
      const data = await out.getData();
      out.dispose?.();
      return data;
    },
  };
}

// ---------------------------------------------------------------- TF.js
function webglFacts() {
  // What the WebGL backend will run on: the renderer (SwiftShader / llvmpipe = software) and texture limit.
  const canvas = new OffscreenCanvas(1, 1);
  const gl = canvas.getContext('webgl2') || canvas.getContext('webgl');
  if (!gl) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  return {
    renderer,
    software: /swiftshader|llvmpipe|softpipe|software|basic render/i.test(renderer),
    maxTextureSize: gl.getParameter(gl.MAX_TEXTURE_SIZE),
  };
}

async function initTfjs(vendorUrl, threads, id) {
  const scripts = ['tf.min.js', 'tf-backend-wasm.min.js'];
  if (engine.backend === 'webgpu') scripts.push('tf-backend-webgpu.min.js');
  post({ op: 'progress', id, what: 'TensorFlow.js', loaded: 0, total: 0 });
  try {
    // tfjs-backend-wasm sizes its thread pool from navigator.hardwareConcurrency / 2 when the module
    // loads (PTHREAD_POOL_SIZE, tfjs issues 5446 / 8513), so a 2-core machine gets 1 thread whatever
    // setThreadsCount asks. Report the cores we want threads for, before the backend script runs.
    if (engine.backend === 'wasm' && threads > 1) {
      Object.defineProperty(self.navigator, 'hardwareConcurrency', { value: threads * 2, configurable: true });
    }
    importScripts(...scripts.map((s) => new URL(`tfjs/${s}`, vendorUrl).href));
  } catch (err) {
    throw new WorkerError('load', `could not load TensorFlow.js (${err.message})`);
  }
  const tf = self.tf;
  tf.wasm.setWasmPaths(new URL('tfjs/', vendorUrl).href);
  tf.wasm.setThreadsCount(threads);
  tf.env().set('WEBGL_PACK', true);
  const out = { library: 'TF.js', version: tf.version.tfjs, backend: engine.backend, threads: null };
  if (engine.backend === 'webgl') {
    const facts = webglFacts();
    if (!facts) throw new WorkerError('unavailable', 'WebGL is not available to workers in this browser');
    Object.assign(out, facts);
  }
  if (engine.backend === 'webgpu' && !tf.findBackendFactory('webgpu')) {
    throw new WorkerError('unavailable', 'TF.js WebGPU backend is not available in this browser');
  }
  let ok = false;
  try {
    ok = await tf.setBackend(engine.backend);
    await tf.ready();
  } catch (err) {
    ok = false;
  }
  if (!ok || tf.getBackend() !== engine.backend) {
    throw new WorkerError('unavailable', `TF.js could not start its ${engine.backend} backend in this browser`);
  }
  if (engine.backend === 'wasm') out.threads = tf.wasm.getThreadsCount();
  lib = tf;
  return out;
}

async function openTfjs(msg) {
  const tf = lib;
  let graph;
  try {
    graph = await tf.loadGraphModel(msg.url, {
      onProgress: (fraction) => post({ op: 'progress', id: msg.id, what: 'the model', loaded: fraction, total: 1 }),
    });
  } catch (err) {
    throw new WorkerError('load', `TF.js could not load ${msg.url} (${String(err?.message ?? err).split('\n')[0]})`);
  }
  const io = msg.contract?.tfjs ?? {};
  const inputs = graph.inputs.map((t) => t.name);
  const imageName = io.image ?? graph.inputs.find((t) => t.shape?.length === 4)?.name ?? inputs[0];
  const weightsName = msg.numStyles > 1 ? (io.style_weights ?? inputs.find((n) => n !== imageName)) : null;
  const outputName = io.output ?? graph.outputs[0].name;
  // The widest spatial convolution decides the largest WebGL texture (im2col matrix); see limits.
  const kernels = Object.values(graph.weights ?? {})
    .flat()
    .filter((t) => t.shape.length === 4 && t.shape[0] > 1)
    .map((t) => t.shape[0] * t.shape[1] * t.shape[2]);
  return {
    layout: 'NHWC',
    im2colWidth: kernels.length ? Math.max(...kernels) : 0,
    async run(input, H, W, weights) {
      const out = tf.tidy(() => {
        const feeds = { [imageName]: tf.tensor4d(input, [1, H, W, 3]) };
        if (weightsName) feeds[weightsName] = tf.tensor2d(Float32Array.from(weights), [1, weights.length]);
        return graph.execute(feeds, outputName);
      });
      const data = await out.data();
      out.dispose();
      return data;
    },
  };
}

/**
 * The largest WebGL texture TF.js 4.22 allocates for an (H,W) input: the packed im2col matrix of the
 * widest spatial convolution, (H*W) x (kh*kw*cin) floats at 4 per texel, laid out as a square once a
 * side would exceed the limit. Checked against TF.js's own errors: 512x512 with a 9x9x16 kernel asks
 * for 9216x9216, 768x768 for 13824x13824, 768x768 with 9x9x3 fits in 5986x5986; a bundled width-0.5
 * network (9x9x16 last layer) ran at 512x384 (7981 px needed) on SwiftShader's 8192 px limit.
 */
function webglTextureFor(session, H, W) {
  if (!session.im2colWidth) return null;
  return Math.ceil(Math.sqrt((H * W * session.im2colWidth) / 4));
}

// ---------------------------------------------------------------- messages
function describeError(err) {
  const text = String(err?.message ?? err);
  if (err instanceof WorkerError) return { kind: err.kind, message: err.message };
  if (/bad_alloc|out of memory|memory access out of bounds|Array buffer allocation failed|could not allocate/i.test(text)) {
    return { kind: 'memory', message: `the engine ran out of memory (${text.split('\n')[0].slice(0, 160)})` };
  }
  if (/texture size/i.test(text)) return { kind: 'memory', message: `the image needs a larger GPU texture than this device allows (${text.split('\n')[0].slice(0, 160)})` };
  return { kind: 'run', message: text.split('\n')[0].slice(0, 300) };
}

async function handle(msg) {
  if (msg.op === 'init') {
    engine = msg.engine;
    info = engine.format === 'onnx' ? await initOrt(msg.vendorUrl, msg.threads, msg.id) : await initTfjs(msg.vendorUrl, msg.threads, msg.id);
    info.isolated = self.crossOriginIsolated;
    return { info };
  }
  if (msg.op === 'open') {
    if (!sessions.has(msg.key)) {
      const session = engine.format === 'onnx' ? await openOrt(msg) : await openTfjs(msg);
      sessions.set(msg.key, session);
    }
    return { info };
  }
  if (msg.op === 'run') {
    const session = sessions.get(msg.key);
    if (!session) throw new WorkerError('run', `model ${msg.key} is not open`);
    const photo = pixelsOf(msg.bitmap, msg.w, msg.h);
    const { data: input, H, W } = toInput(photo, msg.h, msg.w, session.layout);
    if (engine.backend === 'webgl' && info.maxTextureSize) {
      const needed = webglTextureFor(session, H, W);
      if (needed && needed > info.maxTextureSize) {
        const pixels = (info.maxTextureSize ** 2 * 4) / session.im2colWidth; // the most that fits
        const side = Math.floor(Math.sqrt((pixels * Math.max(W, H)) / Math.min(W, H)));
        throw new WorkerError(
          'memory',
          `${W}×${H} needs a ${needed} px WebGL texture; this device allows ${info.maxTextureSize} px. ` +
            `Choose a resolution of ${side} px or less, or the WASM engine`,
        );
      }
    }
    const t0 = performance.now();
    const out = await session.run(input, H, W, msg.weights);
    const ms = performance.now() - t0;
    const data = fromOutput(out, H, W, msg.h, msg.w, session.layout);
    const rgba = withAlpha(data, photo);
    return { data, rgba, photo, ms, transfer: [data.buffer, rgba.buffer, photo.buffer] };
  }
  throw new WorkerError('run', `unknown request ${msg.op}`);
}

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    const { transfer = [], ...result } = await handle(msg);
    post({ op: 'ok', id: msg.id, ...result }, transfer);
  } catch (err) {
    post({ op: 'error', id: msg.id, ...describeError(err) });
  }
};
