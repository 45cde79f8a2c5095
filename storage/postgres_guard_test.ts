import assert from "node:assert/strict";
import { guardDroppedSocketWrites } from "./postgres.ts";

Deno.test("postgres.js's deferred write to a closed socket does not end the process", async () => {
  guardDroppedSocketWrites();
  let seen = false;
  const probe = (event: ErrorEvent) => {
    if (event.error?.message?.includes("reading 'write'")) seen = true;
  };
  globalThis.addEventListener("error", probe);
  try {
    // The shape of the error postgres.js 3.4.9 throws from a setImmediate after an outage.
    const error = new TypeError("Cannot read properties of null (reading 'write')");
    error.stack = `${error.message}\n    at Immediate.nextWrite ` +
      "(file:///x/node_modules/postgres/src/connection.js:255:22)";
    setTimeout(() => {
      throw error;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(seen, "the error was raised and handled");
  } finally {
    globalThis.removeEventListener("error", probe);
  }
});
