/**
 * Completions per second over the last minute, drawn as a sparkline on a canvas (redrawn once a second,
 * and only then).
 */
export class Throughput {
  readonly #canvas: HTMLCanvasElement;
  readonly #label: HTMLElement;
  readonly #seconds: number;
  /** Completions per whole second, oldest first; the last entry is the second under way. */
  readonly #buckets: number[];
  #second = Math.floor(performance.now() / 1000);

  constructor(canvas: HTMLCanvasElement, label: HTMLElement, seconds = 60) {
    this.#canvas = canvas;
    this.#label = label;
    this.#seconds = seconds;
    this.#buckets = new Array<number>(seconds).fill(0);
    setInterval(() => this.#tick(), 1000);
    this.#draw();
  }

  /** Counts completions in the current second. */
  record(count = 1): void {
    this.#advance();
    this.#buckets[this.#buckets.length - 1]! += count;
  }

  #advance(): void {
    const now = Math.floor(performance.now() / 1000);
    const steps = Math.min(now - this.#second, this.#seconds);
    for (let i = 0; i < steps; i++) {
      this.#buckets.shift();
      this.#buckets.push(0);
    }
    this.#second = now;
  }

  #tick(): void {
    this.#advance();
    this.#draw();
  }

  #draw(): void {
    // The second under way is partial: the rate shown is the last whole second's.
    const whole = this.#buckets.slice(0, -1);
    const last = whole[whole.length - 1] ?? 0;
    const peak = Math.max(...whole, 1);
    this.#label.textContent = `${last.toLocaleString("en")}/s (peak ${Math.max(...whole, 0).toLocaleString("en")}/s in the last minute)`;
    const ratio = window.devicePixelRatio || 1;
    const width = this.#canvas.clientWidth;
    const height = this.#canvas.clientHeight;
    if (width === 0 || height === 0) return;
    if (this.#canvas.width !== Math.round(width * ratio) || this.#canvas.height !== Math.round(height * ratio)) {
      this.#canvas.width = Math.round(width * ratio);
      this.#canvas.height = Math.round(height * ratio);
    }
    const context = this.#canvas.getContext("2d");
    if (!context) return;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const step = width / Math.max(whole.length - 1, 1);
    const y = (value: number) => height - 2 - (value / peak) * (height - 4);
    context.beginPath();
    whole.forEach((value, i) => (i === 0 ? context.moveTo(0, y(value)) : context.lineTo(i * step, y(value))));
    context.lineTo(width, height);
    context.lineTo(0, height);
    context.closePath();
    context.fillStyle = "rgb(37 99 235 / 0.15)";
    context.fill();
    context.beginPath();
    whole.forEach((value, i) => (i === 0 ? context.moveTo(0, y(value)) : context.lineTo(i * step, y(value))));
    context.strokeStyle = "#2563eb";
    context.lineWidth = 1.5;
    context.stroke();
  }
}
