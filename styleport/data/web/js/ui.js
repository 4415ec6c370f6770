// Controls built from the manifest: style cards, the mixer (multi-style models only), the engine
// picker, sample photos and the footer. Each takes a callback; state stays in app.js.

import { ENGINES, probeWebGpu, unavailableReason } from './engines.js';
import { normalise } from './manifest.js';
import { formatBytes, sampleTitle, styleByline, styleTitle } from './names.js';

const $ = (id) => document.getElementById(id);

export function buildStyleCards(manifest, baseUrl, onSelect) {
  const box = $('styles');
  box.replaceChildren();
  for (const model of manifest.models) {
    model.styles.forEach((style, index) => {
      const card = document.createElement('button');
      card.className = 'style-card';
      card.type = 'button';
      card.dataset.model = model.id;
      card.dataset.style = String(index);
      card.setAttribute('aria-pressed', 'false');
      const img = document.createElement('img');
      img.src = new URL(style.thumbnail, baseUrl).href;
      img.alt = ''; // the card's text names the painting
      img.loading = 'lazy';
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = styleTitle(style);
      const byline = document.createElement('span');
      byline.className = 'byline';
      byline.textContent = styleByline(style);
      card.append(img, name, byline);
      card.addEventListener('click', () => onSelect(model, index));
      box.append(card);
    });
  }
}

export function markSelected(modelId, index) {
  for (const card of document.querySelectorAll('.style-card')) {
    card.setAttribute('aria-pressed', String(card.dataset.model === modelId && Number(card.dataset.style) === index));
  }
}

/** Mixing sliders, shown only for a model with more than one style. */
export function buildMixer(model, onMix) {
  $('mix').hidden = model.num_styles < 2;
  const box = $('mix-sliders');
  box.replaceChildren();
  if (model.num_styles < 2) return;
  model.styles.forEach((style, index) => {
    const label = document.createElement('label');
    label.textContent = styleTitle(style);
    const slider = document.createElement('input');
    slider.type = 'range';
    slider.min = '0';
    slider.max = '100';
    slider.dataset.index = String(index);
    slider.addEventListener('input', () => {
      const weights = normalise([...box.querySelectorAll('input')].map((s) => Number(s.value)));
      const text = `Mix: ${model.styles.map((s, i) => `${styleTitle(s)} ${Math.round(weights[i] * 100)}%`).join(', ')}`;
      onMix(weights, text);
    });
    label.append(slider);
    box.append(label);
  });
}

export function syncMixer(weights) {
  $('mix-sliders').querySelectorAll('input').forEach((s, i) => {
    s.value = String(Math.round(weights[i] * 100));
  });
}

export function buildEnginePicker(manifest, selected, onChange) {
  const select = $('engine');
  select.replaceChildren();
  const formats = new Set(manifest.models.flatMap((m) => Object.keys(m.files ?? {})));
  for (const engine of ENGINES) {
    const option = document.createElement('option');
    option.value = engine.key;
    const reason = !formats.has(engine.format) ? `no ${engine.format} files in this build` : unavailableReason(engine);
    option.textContent = reason ? `${engine.label} (unavailable)` : engine.label;
    option.disabled = Boolean(reason);
    option.title = reason ?? '';
    select.append(option);
  }
  select.value = selected;
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
  select.addEventListener('change', () => onChange(select.value));
}

export function buildSamples(manifest, baseUrl, onPick) {
  const box = $('samples');
  for (const sample of manifest.samples ?? []) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'sample';
    const title = sampleTitle(sample);
    button.setAttribute('aria-label', `Sample photo: ${title}`);
    button.title = [title, sample.credit].filter(Boolean).join(' — ');
    const img = document.createElement('img');
    img.src = new URL(sample.path, baseUrl).href;
    img.alt = '';
    button.append(img);
    button.addEventListener('click', () => onPick(img.src, sample.name));
    box.append(button);
  }
}

export function buildFooter(manifest) {
  const styles = manifest.models.flatMap((m) => m.styles.map(styleTitle));
  const files = manifest.models.flatMap((m) => Object.values(m.files ?? {}).map((f) => f.bytes));
  const smallest = files.length ? formatBytes(Math.min(...files)) : '';
  const vendor = Object.entries(manifest.vendor ?? {})
    .filter(([name]) => ['onnxruntime-web', '@tensorflow/tfjs'].includes(name))
    .map(([name, version]) => `${name === 'onnxruntime-web' ? 'ONNX Runtime Web' : 'TensorFlow.js'} ${version}`);
  $('footer-models').textContent =
    `${styles.length} style${styles.length === 1 ? '' : 's'} (${styles.join(', ')}), each a small network` +
    (smallest ? ` (from ${smallest})` : '') +
    ` exported with styleport and run by ${vendor.join(' or ') || 'the browser'}.`;
  const samples = (manifest.samples ?? []).filter((s) => s.credit).map((s) => `${sampleTitle(s)}: ${s.credit}`);
  const credits = $('footer-credits');
  credits.replaceChildren();
  if (samples.length) credits.append(`Sample photos — ${samples.join('; ')}. `);
  const link = document.createElement('a');
  link.href = 'vendor/LICENSES.md';
  link.textContent = 'Third-party licenses';
  credits.append(link);
}
