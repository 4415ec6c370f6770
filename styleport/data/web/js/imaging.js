// Pixels on the page's side. The photo is drawn on a canvas at the chosen size and its RGBA bytes go
// to the inference worker (js/worker.js converts them to the engine's layout); the worker answers
// with an interleaved (H,W,3) Float32Array in 0..255 that is blended with the photo here.

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
  ctx.clearRect(0, 0, w, h);
  ctx.drawImage(source, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
}

/**
 * Mix the stylized and the original pixels: strength 1 = pure network output, 0 = the photo.
 * (H,W,3) float32 + the photo's RGBA ImageData -> ImageData RGBA uint8 (rounded, clamped). The photo's
 * alpha is put back, as the CLI does: transparent areas of a PNG stay transparent.
 */
export function blendToImageData(stylized, original, strength) {
  const { width: w, height: h, data: photo } = original;
  const image = new ImageData(w, h);
  const px = image.data;
  const s = Math.min(1, Math.max(0, strength));
  const n = w * h;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      px[i * 4 + c] = s * stylized[i * 3 + c] + (1 - s) * photo[i * 4 + c]; // clamped, rounded half to even
    }
    px[i * 4 + 3] = photo[i * 4 + 3];
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
