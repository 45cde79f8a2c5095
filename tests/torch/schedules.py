"""PyTorch's learning rates (and momenta) for the schedules tests/torch/schedules_test.ts draws.

Reads {"cases": [{"spec", "baseLr", "steps", "metrics"?, "optimizer"?}]} as JSON on stdin and
writes {"torch": version, "results": [{"lr", "momentum"?, "raises"?}]} on stdout, one result a
case. Value t is `optimizer.param_groups[0]["lr"]` after `scheduler.step()` has been called t
times (t = 0: right after construction), anneal's `lrAt(t)`; plateau's scheduler is stepped on
`metrics[t - 1]`. Where torch raises (when built: step 0; or at step t), the result holds the
step, the error and the values before it.

Specs are anneal's (camelCase, defaults left out); `build` maps them to torch's constructors with
anneal's defaults: tests/fixtures/schedulers/generate.py's, which the conformance fixtures are made with.
"""

import json
import math
import os
import sys
import warnings

import torch

# `build`, torch's constructor of an anneal spec, is the fixtures' (the conformance test's)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                                "schedulers"))
from generate import build  # noqa: E402

warnings.filterwarnings("ignore")


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
