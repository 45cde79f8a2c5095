"""PyTorch 1.13's whole training runs for the configs tests/torch/training_test.ts draws.

Reads {"cases": [{"id", "config", "inputs"}]} as JSON on stdin (a config as anneal takes it, the
inputs as tests/fixtures/training/inputs.ts makes them: the data, every epoch's order, the initial
weights) and writes {"torch": version, "results": [...]} on stdout, one result a case: what
tests/fixtures/training/generate.py's `train_torch` gives (every step's loss, rate, momentum and
gradient norm, every epoch's metrics, the final weights, how the run ended, its best epoch and
that epoch's weights, whether they are restored, and the first epoch whose end a decision was
taken at by a margin within float32 rounding), with the same run in float64 beside it; or
{"error"} where torch raises (anneal must refuse the config). The loop, the optimizers, the
schedules, clipping and early stopping are generate.py's: the fixture of
tests/torch_training_test.ts and this live test train alike.
"""

import json
import os
import sys
import traceback
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "training"))
from generate import plain, train_torch  # noqa: E402

warnings.filterwarnings("ignore")


def run(case):
    torch.manual_seed(0)
    try:
        result = train_torch(case, case["inputs"])
        # the same run in float64: how far float32 rounding alone moves each value (where a
        # value's own conditioning makes two float32 runs part, anneal's and torch's part too)
        exact = train_torch(case, case["inputs"], precision=np.float64)
        result["float64"] = {key: exact[key] for key in ("steps", "epochs", "weights", "best",
                                                         "status", "bestEpoch")}
        return plain(result)
    except Exception as error:  # noqa: BLE001
        # torch refuses the config (when built, or at a step); one raised here is a bug of this
        # script or of generate.py, and fails the test
        origin = traceback.extract_tb(error.__traceback__)[-1].filename
        if os.path.dirname(torch.__file__) not in origin:
            raise
        return {"error": "%s: %s" % (type(error).__name__, error)}


def main():
    torch.set_num_threads(1)
    cases = json.load(sys.stdin)["cases"]
    json.dump({"torch": torch.__version__, "results": [run(c) for c in cases]}, sys.stdout)


if __name__ == "__main__":
    main()
