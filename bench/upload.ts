/**
 * What uploading a batch of images costs the trainer's thread: `queue.writeBuffer` of the
 * benchmark's MLP and CNN batches (256 and 128 Fashion-MNIST-sized images) as floats, as
 * `anneal train` uploaded them before, and as their bytes, as it uploads them to the WGSL step
 * now; JS time per upload (Deno copies the data in the call), median of rounds, alternating.
 *
 *   deno run -A bench/upload.ts [--rounds 7] [--uploads 50]
 *
 * @module
 */
import { benchFlags } from "./flags.ts";
import { median } from "./runner.ts";

const values = benchFlags(
  {
    rounds: { type: "string", default: "7" },
    uploads: { type: "string", default: "50" },
  },
  `Usage: deno run -A bench/upload.ts [--rounds 7] [--uploads 50]

What uploading a batch of images costs the trainer's thread: queue.writeBuffer of the benchmark's
MLP and CNN batches (256 and 128 Fashion-MNIST-sized images) as floats, as anneal train uploaded
them before, and as their bytes, as it uploads them to the WGSL step now. JS time per upload (Deno
copies the data in the call), median of --rounds rounds of --uploads uploads, alternating.`,
);
const rounds = Number(values.rounds);
const uploads = Number(values.uploads);

const adapter = await navigator.gpu.requestAdapter();
if (!adapter) throw new Error("No WebGPU adapter");
const device = await adapter.requestDevice();
console.log(`# ${adapter.info.description || adapter.info.vendor || "WebGPU adapter"}`);
for (const [name, images] of [["mlp", 256], ["cnn", 128]] as const) {
  const count = images * 784;
  const bytes = Uint8Array.from({ length: count }, (_, i) => (i * 37) % 256);
  const floats = Float32Array.from(bytes, (b) => b / 255);
  const buffer = device.createBuffer({
    size: floats.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  const times: Record<"floats" | "bytes", number[]> = { floats: [], bytes: [] };
  for (let round = 0; round <= rounds; round++) {
    for (const [kind, data] of [["floats", floats], ["bytes", bytes]] as const) {
      const started = performance.now();
      for (let i = 0; i < uploads; i++) {
        device.queue.writeBuffer(buffer, 0, data);
        device.queue.submit([]);
      }
      const ms = (performance.now() - started) / uploads;
      await device.queue.onSubmittedWorkDone();
      if (round > 0) times[kind].push(ms); // round 0: warm-up
    }
  }
  const [f, b] = [median(times.floats), median(times.bytes)];
  const rate = (bytes: number, ms: number) => (bytes / ms / 1e6).toFixed(2);
  console.log(
    `${name} batch (${images} images): floats ${f.toFixed(3)} ms (${
      rate(floats.byteLength, f)
    } GB/s), bytes ${b.toFixed(3)} ms (${rate(count, b)} GB/s): ${(f / b).toFixed(1)}x less ` +
      `time on the trainer's thread`,
  );
  buffer.destroy();
}
device.destroy();
