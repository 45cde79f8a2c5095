// A process that finished its work with a Worker blocked in a system call (reading the FIFO
// Deno.args[0], which nothing writes), terminated but still running; exitIfHeld(3, 500) follows.
// With no FIFO given, no Worker is started.
import { exitIfHeld } from "../exit_guard.ts";

const fifo = Deno.args[0];
if (fifo) {
  const source = `Deno.readFileSync(${JSON.stringify(fifo)});`;
  const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
  const worker = new Worker(url, { type: "module" });
  await new Promise((resolve) => setTimeout(resolve, 300));
  worker.terminate();
}
Deno.exitCode = 3;
exitIfHeld(3, 500);
