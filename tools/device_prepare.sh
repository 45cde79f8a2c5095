#!/usr/bin/env bash
# Prepares what a session lent a GPU carries to the device machine (../shared/DEVICE.md has the
# recipe; that machine has no network): .dev/ holds Deno and the npm packages the benchmarks and
# the WebGPU tests need, .gl/ the Vulkan and EGL loaders as Debian packages. Both are gitignored.
# Then, with the device tool: run `bash tools/device_run.sh` with carry [".dev", ".gl"].
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .dev .gl
deno=$(command -v deno || true)
[ -n "$deno" ] || deno=$(find "$HOME/.npm/_npx" -path '*/node_modules/@deno/*/deno' -type f 2>/dev/null | head -n 1)
[ -x "$deno" ] || { echo "device_prepare: no deno binary (run it as 'npx -y deno@2.9.6 task device-prepare')" >&2; exit 1; }
echo "device_prepare: $deno ($("$deno" --version | head -n 1))"
xz -T2 -6 -c "$deno" > .dev/deno.xz
# the npm packages the entry points use, in node_modules (deno.json: nodeModulesDir auto)
"$deno" cache bench/main.ts bench/dense_overhead.ts bench/actor_overhead.ts bench/kernels_ab.ts \
  bench/webgpu_ab.ts bench/evaluate.ts runtime/dense/gpu_program_test.ts optimizers/fused/*_test.ts actors/trainer_worker.ts >/dev/null
# every package of deno.lock (with --cached-only Deno wants them all), without the bundles it
# does not load (source maps, minified and ES2017 builds)
tar -cJf .dev/nm.tar.xz \
  --exclude='*.map' --exclude='*.min.js' --exclude='*es2017*' --exclude='*.fesm.*' \
  node_modules
lists=$(mktemp -d)
mkdir -p "$lists/partial"
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
if apt-get "${o[@]}" update -qq; then
  (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
else
  echo "device_prepare: apt-get update failed: .gl/ not refreshed" >&2
fi
du -sh .dev .gl
echo "device_prepare: carry [\".dev\", \".gl\"] (64 MiB at most in all)"
