"""PyTorch's learning rates (and momenta) for the schedules tests/torch/schedules_test.ts draws.

Reads {"cases": [{"spec", "baseLr", "steps", "metrics"?, "optimizer"?}]} as JSON on stdin and
writes {"torch": version, "results": [{"lr", "momentum"?, "raises"?}]} on stdout, one result a
case. Value t is `optimizer.param_groups[0]["lr"]` after `scheduler.step()` has been called t
times (t = 0: right after construction), anneal's `lrAt(t)`; plateau's scheduler is stepped on
`metrics[t - 1]`. Where torch raises (when built: step 0; or at step t), the result holds the
step, the error and the values before it.

Specs are anneal's (camelCase, defaults left out); `build` maps them to torch's constructors with
anneal's defaults. transformers is not installed here: the Hugging Face warmup schedules are its
`get_linear_schedule_with_warmup` and `get_cosine_schedule_with_warmup` formulas (v4.x), run
through torch's LambdaLR as transformers runs them.
"""

import json
import math
import sys
import warnings

import torch
from torch.optim import lr_scheduler as S

warnings.filterwarnings("ignore")


def hf_linear(warmup, total):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return f


def hf_cosine(warmup, total, cycles):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        progress = float(step - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * progress)))
    return f


def build(opt, s):
    n = s["name"]
    if n == "constant":
        return S.ConstantLR(opt, factor=s.get("factor", 1.0), total_iters=s.get("totalIters", 0))
    if n == "step":
        return S.StepLR(opt, step_size=s["stepSize"], gamma=s.get("gamma", 0.1))
    if n == "multistep":
        return S.MultiStepLR(opt, milestones=s["milestones"], gamma=s.get("gamma", 0.1))
    if n == "exponential":
        return S.ExponentialLR(opt, gamma=s["gamma"])
    if n == "cosine":
        return S.CosineAnnealingLR(opt, T_max=s["tMax"], eta_min=s.get("etaMin", 0))
    if n == "cosineWarmRestarts":
        return S.CosineAnnealingWarmRestarts(opt, T_0=s["t0"], T_mult=s.get("tMult", 1),
                                             eta_min=s.get("etaMin", 0))
    if n == "linear":
        return S.LinearLR(opt, start_factor=s.get("startFactor", 1 / 3),
                          end_factor=s.get("endFactor", 1.0), total_iters=s.get("totalIters", 5))
    if n == "polynomial":
        return S.PolynomialLR(opt, total_iters=s.get("totalIters", 5), power=s.get("power", 1.0))
    if n == "onecycle":
        return S.OneCycleLR(opt, max_lr=s["maxLr"], total_steps=s["totalSteps"],
                            # a float: torch checks isinstance(pct_start, float), and JSON's 0
                            # and 1 arrive as Python ints, which no anneal setting can tell apart
                            pct_start=float(s.get("pctStart", 0.3)),
                            anneal_strategy=s.get("annealStrategy", "cos"),
                            cycle_momentum=s.get("cycleMomentum", True),
                            base_momentum=s.get("baseMomentum", 0.85),
                            max_momentum=s.get("maxMomentum", 0.95),
                            div_factor=s.get("divFactor", 25.0),
                            final_div_factor=s.get("finalDivFactor", 1e4),
                            three_phase=s.get("threePhase", False))
    if n == "cyclic":
        return S.CyclicLR(opt, base_lr=s["baseLr"], max_lr=s["maxLr"],
                          step_size_up=s.get("stepSizeUp", 2000),
                          step_size_down=s.get("stepSizeDown"), mode=s.get("mode", "triangular"),
                          gamma=s.get("gamma", 1.0), cycle_momentum=s.get("cycleMomentum", True),
                          base_momentum=s.get("baseMomentum", 0.8),
                          max_momentum=s.get("maxMomentum", 0.9))
    if n == "plateau":
        return S.ReduceLROnPlateau(opt, mode=s.get("mode", "min"), factor=s.get("factor", 0.1),
                                   patience=s.get("patience", 10),
                                   threshold=s.get("threshold", 1e-4),
                                   threshold_mode=s.get("thresholdMode", "rel"),
                                   cooldown=s.get("cooldown", 0), min_lr=s.get("minLr", 0),
                                   eps=s.get("eps", 1e-8))
    if n == "warmupLinear":
        return S.LambdaLR(opt, hf_linear(s["warmupSteps"], s["totalSteps"]))
    if n == "warmupCosine":
        return S.LambdaLR(opt, hf_cosine(s["warmupSteps"], s["totalSteps"],
                                         s.get("numCycles", 0.5)))
    if n == "sequential":
        children = [build(opt, c) for c in s["schedulers"]]
        return S.SequentialLR(opt, schedulers=children, milestones=s["milestones"])
    raise ValueError(f"unknown schedule {n}")


def number(value):
    """A float for JSON: a non-finite one as its name ("nan", "inf", "-inf")."""
    value = float(value)
    return value if math.isfinite(value) else str(value)


def cycles_momentum(spec):
    if spec["name"] == "sequential" and len(spec["schedulers"]) == 1:
        return cycles_momentum(spec["schedulers"][0])
    return spec["name"] in ("onecycle", "cyclic") and spec.get("cycleMomentum", True)


def run(case):
    p = torch.nn.Parameter(torch.zeros(1))
    if case.get("optimizer") == "adam":
        opt = torch.optim.Adam([p], lr=case["baseLr"])
    else:
        opt = torch.optim.SGD([p], lr=case["baseLr"], momentum=0.9)
    spec = case["spec"]
    group = opt.param_groups[0]
    momentum_of = (lambda: group["betas"][0]) if "betas" in group else (lambda: group["momentum"])
    lr, momentum = [], []
    t = 0
    out = {}
    try:
        sched = build(opt, spec)
        for t in range(case["steps"]):
            if t > 0:
                opt.step()  # no gradient: the parameter stays; torch's order of calls
                if spec["name"] == "plateau":
                    sched.step(case["metrics"][t - 1])
                else:
                    sched.step()
            lr.append(number(group["lr"]))
            momentum.append(number(momentum_of()))
    except Exception as error:  # ValueError, ZeroDivisionError, OverflowError, ...
        out["raises"] = {"step": t, "error": f"{type(error).__name__}: {error}"}
    out["lr"] = lr
    if cycles_momentum(spec):
        out["momentum"] = momentum
    return out


def main():
    cases = json.load(sys.stdin)["cases"]
    json.dump({"torch": torch.__version__, "results": [run(c) for c in cases]}, sys.stdout)


if __name__ == "__main__":
    main()
