// Cross-origin isolation for static hosts that cannot set response headers (GitHub Pages, S3...).
//
// Multi-threaded WebAssembly (ONNX Runtime / TF.js wasm; faster only when a core is idle) needs SharedArrayBuffer,
// which browsers only enable on pages served with
//   Cross-Origin-Opener-Policy: same-origin  and  Cross-Origin-Embedder-Policy: require-corp.
// `styleport demo serve` sends them. Elsewhere, this file registers itself as a service worker that
// adds them to every same-origin response, then reloads the page once. The page still works
// (single-threaded) where service workers are unavailable; add ?coi=0 to the URL to opt out.
// This one file is both the page script and the worker script.

if (typeof window === 'undefined') {
  // ---- service worker
  self.addEventListener('install', () => self.skipWaiting());
  self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
  self.addEventListener('fetch', (event) => {
    const request = event.request;
    if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
    if (new URL(request.url).origin !== self.location.origin) return;
    event.respondWith(
      fetch(request).then((response) => {
        if (response.status === 0) return response; // opaque: headers cannot be changed
        const headers = new Headers(response.headers);
        headers.set('Cross-Origin-Opener-Policy', 'same-origin');
        headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
        headers.set('Cross-Origin-Resource-Policy', 'same-origin');
        return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
      }),
    );
  });
} else {
  // ---- page
  (() => {
    const key = 'styleport-coi-reloaded';
    if (window.crossOriginIsolated) {
      sessionStorage.removeItem(key);
      return;
    }
    const optOut = new URLSearchParams(location.search).get('coi') === '0';
    if (optOut || !window.isSecureContext || !('serviceWorker' in navigator)) return;
    navigator.serviceWorker
      .register(document.currentScript.src)
      .then(() => navigator.serviceWorker.ready)
      .then(() => {
        if (!sessionStorage.getItem(key)) {
          sessionStorage.setItem(key, '1'); // reload at most once per tab, never loop
          location.reload();
        }
      })
      .catch((err) => console.info(`styleport: cross-origin isolation service worker not installed (${err.message})`));
  })();
}
