#!/usr/bin/env bash
# The test command (`deno task test`): installs what the tests need on a fresh machine, then
# runs `deno test`. System packages come from Debian's apt when missing: Fashion-MNIST,
# PostgreSQL (a throwaway server for the storage tests), Chromium (report rendering), Mesa's
# software GL (llvmpipe, the WebGPU adapter of CPU-only machines), PyTorch 1.13 (tests/torch/
# runs it live; ANNEAL_TORCH_PYTHON names another python3 that has it), and zsh and fish (the
# completion scripts' tests).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -e /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
compgen -G "/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so" >/dev/null || need+=(libgl1-mesa-dri libegl-mesa0 libegl1)
[ -n "${ANNEAL_TORCH_PYTHON:-}" ] || /usr/bin/python3 -c 'import torch' 2>/dev/null || need+=(python3-torch)
# (the completion scripts are run by the shells they are for)
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
if ((${#need[@]})); then
  echo "tools/test.sh: installing ${need[*]} with apt" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# The npm packages, into node_modules (~50 ms when they are there); the runs below then take them
# as they are (--node-modules-dir=manual): under deno.json's auto, Deno 2.9.6 checks node_modules
# anew for each module of a Worker that imports an npm package, ~55 times in a trainer's start (the
# CLI's processes that the tests start get the flag from tests/_helpers.ts).
deno install --quiet
manual=--node-modules-dir=manual

# One throwaway PostgreSQL cluster for every storage/sweep test (a real server, never a mock),
# stopped when the tests end.
if [ -z "${ANNEAL_TEST_PG_URL:-}" ]; then
  # its own state file, so that test runs side by side do not stop each other's server
  pg_state_dir="$(mktemp -d /tmp/anneal_pg_state.XXXXXX)"
  export ANNEAL_PG_STATE="$pg_state_dir/state.env"
  url=$(bash tools/pg_test_server.sh start | sed -n 's/^.*ANNEAL_TEST_PG_URL=//p' | tail -n 1)
  [ -n "$url" ] || { echo "tools/test.sh: could not start PostgreSQL" >&2; exit 1; }
  export ANNEAL_TEST_PG_URL="$url"
  trap 'bash tools/pg_test_server.sh stop >/dev/null 2>&1 || true; rm -rf "$pg_state_dir"' EXIT
fi

# Permissions: the suite runs with a listed set (no --allow-all). The one exception is the browser
# test: it drives Chromium through playwright-core, which probes /proc/sys, and Deno 2.9.6 grants
# /proc/sys only to --allow-all (a listed set, even --allow-read=/proc/sys, is refused with
# NotCapable); so it runs on its own, after the rest. The CLI itself (`deno task anneal`) runs with
# a narrower listed set, and its actors with narrower ones still (deno.json enables
# --unstable-worker-options, which tests/actor_permissions_test.ts needs).
listed=(--allow-read --allow-write --allow-env --allow-run --allow-sys --allow-net)
browser=report/html_browser_test.ts
# The test files that open WebGPU devices (llvmpipe here) run apart from the others, one file at a
# time in a process: with them among the parallel files, two of ~12 clean-clone runs aborted at
# exit with glibc heap errors ("double free or corruption", "malloc_consolidate(): invalid chunk
# size") after every test had passed, several isolates of one process holding devices at once.
# They run as two such processes side by side (two isolates holding devices, but in two
# processes): one process kept the two cores ~55% busy over its 6 minutes (vmstat); the two took
# 4m43s in CI. They now run beside the main group (below).
# The halves are split by their files' times on a machine whose Mesa shader cache is empty (a
# fresh machine's first run): llvmpipe compiles each WGSL pipeline with LLVM the first time it is
# dispatched, and keeps it on disk for later runs. Alone, with an empty cache, this split's halves
# take ~11.5 and ~10.5 minutes (webgpu_matmul_test.ts ~9 of them, most of it compiling the
# 128x128-tile product's pipelines); with a warm one ~4 and ~2, within the main group's time.
gpu_a=(
  tests/webgpu_windows_test.ts runtime/dense/split_test.ts runtime/dense/recurrent_test.ts
  runtime/dense/gpu_program_test.ts runtime/dense/conv_test.ts optimizers/fused/fused_step_test.ts
  models/batch_norm_test.ts models/conv_test.ts models/dense_test.ts optimizers/adaptive_test.ts
  runtime/webgpu_pool_test.ts runtime/webgpu_conv_test.ts runtime/dense/wgsl_test.ts
  runtime/dense/random_parity_test.ts
)
gpu_b=(
  tests/backends_test.ts runtime/in_process_test.ts tests/actor_failure_test.ts
  runtime/webgpu_matmul_test.ts runtime/backend_test.ts runtime/dense/bias_grad_test.ts
  runtime/webgpu_relu_test.ts
)
gpu=("${gpu_a[@]}" "${gpu_b[@]}")
if (($# > 0)); then
  # Chosen files or flags: the listed set (run the browser test with `deno test -A $browser`).
  # (Not exec: the EXIT trap stops the PostgreSQL server.)
  deno test "$manual" --parallel "${listed[@]}" "$@"
  exit
fi

# A fresh machine's first run compiles llvmpipe's pipelines (above): say so, not to be taken for a
# hang. Mesa keeps them in $MESA_SHADER_CACHE_DIR, else $XDG_CACHE_HOME/mesa_shader_cache.
shader_cache=${MESA_SHADER_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/mesa_shader_cache}
if [ -z "$(ls -A "$shader_cache" 2>/dev/null)" ]; then
  echo "tools/test.sh: Mesa's shader cache ($shader_cache) is empty: llvmpipe compiles the WebGPU" \
    "tests' pipelines on this first run (~20 minutes of CPU more than a later run)" >&2
fi

# The runs' summaries are added up into one last line in deno test's own format.
summary() { sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1; }
count() { sed -E "s/.*\| ([0-9]+) $2.*/\1/" <<<"$1"; }
logs=$(mktemp -d)
status=0
ignored=$(IFS=,; echo "$browser,${gpu[*]}")
# Each run's exit status is kept: a run can pass every test and still exit non-zero (an error
# after its last test, a crash at exit), and CI shows only the end of the output, so such a run's
# last lines are repeated next to the final summary.
# A run killed by a signal (abort, segfault) after a summary with every test passed crashed in
# native teardown, not in a test: it is run once more, and both exits are reported on the last
# line. Any other non-zero exit, or a crash before the summary, fails at once.
declare -A exits=()
reruns=""
last_lines() { sed 's/\x1b\[[0-9;]*m//g' "$logs/$1" | tail -n 25 | sed 's/^/  | /'; }
# A test still running after 16 minutes (deno test says so at 1, 2, 4, 8 and 16; the slowest test
# takes ~4 on a loaded 2-core machine) is taken as hung: what the process's threads wait on and
# the file locks held are printed, and the run is killed, so that CI fails with something to go
# on instead of at its time limit.
HUNG='has been running for over \((1[6-9]|[2-9][0-9]|[0-9]{3,})m'
watched() {
  local log=$1
  shift
  if [ -n "${quiet:-}" ]; then "$@" >"$log" 2>&1 & else "$@" > >(tee "$log") 2>&1 & fi
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -qE "$HUNG"; then
      echo "tools/test.sh: a test has run for 16 minutes: taken as hung. The process's threads:"
      for task in /proc/"$pid"/task/*; do
        echo "$(sed 's/-[0-9]*$/-N/' "$task/comm") in $(cat "$task/wchan" 2>/dev/null)"
      done | sort | uniq -c | sort -rn
      echo "tools/test.sh: file locks held (/proc/locks):"
      cat /proc/locks
      kill "$pid"
      sleep 10
      kill -9 "$pid" 2>/dev/null
      break
    fi
  done
  wait "$pid"
  local code=$?
  sleep 1 # (tee's last lines)
  return "$code"
}
part() {
  local name=$1
  shift
  set +e
  watched "$logs/$name" "$@"
  exits[$name]=$?
  if ((exits[$name] >= 128)) && summary "$logs/$name" | grep -qE '^ok \| [0-9]+ passed.*\| 0 failed'; then
    echo
    echo "tools/test.sh: the $name run passed every test, then died of signal $((exits[$name] - 128)) at exit; its last lines:"
    last_lines "$name"
    echo "tools/test.sh: running the $name run once more"
    reruns+=" $name died at exit (signal $((exits[$name] - 128))) after passing, its rerun exited"
    watched "$logs/$name" "$@"
    exits[$name]=$?
    reruns+=" ${exits[$name]};"
  fi
  set -e
  ((exits[$name] == 0)) || status=1
}
# The two WebGPU halves run in the background, beside the main group, each into its log alone
# (printed after the main group's output, not interleaved with it); their exit statuses and rerun
# notes come back through files. One at a time after the main group, they kept the two cores
# ~55% busy (a WebGPU test waits on its device's reads) for ~3.5 minutes, after 13 minutes of the
# main group's two busy cores; beside it, that wait is the main group's to fill.
background=()
for half in webgpu_a webgpu_b; do
  (
    reruns="" # (the main run's note, if any, is the parent's to print)
    if [ "$half" = webgpu_a ]; then files=("${gpu_a[@]}"); else files=("${gpu_b[@]}"); fi
    quiet=1 part "$half" deno test "$manual" --no-check "${listed[@]}" "${files[@]}"
    echo "${exits[$half]}" >"$logs/$half.exit"
    printf '%s' "$reruns" >"$logs/$half.reruns"
  ) &
  background+=($!)
done
# --no-check: tests/scripts_typecheck_test.ts type-checks the whole workspace in one program (its
# doc examples and Worker entries too); without the flag each run checked its files again, and each
# actor Worker entry a test process loaded was checked as it loaded (with a cold cache, a test of
# one short run took 25 s against 2.5 s), as was each batch of doc examples.
part main deno test "$manual" --no-check --parallel "${listed[@]}" --ignore="$ignored"
for pid in "${background[@]}"; do wait "$pid" || true; done
for half in webgpu_a webgpu_b; do
  echo
  echo "tools/test.sh: the WebGPU files' $half run (beside the main group):"
  sed 's/\x1b\[[0-9;]*m//g' "$logs/$half"
  exits[$half]=$(cat "$logs/$half.exit" 2>/dev/null || echo 1)
  reruns+=$(cat "$logs/$half.reruns" 2>/dev/null || true)
  ((exits[$half] == 0)) || status=1
done
part browser deno test "$manual" --no-check --allow-all "$browser"
for name in main webgpu_a webgpu_b browser; do
  if ((exits[$name] != 0)); then
    echo
    echo "tools/test.sh: the $name run exited with status ${exits[$name]}; its last lines:"
    last_lines "$name"
  fi
done
main=$(summary "$logs/main")
webgpu_a=$(summary "$logs/webgpu_a")
webgpu_b=$(summary "$logs/webgpu_b")
web=$(summary "$logs/browser")
rm -rf "$logs"
if [ -z "$main" ] || [ -z "$webgpu_a" ] || [ -z "$webgpu_b" ] || [ -z "$web" ]; then
  echo "tools/test.sh: a deno test run ended without its summary" >&2
  exit 1
fi
passed=0
failed=0
for run in "$main" "$webgpu_a" "$webgpu_b" "$web"; do
  passed=$((passed + $(count "$run" passed)))
  failed=$((failed + $(count "$run" failed)))
done
word=ok
((failed == 0 && status == 0)) || word=FAILED
echo
echo "$word | $passed passed | $failed failed (listed permissions; the browser test with --allow-all;" \
  "exit status: main ${exits[main]}, webgpu ${exits[webgpu_a]} and ${exits[webgpu_b]}, browser ${exits[browser]}${reruns:+;$reruns})"
exit $status
