// Webcam live mode: grab a frame, stylize it, draw it, repeat; report frames per second.

export class Webcam {
  constructor(video, onFrame, onFps) {
    this.video = video;
    this.onFrame = onFrame; // async (video) => void; one frame at a time
    this.onFps = onFps;
    this.stream = null;
    this.running = false;
  }

  async start() {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error('this browser gives no camera access here (it needs https or localhost)');
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (err) {
      const why = err.name === 'NotAllowedError' ? 'permission was denied' : err.name === 'NotFoundError' ? 'no camera found' : err.message;
      throw new Error(`could not start the camera: ${why}`);
    }
    this.video.srcObject = this.stream;
    await this.video.play();
    this.running = true;
    this.loop();
  }

  async loop() {
    let last = performance.now();
    let fps = 0;
    while (this.running) {
      await this.onFrame(this.video);
      if (!this.running) break; // stopped while that frame ran: report nothing more
      const now = performance.now();
      const instant = 1000 / Math.max(1, now - last);
      fps = fps ? 0.8 * fps + 0.2 * instant : instant; // exponential moving average
      last = now;
      this.onFps(fps);
      await new Promise((r) => requestAnimationFrame(r));
    }
  }

  stop() {
    this.running = false;
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.video.srcObject = null;
  }
}
