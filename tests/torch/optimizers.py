"""PyTorch's parameters for the optimizer runs tests/torch/optimizers_test.ts draws.

Reads {"cases": [...]} as JSON on stdin and writes {"torch": version, "results": [...]} on
stdout, one result a case. A case names a torch.optim optimizer (anneal's name), its settings in
anneal's camelCase (`betas` a pair), and its parameters, one torch param group each: their initial
values (float32, flat), shapes, the `weightDecay` and learning-rate multiplier each gets, the
gradients of every step and, optionally, the rate of every step (a schedule's, set in each group
before the step, times its multiplier) and the momentum of every step (onecycle's or cyclic's:
`momentum`, or Adam's family's beta1, set in each group before the step). The result is torch's error where the constructor
raises (`raises`, step 0) or where a step raises (its step, from 1), else the parameters after
each step as little-endian float32 in base64, NaN where torch has NaN.
"""

import base64
import json
import sys
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")

CLASSES = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad,
           "adamax": torch.optim.Adamax, "nadam": torch.optim.NAdam, "radam": torch.optim.RAdam,
           "adadelta": torch.optim.Adadelta}
NAMES = {"weightDecay": "weight_decay", "lrDecay": "lr_decay",
         "initialAccumulatorValue": "initial_accumulator_value",
         "momentumDecay": "momentum_decay"}


def b64(values, dtype):
    return base64.b64encode(np.asarray(values, dtype=dtype).tobytes()).decode("ascii")


def run(case, dtype):
    """The case in `dtype` (float64: how far float32's rounding alone moves the parameters)."""
    params = [torch.nn.Parameter(torch.tensor(p["values"], dtype=dtype).reshape(p["shape"]))
              for p in case["params"]]
    settings = {NAMES.get(k, k): (tuple(v) if k == "betas" else v)
                for k, v in case["settings"].items()}
    lr = settings.get("lr")
    # the constructor checks its own weight_decay (the settings'); each group then has its own
    groups = []
    for p, info in zip(params, case["params"]):
        group = {"params": [p], "weight_decay": info["weightDecay"]}
        if lr is not None:
            group["lr"] = lr * info["lrMultiplier"]
        groups.append(group)
    step = 0
    try:
        optimizer = CLASSES[case["name"]](groups, **settings)
        history = []
        for step, grads in enumerate(case["grads"], start=1):
            for p, group, info, grad in zip(params, optimizer.param_groups, case["params"], grads):
                p.grad = torch.tensor(grad, dtype=dtype).reshape(info["shape"])
                if "lrs" in case:
                    group["lr"] = case["lrs"][step - 1] * info["lrMultiplier"]
                if "momenta" in case:
                    momentum = case["momenta"][step - 1]
                    if "betas" in group:
                        group["betas"] = (momentum, group["betas"][1])
                    else:
                        group["momentum"] = momentum
            optimizer.step()
            history.append(b64(np.concatenate([p.detach().numpy().ravel() for p in params]),
                               "<f4" if dtype == torch.float32 else "<f8"))
    except Exception as error:  # ValueError when built; RuntimeError, KeyError, ... at a step
        return {"raises": {"step": step, "error": f"{type(error).__name__}: {error}"}}
    return {"params": history}


def both(case):
    result = run(case, torch.float32)
    if "params" in result:
        wide = run(case, torch.float64)
        result["params64"] = wide.get("params")
    return result


def main():
    torch.set_num_threads(1)
    cases = json.load(sys.stdin)["cases"]
    json.dump({"torch": torch.__version__, "results": [both(c) for c in cases]}, sys.stdout)


if __name__ == "__main__":
    main()
