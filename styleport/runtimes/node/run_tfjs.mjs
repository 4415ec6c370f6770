// Run a styleport TF.js graph model in Node with @tensorflow/tfjs (wasm or cpu backend).
//
// Usage: node run_tfjs.mjs --model DIR --node-modules DIR [--backend wasm|cpu] [--threads N]
//
// One process per session: the model is loaded once, then images are streamed over stdin/stdout.
// Every message (both directions) is a frame:
//   u32 little-endian header length | JSON header | payload bytes (header.bytes long, may be 0)
// Requests:  {"cmd": "run", "height": H, "width": W, "styleWeights": [..] | null, "bytes": H*W*3*4}
//            + float32 little-endian RGB 0..255, (H,W,3) row-major
//            {"cmd": "quit", "bytes": 0}
// Replies:   first {"ok": true, "event": "ready", backend, threads, simd, tfjsVersion, inputs, numStyles}
//            then per run {"ok": true, "height", "width", "ms", "bytes"} + float32 (H,W,3) output
//            or {"ok": false, "error": "..."} (the process keeps serving after a bad request).
// Model files are read with fs and handed to tf.loadGraphModel through a custom IOHandler, so no
// tfjs-node (which cannot install offline) and no HTTP server are needed.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";

// tfjs prints banners with console.log; stdout carries the protocol, so send all logging to stderr.
console.log = console.info = console.warn = console.debug = (...a) => process.stderr.write(a.join(" ") + "\n");

function parseArgs(argv) {
  const args = { backend: "wasm", threads: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "").replace(/-(.)/g, (_, c) => c.toUpperCase());
    args[key] = argv[i + 1];
  }
  if (!args.model || !args.nodeModules) throw new Error("usage: run_tfjs.mjs --model DIR --node-modules DIR");
  return args;
}

function writeFrame(header, payload) {
  const body = Buffer.from(JSON.stringify({ ...header, bytes: payload ? payload.byteLength : 0 }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length, 0);
  const parts = [len, body];
  if (payload) parts.push(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  process.stdout.write(Buffer.concat(parts));
}

// Async frame reader over stdin: yields {header, payload}.
async function* frames(stream) {
  let buf = Buffer.alloc(0);
  for await (const chunk of stream) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (buf.length < 4) break;
      const hlen = buf.readUInt32LE(0);
      if (buf.length < 4 + hlen) break;
      const header = JSON.parse(buf.subarray(4, 4 + hlen).toString("utf8"));
      const total = 4 + hlen + (header.bytes || 0);
      if (buf.length < total) break;
      const payload = Buffer.from(buf.subarray(4 + hlen, total)); // copy: aligned, owned
      buf = buf.subarray(total);
      yield { header, payload };
    }
  }
}

function fileHandler(tf, modelDir) {
  const modelJSON = JSON.parse(readFileSync(join(modelDir, "model.json"), "utf8"));
  return {
    load: () =>
      tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = [];
        const buffers = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const b = readFileSync(join(modelDir, p));
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); // Buffer -> ArrayBuffer
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      }),
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const require = createRequire(join(args.nodeModules, "..", "noop.js"));
  const resolve = (name) => require.resolve(name, { paths: [args.nodeModules] });
  const tf = require(resolve("@tensorflow/tfjs"));
  let threads = 1;
  if (args.backend === "wasm") {
    const wasm = require(resolve("@tensorflow/tfjs-backend-wasm"));
    const wasmDir = dirname(resolve("@tensorflow/tfjs-backend-wasm")) + "/";
    wasm.setWasmPaths(wasmDir);
    if (Number(args.threads) > 0) wasm.setThreadsCount(Number(args.threads));
    if (!(await tf.setBackend("wasm"))) throw new Error("the tfjs wasm backend failed to initialise");
    threads = wasm.getThreadsCount();
  } else if (args.backend === "cpu") {
    if (!(await tf.setBackend("cpu"))) throw new Error("the tfjs cpu backend failed to initialise");
  } else {
    throw new Error(`unknown backend '${args.backend}' (wasm or cpu)`);
  }
  await tf.ready();
  const model = await tf.loadGraphModel(fileHandler(tf, args.model));
  const sig = model.modelSignature?.inputs ?? {};
  const inputs = Object.keys(sig);
  const styleSpec = sig.style_weights?.tensorShape?.dim;
  const numStyles = styleSpec ? Number(styleSpec[styleSpec.length - 1].size) : 1;
  writeFrame({
    ok: true,
    event: "ready",
    backend: tf.getBackend(),
    threads,
    simd: args.backend === "wasm" ? await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") : false,
    multithread: args.backend === "wasm" ? await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT") : false,
    tfjsVersion: tf.version.tfjs,
    inputs,
    numStyles,
  });

  for await (const { header, payload } of frames(process.stdin)) {
    if (header.cmd === "quit") break;
    try {
      if (header.cmd !== "run") throw new Error(`unknown command '${header.cmd}'`);
      const { height, width } = header;
      if (payload.byteLength !== height * width * 3 * 4) {
        throw new Error(`payload has ${payload.byteLength} bytes, expected ${height * width * 3 * 4}`);
      }
      const pixels = new Float32Array(payload.buffer, payload.byteOffset, height * width * 3);
      const start = performance.now();
      const result = tf.tidy(() => {
        const feeds = { image: tf.tensor4d(pixels, [1, height, width, 3], "float32") }; // (1,H,W,3) NHWC
        if (numStyles > 1) {
          const sw = header.styleWeights ?? Array.from({ length: numStyles }, (_, i) => (i === 0 ? 1 : 0));
          if (sw.length !== numStyles) throw new Error(`expects ${numStyles} style weights, got ${sw.length}`);
          feeds.style_weights = tf.tensor2d(sw, [1, numStyles], "float32"); // (S,) -> (1,S)
        }
        return model.execute(feeds);
      });
      const out = await result.data(); // (1,H,W,3) -> flat Float32Array
      const ms = performance.now() - start;
      const [, oh, ow, oc] = result.shape;
      result.dispose();
      if (oc !== 3) throw new Error(`model returned shape [${result.shape}], expected [1,H,W,3]`);
      writeFrame({ ok: true, height: oh, width: ow, ms }, out);
    } catch (err) {
      writeFrame({ ok: false, error: String(err?.message ?? err).split("\n")[0] });
    }
  }
}

main().catch((err) => {
  writeFrame({ ok: false, event: "fatal", error: String(err?.message ?? err).split("\n")[0] });
  process.exitCode = 1;
});
