#!/usr/bin/env bash
# The test command (`deno task test`): installs what the tests need on a fresh machine, then
# runs `deno test`. System packages come from Debian's apt when missing: Fashion-MNIST,
# PostgreSQL (a throwaway server for the storage tests), Chromium (report rendering) and
# Mesa's software GL (llvmpipe, the WebGPU adapter of CPU-only machines).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -e /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
compgen -G "/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so" >/dev/null || need+=(libgl1-mesa-dri libegl-mesa0 libegl1)
if ((${#need[@]})); then
  echo "tools/test.sh: installing ${need[*]} with apt" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# One throwaway PostgreSQL cluster for every storage/sweep test (a real server, never a mock),
# stopped when the tests end.
if [ -z "${ANNEAL_TEST_PG_URL:-}" ]; then
  url=$(bash tools/pg_test_server.sh start | sed -n 's/^.*ANNEAL_TEST_PG_URL=//p' | tail -n 1)
  [ -n "$url" ] || { echo "tools/test.sh: could not start PostgreSQL" >&2; exit 1; }
  export ANNEAL_TEST_PG_URL="$url"
  trap 'bash tools/pg_test_server.sh stop >/dev/null 2>&1 || true' EXIT
fi

# deno test runs with --allow-all: the browser test drives Chromium through playwright-core,
# which probes /proc/sys; Deno 2.9.6 grants /proc/sys only to --allow-all (a listed set such as
# --allow-read --allow-write --allow-net --allow-env --allow-run --allow-sys --allow-ffi, or even
# --allow-read=/proc/sys, is refused with NotCapable). The CLI itself (`deno task anneal`) runs
# with a narrow, listed set of permissions, and its actors with narrower ones still (deno.json
# enables --unstable-worker-options, which tests/actor_permissions_test.ts needs).
deno test --parallel --allow-all "$@"
