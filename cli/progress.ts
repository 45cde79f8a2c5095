/**
 * A progress bar for training on a TTY, built on `cli-progress` (drawn on stderr, so stdout
 * stays clean for the `Epoch N: loss = ...` lines).
 *
 * @module
 */
// @ts-types="./cli_progress.d.ts"
import cliProgress from "npm:cli-progress@3.12.0";
import process from "node:process";

/** A bar over the run's optimizer steps, showing epoch, loss and learning rate. */
export class StepProgress {
  #multi: cliProgress.MultiBar | undefined;
  #bar: cliProgress.SingleBar | undefined;

  constructor(readonly enabled: boolean) {}

  start(total: number, startAt: number): void {
    if (!this.enabled) return;
    // A terminal that went away (a closed window, a dropped ssh session: its SIGHUP comes after)
    // fails the bar's next write, EIO; unhandled, that error took the process down before its run
    // was recorded as interrupted. The bar stops drawing instead.
    process.stderr.on("error", this.#lost);
    this.#multi = new cliProgress.MultiBar({
      format:
        " {bar} {percentage}% | step {value}/{total} | epoch {epoch} | loss {loss} | lr {lr} | eta {eta_formatted}",
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stderr,
    }, cliProgress.Presets.shades_classic);
    this.#bar = this.#multi.create(total, startAt, { epoch: "-", loss: "-", lr: "-" });
  }

  update(step: number, payload: { epoch: number; loss: string; lr: string }): void {
    this.#bar?.update(step, payload);
  }

  /** Prints a line (above the bar when one is drawn). */
  log(line: string): void {
    if (this.#multi) this.#multi.log(line + "\n");
    else console.log(line);
  }

  stop(): void {
    this.#multi?.stop();
    this.#multi = undefined;
    this.#bar = undefined;
    process.stderr.off("error", this.#lost);
  }

  /** The terminal is gone: no more drawing (nor its stop's, which writes too). */
  #lost = () => {
    this.#multi = undefined;
    this.#bar = undefined;
  };
}
