/**
 * The event stream behind `train(...).events()`: every call gets its own iterator over the run's
 * events, so two loops (a log and a progress bar) each see every event, `run.finished` included.
 *
 * Events are held from the run's start until every iterator made so far has read them: each
 * iterator made before any event is read, or in the same piece of synchronous code as the first
 * (two loops set up together), or after the run ended with none made before, gets every event;
 * one made later starts at the oldest event still held, those that every earlier iterator has
 * read being gone (none, where one read them all). An iterator left (`break`, `return()`) holds
 * nothing back: once every iterator made has left, events are held for none (a loop made after
 * gets those pushed from then on).
 *
 * @module
 */

/** A queue of events that any number of iterators read each in full. */
export class EventQueue<T> {
  /** Held events: `#items[i]` is event number `#offset + i`. */
  #items: T[] = [];
  #offset = 0;
  /** The next event number each live iterator reads. */
  #cursors = new Set<{ next: number }>();
  #waiting: (() => void)[] = [];
  #closed = false;
  #trimQueued = false;
  /** An iterator was made: once none is left, events are held for no one. */
  #iterated = false;

  /**
   * Adds an event for every iterator; none once the stream is closed (its closing event is its
   * last: a late message of a Worker being terminated is not added after it).
   */
  push(item: T): void {
    if (this.#closed) return;
    if (this.#iterated && this.#cursors.size === 0) {
      // every iterator left (a loop's `break`): held for no one, as a long run's steps would be;
      // those still held (their trim queued) go with it, so that a loop made next starts here
      this.#trimNow();
      this.#offset++;
      return;
    }
    this.#items.push(item);
    this.#wake();
  }

  /** Ends the stream: each iterator ends once it has read the events before. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  /** An iterator over the held events and every later one, until the stream is closed. */
  iterate(): AsyncIterable<T> {
    const cursor = { next: this.#offset };
    this.#cursors.add(cursor);
    this.#iterated = true;
    // deno-lint-ignore no-this-alias
    const queue = this;
    return {
      [Symbol.asyncIterator](): AsyncIterator<T> {
        return {
          async next(): Promise<IteratorResult<T>> {
            for (;;) {
              if (!queue.#cursors.has(cursor)) return { value: undefined, done: true };
              const index = cursor.next - queue.#offset;
              if (index < queue.#items.length) {
                const value = queue.#items[index];
                cursor.next++;
                queue.#trim();
                return { value, done: false };
              }
              if (queue.#closed) {
                queue.#leave(cursor);
                return { value: undefined, done: true };
              }
              await new Promise<void>((resolve) => queue.#waiting.push(resolve));
            }
          },
          return(): Promise<IteratorResult<T>> {
            queue.#leave(cursor);
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    };
  }

  #leave(cursor: { next: number }) {
    this.#cursors.delete(cursor);
    this.#trim();
  }

  /**
   * Drops the events every live iterator has read (none while no iterator was ever made), once
   * the code running now is done: iterators made together, one after the other in one piece of
   * code (`Promise.all([loop(run.events()), loop(run.events())])`), each start at the first
   * event held, though the first read some before the second was made.
   */
  #trim() {
    if (this.#trimQueued) return;
    this.#trimQueued = true;
    queueMicrotask(() => {
      this.#trimQueued = false;
      this.#trimNow();
    });
  }

  #trimNow() {
    if (this.#cursors.size === 0) {
      // (none made yet: all held for the first; every one left: none held)
      if (this.#iterated) {
        this.#offset += this.#items.length;
        this.#items = [];
      }
      return;
    }
    let oldest = Infinity;
    for (const cursor of this.#cursors) oldest = Math.min(oldest, cursor.next);
    const drop = oldest - this.#offset;
    if (drop <= 0) return;
    this.#items.splice(0, drop);
    this.#offset = oldest;
  }

  #wake() {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}
