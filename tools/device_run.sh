#!/usr/bin/env bash
# Runs on the device machine (prepared by tools/device_prepare.sh; see ../shared/DEVICE.md): the
# WebGPU tests of the fused paths and the tiled matmul, the benchmarks side by side with PyTorch
# (with square fp32 products: anneal's tiled kernel, tfjs-webgpu's, torch.mm), the dense step's
# fixed cost at the MLP workload's shapes, the LSTM's step both ways, the actors' cost, anneal's
# WGSL CNN kernels against tfjs-webgpu's, the CNN step's kernels by time, crashes at exit after a
# WebGPU Worker ends, and start-up times (a sweep's trials, on wasm and on WebGPU), in one call. Results go to $OUT (or
# /tmp/anneal-device) and to stdout, within DEVICE_BUDGET_S seconds in all (default 540, to fit
# one device call of 600 s). A CPU-only machine runs it too (WebGPU on llvmpipe).
# `--quick` (a second call, on what is left of a session's device time): the tests, the WebGPU
# benchmark without the seed and the optimizer alone, the CNN's, MLP's and LSTM's dispatches by
# time (first the MLP's and the CNN's with their products' slices staged in straight-line code
# and in a loop, as before the forty-ninth session: its A/B), mlp_sgd's step, an MLP with gelu and
# dropout and one with batch norm (the fifty-first session's), the LSTM with mixedPrecision and
# evaluations of batch-norm models (the fifty-second's), and the seed through the actors against
# the in-process loop.
set -uo pipefail
quick=false
case "${1:-}" in
  "") ;;
  --quick) quick=true ;;
  -h | --help)
    sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "device_run: unknown argument '$1': it takes --quick or nothing (--help says what each runs)" >&2
    exit 2
    ;;
esac
[ $# -le 1 ] || { echo "device_run: one argument at most (--quick), not $#" >&2; exit 2; }
deadline=$((SECONDS + ${DEVICE_BUDGET_S:-540}))
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/anneal-device}
mkdir -p "$out"
for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
ldconfig 2>/dev/null || true
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -e "$icd" ] && export VK_DRIVER_FILES=$icd \
  __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
bin=$(mktemp -d)
xz -d -T8 -c .dev/deno.xz > "$bin/deno" && chmod +x "$bin/deno"
export PATH="$bin:$PATH"
[ -d node_modules/.deno ] || tar -xJf .dev/nm.tar.xz
python=python3
"$python" -c 'import torch' 2>/dev/null || python=/usr/bin/python3
# each step gets at most 240 s and all of them the budget: a step left without time is named, skipped
run() {
  local left=$((deadline - SECONDS))
  ((left > 240)) && left=240
  if ((left < 10)); then echo "== skipped (no time left in DEVICE_BUDGET_S): $*"; return; fi
  echo "== $* (at most ${left} s)"; timeout "$left" deno "$@"; echo "== exit $?"
}
{
  date -u
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null
  run test --cached-only --no-check -A runtime/dense/ optimizers/fused/ runtime/webgpu_matmul_test.ts 2>&1 | tail -n 25
  if $quick; then
    # the A/B of the forty-ninth session's change first, each pair side by side: the products'
    # slices staged in straight-line code (now) against a loop (--staging loops; its prediction:
    # the products' ~8 us per 32 of K fall to a fraction)
    for staging in unrolled loops; do
      run run --cached-only --no-check -A bench/dense_overhead.ts --hidden 512,512 --inputs 784 \
        --batch 256 --profile --bytes --repeats 2 --staging "$staging"
      run run --cached-only --no-check -A bench/dense_overhead.ts --model cnn --filters 32,64 \
        --hidden 128 --batch 128 --steps 50 --profile --repeats 2 --staging "$staging"
    done
    # (its matmul table has the route's t128 recorded through tfjs's runWebGPUProgram beside it:
    # the fiftieth session's A/B, the host's work a product, which should show at n = 512)
    run run --cached-only --no-check -A bench/main.ts --backend webgpu --python "$python" \
      --only mlp,mlp_sgd,cnn,lstm,matmul --markdown --json "$out/bench.json"
    run run --cached-only --no-check -A bench/dense_overhead.ts --model cnn --filters 32,64 \
      --hidden 128 --batch 128 --steps 50 --profile --mixed
    # mlp_sgd's step (SGD, momentum 0.9) beside Adam's: the forty-first session's H200 figures had
    # it slower (1.29 against 1.14 ms), its dispatches the same but the update's
    run run --cached-only --no-check -A bench/dense_overhead.ts --hidden 512,512 --inputs 784 \
      --batch 256 --optimizer sgd --repeats 2
    # the fifty-first session's: examples/fashion_mnist_adamw_warmup.json's model (gelu, dropout:
    # its masks drawn on the GPU since the fifty-second, on the host before) and an MLP's batch norm
    run run --cached-only --no-check -A bench/dense_overhead.ts --hidden 512,256 --inputs 784 \
      --batch 128 --activation gelu --dropout 0.2 --repeats 2 --profile
    run run --cached-only --no-check -A bench/dense_overhead.ts --hidden 512,512 --inputs 784 \
      --batch 256 --batch-norm --repeats 2 --profile
    # the fifty-second session's: the LSTM float32 and mixedPrecision; a batch-norm model's
    # evaluation through tfjs's ops against the WGSL step (the engine's on a GPU since then)
    run run --cached-only --no-check -A bench/dense_overhead.ts --model rnn --units 128 \
      --seq 32,16 --batch 64 --steps 20 --repeats 2 --profile --mixed
    run run --cached-only --no-check -A bench/evaluate.ts --model cnn
    run run --cached-only --no-check -A bench/evaluate.ts --model mlp
    run run --cached-only --no-check -A bench/actor_overhead.ts --backend webgpu --only seed \
      --repeats 3
    # (and on wasm: on the host's many cores no thread waits for a core, as on the 2-core CPU)
    run run --cached-only --no-check -A bench/actor_overhead.ts --backend wasm --only seed \
      --repeats 3
    exit 0
  fi
  run run --cached-only --no-check -A bench/main.ts --backend webgpu,wasm --python "$python" \
    --markdown --json "$out/bench.json"
  run run --cached-only --no-check -A bench/dense_overhead.ts --hidden 512,512 --inputs 784 \
    --batch 256 --profile --mixed
  # the same with image bytes uploaded (as anneal train sends Fashion-MNIST), and the upload alone
  run run --cached-only --no-check -A bench/dense_overhead.ts --hidden 512,512 --inputs 784 \
    --batch 256 --profile --bytes
  # (the forty-ninth session's A/B: the same with the products' slices staged in a loop, as before)
  run run --cached-only --no-check -A bench/dense_overhead.ts --hidden 512,512 --inputs 784 \
    --batch 256 --profile --bytes --staging loops
  # mlp_sgd's step (SGD, momentum 0.9), its update's kernels in place of Adam's
  run run --cached-only --no-check -A bench/dense_overhead.ts --hidden 512,512 --inputs 784 \
    --batch 256 --optimizer sgd --repeats 2
  # the fifty-first session's: gelu with dropout (examples/fashion_mnist_adamw_warmup.json's model)
  # and an MLP's batch norm, each float32 and with mixedPrecision
  run run --cached-only --no-check -A bench/dense_overhead.ts --hidden 512,256 --inputs 784 \
    --batch 128 --activation gelu --dropout 0.2 --repeats 2 --profile --mixed
  run run --cached-only --no-check -A bench/dense_overhead.ts --hidden 512,512 --inputs 784 \
    --batch 256 --batch-norm --repeats 2 --profile --mixed
  run run --cached-only --no-check -A bench/upload.ts
  # the benchmark's CNN: tfjs's path against the WGSL step with conv blocks, each dispatch's time,
  # float32 and mixedPrecision side by side
  run run --cached-only --no-check -A bench/dense_overhead.ts --model cnn --filters 32,64 \
    --hidden 128 --batch 128 --steps 50 --profile --mixed
  run run --cached-only --no-check -A bench/dense_overhead.ts --model cnn --filters 32,64 \
    --hidden 128 --batch 128 --steps 50 --profile --mixed --staging loops
  # the benchmark's LSTM (nn.LSTM(16, 128) over 32 steps, batch 64): tfjs's path (~420 ms a step
  # on the H100 in ../shared/DEVICE.md) against the WGSL recurrent step, each dispatch's time
  run run --cached-only --no-check -A bench/dense_overhead.ts --model rnn --units 128 --seq 32,16 \
    --batch 64 --steps 20 --repeats 2 --profile --mixed
  run run --cached-only --no-check -A bench/evaluate.ts --model cnn
  run run --cached-only --no-check -A bench/evaluate.ts --model mlp
  run run --cached-only --no-check -A bench/actor_overhead.ts --backend webgpu --repeats 3
  # anneal's WGSL batch norm, first-layer conv and filter gradient against tfjs-webgpu's
  run run --cached-only --no-check -A bench/webgpu_ab.ts --shape 128,28,28,32
  # the CNN's step kernel by kernel (GPU times where the adapter has timestamp queries)
  PROFILE_ROWS=30 run run --cached-only --no-check -A bench/profile_wasm_cnn.ts --backend webgpu \
    --engine --steps 2
  # crashes at exit after a Worker that made a WebGPU instance is terminated, by the wait after
  # (runtime/actor_workers.ts WEBGPU_TEARDOWN_MS; measured on llvmpipe only)
  run run --cached-only --no-check -A bench/webgpu_exit.ts --rounds 10 --waits 0,100,300
  # start-up on a host of many cores: a sweep's trials in the Workers of the trial before, on wasm
  # and on WebGPU (the trainer's device kept from trial to trial; a sweep process that crashed at
  # exit fails the step) (last: it spawns deno processes of its own, which this step's
  # --cached-only does not reach)
  run run --cached-only --no-check -A bench/startup.ts --rounds 3
} 2>&1 | tee "$out/device.txt"
