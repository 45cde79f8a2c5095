#!/usr/bin/env bash
# Prepares what a session lent a GPU carries to the device machine (../shared/DEVICE.md has the
# recipe; that machine has no network): .dev/ holds Deno and the npm packages the benchmarks and
# the WebGPU tests need, .gl/ the Vulkan and EGL loaders as Debian packages. Both are gitignored.
# Then, with the device tool: run `bash tools/device_run.sh` with carry [".dev", ".gl"].
set -euo pipefail
if [ $# -gt 0 ]; then
  case "$1" in
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "device_prepare: it takes no arguments, not '$1' (--help says what it does)" >&2; exit 2 ;;
  esac
fi
cd "$(dirname "$0")/.."
mkdir -p .dev .gl
deno=$(command -v deno || true)
[ -n "$deno" ] || deno=$(find "$HOME/.npm/_npx" -path '*/node_modules/@deno/*/deno' -type f 2>/dev/null | head -n 1)
[ -x "$deno" ] || { echo "device_prepare: no deno binary (run it as 'npx -y deno@2.9.6 task device-prepare')" >&2; exit 1; }
echo "device_prepare: $deno ($("$deno" --version | head -n 1))"
xz -T2 -6 -c "$deno" > .dev/deno.xz
# every npm package of deno.lock, in node_modules (as the install task does)
"$deno" install --quiet
# node_modules, without the bundles Deno does not load (source maps, minified and ES2017 builds)
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
