// Pixels in and out of the network. Every model in the manifest takes RGB float32 0..255 and
// returns RGB float32 0..255 of the same size; this module converts between canvases and the
// interleaved (H,W,3) Float32Array that both engines exchange with the page.

/** Scale (w, h) so the longer side is at most maxSide (never upscales). maxSide 0 = keep. */
export function fitSize(w, h, maxSide) {
  if (!maxSide || Math.max(w, h) <= maxSide) return { w, h };
  const s = maxSide / Math.max(w, h);
  return { w: Math.max(1, Math.round(w * s)), h: Math.max(1, Math.round(h * s)) };
}

/** Draw an image/bitmap/video frame into `canvas` at (w, h); returns its ImageData. */
export function drawSource(source, w, h, canvas) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
}

/** ImageData RGBA uint8 -> (H,W,3) float32 RGB 0..255 (alpha dropped). */
export function rgbFromImageData(imageData) {
  const { data, width, height } = imageData;
  const n = width * height;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    // (H,W,4) -> (H,W,3)
    out[i * 3] = data[i * 4];
    out[i * 3 + 1] = data[i * 4 + 1];
    out[i * 3 + 2] = data[i * 4 + 2];
  }
  return out;
}

/** (H,W,3) interleaved -> (1,3,H,W) planar, for ONNX's NCHW input. */
export function hwcToNchw(hwc, h, w) {
  const n = h * w;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i] = hwc[i * 3];
    out[n + i] = hwc[i * 3 + 1];
    out[2 * n + i] = hwc[i * 3 + 2];
  }
  return out;
}

/** (1,3,H,W) planar -> (H,W,3) interleaved, for ONNX's NCHW output. */
export function nchwToHwc(nchw, h, w) {
  const n = h * w;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = nchw[i];
    out[i * 3 + 1] = nchw[n + i];
    out[i * 3 + 2] = nchw[2 * n + i];
  }
  return out;
}

/**
 * Mix the stylized and the original pixels: strength 1 = pure network output, 0 = the photo.
 * (H,W,3) float32 x2 -> ImageData RGBA uint8 (rounded, clamped, opaque).
 */
export function blendToImageData(stylized, original, strength, w, h) {
  const image = new ImageData(w, h);
  const px = image.data;
  const s = Math.min(1, Math.max(0, strength));
  const n = w * h;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = s * stylized[i * 3 + c] + (1 - s) * original[i * 3 + c];
      px[i * 4 + c] = v; // Uint8ClampedArray rounds half to even and clamps to 0..255
    }
    px[i * 4 + 3] = 255;
  }
  return image;
}

/** Put ImageData on a canvas, resizing the canvas to fit it. */
export function paint(canvas, imageData) {
  canvas.width = imageData.width;
  canvas.height = imageData.height;
  canvas.getContext('2d').putImageData(imageData, 0, 0);
}

/** Decode a user file; rejects with a one-line message when it is not an image the browser reads. */
export async function decodeImageFile(file) {
  const looksLikeImage = file.type.startsWith('image/') || /\.(png|jpe?g|webp|gif|bmp|avif)$/i.test(file.name);
  if (!looksLikeImage) {
    throw new Error(`"${file.name}" is not an image (type ${file.type || 'unknown'}): choose a JPEG, PNG or WebP photo`);
  }
  try {
    return await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch (err) {
    throw new Error(`"${file.name}" could not be decoded as an image (corrupt or unsupported format)`);
  }
}
