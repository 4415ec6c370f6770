// Pixels on the page's side. The photo is scaled to the run size with createImageBitmap (off the main
// thread), shown, and handed to the inference worker (js/worker.js reads its pixels and converts
// them to the engine's layout). The worker answers with an interleaved (H,W,3) Float32Array in
// 0..255, the same as RGBA bytes at full strength, and the pixels it was fed; other strengths are
// blended here.

/** Scale (w, h) so the longer side is at most maxSide (never upscales). maxSide 0 = keep. */
export function fitSize(w, h, maxSide) {
  if (!maxSide || Math.max(w, h) <= maxSide) return { w, h };
  const s = maxSide / Math.max(w, h);
  return { w: Math.max(1, Math.round(w * s)), h: Math.max(1, Math.round(h * s)) };
}

/** Show an ImageBitmap (already at the run size) on `canvas`. */
export function drawBitmap(canvas, bitmap) {
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, bitmap.width, bitmap.height);
  ctx.drawImage(bitmap, 0, 0);
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
