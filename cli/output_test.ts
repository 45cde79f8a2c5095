import assert from "node:assert/strict";
import { writeFlagFile } from "./output.ts";
import { canMount, smallDisk } from "../tests/_tmpfs.ts";

Deno.test("writeFlagFile writes through a symbolic link at the path, which stays a link", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-output-" });
  try {
    await Deno.writeTextFile(`${dir}/report.html`, "old\n");
    await Deno.symlink("report.html", `${dir}/latest.html`);
    await writeFlagFile("--out", `${dir}/latest.html`, "new\n");
    assert.ok(Deno.lstatSync(`${dir}/latest.html`).isSymlink);
    assert.equal(await Deno.readTextFile(`${dir}/report.html`), "new\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "writeFlagFile on a full disk leaves the file that was there whole, and no part of the " +
    "new one (root only: it mounts a tmpfs)",
  ignore: !canMount,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "anneal-output-" });
    try {
      await using disk = await smallDisk(dir, "8k");
      if (!disk) return;
      await Deno.writeTextFile(`${dir}/plot.svg`, "<svg>old</svg>\n");
      const error = await writeFlagFile("--plot", `${dir}/plot.svg`, "x".repeat(20_000))
        .then(() => undefined, (error) => error);
      assert.match(error?.message ?? "", /^Cannot write the --plot file '.*': no space left/);
      // (it was cut to the 4 KiB the disk had room for)
      assert.equal(await Deno.readTextFile(`${dir}/plot.svg`), "<svg>old</svg>\n");
      assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["plot.svg"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
