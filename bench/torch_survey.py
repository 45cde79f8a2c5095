#!/usr/bin/env python3
"""PyTorch side of bench/survey.ts: a persistent server, so that the survey can alternate blocks
of anneal's steps with blocks of PyTorch's without starting python (or rebuilding a model) each
time.

One JSON request per stdin line, one JSON answer per stdout line:

  {"id": 3, "variant": {...}, "steps": 40, "drop": false}  ->  {"id": 3, "ms": 1.234}

`variant` is the survey's: {"model": anneal's model spec, "input": shape, "batch", "optimizer":
anneal's optimizer spec, "clip"?}. A model (with its optimizer, random inputs and labels, and two
unmeasured steps) is built the first time its id is seen and kept until a request says "drop".
`ms` is the block's milliseconds per step: `steps` steps of zero_grad, forward, cross-entropy,
backward, the optional global-norm clip and the optimizer's step, ended by reading the last loss.

  python3 bench/torch_survey.py [THREADS]     # THREADS: torch.set_num_threads (0: torch's default)
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def mlp(spec, inputs, out):
    """anneal's `mlp`: dense layers (each optionally batch-normed), activation, dropout."""
    layers, width = [], inputs
    for h in spec.get("hidden", [128]):
        layers.append(nn.Linear(width, h))
        if spec.get("batchNorm"):
            # torch's defaults, which anneal's batch norm takes (models/build_resolved.ts)
            layers.append(nn.BatchNorm1d(h))
        layers.append(ACTIVATIONS[spec.get("activation", "relu")]())
        if spec.get("dropout", 0) > 0:
            layers.append(nn.Dropout(spec["dropout"]))
        width = h
    layers.append(nn.Linear(width, out))
    return nn.Sequential(nn.Flatten(), *layers)


class CNN(nn.Module):
    """anneal's `cnn`: conv (same padding), batch norm, relu, max pool per filter; dense head."""

    def __init__(self, spec, shape, out):
        super().__init__()
        h, w, c = shape
        k, pool = spec.get("kernelSize", 3), spec.get("pool", 2)
        blocks = []
        for f in spec.get("filters", [32, 64]):
            blocks.append(nn.Conv2d(c, f, k, padding="same"))
            if spec.get("batchNorm", True):
                blocks.append(nn.BatchNorm2d(f))
            blocks.append(nn.ReLU())
            if pool > 1:
                blocks.append(nn.MaxPool2d(pool))
                h, w = h // pool, w // pool
            c = f
        self.features = nn.Sequential(*blocks)
        dense, width = [], h * w * c
        for units in spec.get("dense", [128]):
            dense += [nn.Linear(width, units), nn.ReLU()]
            if spec.get("dropout", 0) > 0:
                dense.append(nn.Dropout(spec["dropout"]))
            width = units
        dense.append(nn.Linear(width, out))
        self.head = nn.Sequential(*dense)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class RNN(nn.Module):
    """anneal's `rnn`: an LSTM or GRU over the sequence, a dense head on its last output."""

    def __init__(self, spec, shape, out):
        super().__init__()
        cell = nn.LSTM if spec.get("cell", "lstm") == "lstm" else nn.GRU
        units = spec.get("units", 128)
        self.rnn = cell(shape[1], units, num_layers=spec.get("layers", 1),
                        dropout=spec.get("dropout", 0), batch_first=True)
        self.head = nn.Linear(units, out)

    def forward(self, x):
        o, _ = self.rnn(x)
        return self.head(o[:, -1])


class Lion(torch.optim.Optimizer):
    """Lion as lucidrains/lion-pytorch writes it (torch 1.13 has none)."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            b1, b2 = g["betas"]
            for p in g["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["m"] = torch.zeros_like(p)
                m = state["m"]
                p.mul_(1 - g["lr"] * g["weight_decay"])
                p.add_(m.mul(b1).add(p.grad, alpha=1 - b1).sign_(), alpha=-g["lr"])
                m.mul_(b2).add_(p.grad, alpha=1 - b2)


def optimizer(spec, params):
    """torch's optimizer for anneal's optimizer spec (the hyperparameters the survey sets)."""
    name, lr = spec["name"], spec.get("lr", 1e-3)
    if name == "sgd":
        return torch.optim.SGD(params, lr, momentum=spec.get("momentum", 0),
                               nesterov=spec.get("nesterov", False),
                               weight_decay=spec.get("weightDecay", 0))
    if name == "adam":
        return torch.optim.Adam(params, lr, eps=spec.get("eps", 1e-8),
                                weight_decay=spec.get("weightDecay", 0))
    if name == "adamw":
        return torch.optim.AdamW(params, lr, eps=spec.get("eps", 1e-8),
                                 weight_decay=spec.get("weightDecay", 1e-2))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr, alpha=spec.get("alpha", 0.99),
                                   momentum=spec.get("momentum", 0),
                                   centered=spec.get("centered", False))
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr)
    if name == "adamax":
        return torch.optim.Adamax(params, lr)
    if name == "nadam":
        return torch.optim.NAdam(params, lr)
    if name == "radam":
        return torch.optim.RAdam(params, lr)
    if name == "lion":
        return Lion(params, lr, weight_decay=spec.get("weightDecay", 0))
    raise ValueError(f"no torch optimizer for {name!r}")


def build(variant):
    """The variant's step function (model, optimizer, fixed random batch), after two steps."""
    torch.manual_seed(0)
    spec, shape, batch = variant["model"], variant["input"], variant["batch"]
    kind = spec["kind"]
    features = int(torch.tensor(shape).prod())
    if kind == "mlp":
        model, x = mlp(spec, features, 10), torch.rand(batch, *shape)
    elif kind == "cnn":
        # anneal's images are HWC, torch's CHW
        model, x = CNN(spec, shape, 10), torch.rand(batch, shape[2], shape[0], shape[1])
    elif kind == "linear":
        model, x = nn.Sequential(nn.Flatten(), nn.Linear(features, 10)), torch.rand(batch, *shape)
    elif kind == "rnn":
        model, x = RNN(spec, shape, 10), torch.rand(batch, *shape)
    else:
        raise ValueError(f"no torch model for kind {kind!r}")
    model.train()
    opt = optimizer(variant["optimizer"], model.parameters())
    y = torch.randint(0, 10, (batch,))
    clip = variant.get("clip")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss

    for _ in range(2):
        step()
    return step


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if threads:
        torch.set_num_threads(threads)
    models = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        if req["id"] not in models:
            models[req["id"]] = build(req["variant"])
        step = models[req["id"]]
        start = time.perf_counter()
        for _ in range(req["steps"]):
            loss = step()
        loss.item()
        ms = (time.perf_counter() - start) / req["steps"] * 1000
        print(json.dumps({"id": req["id"], "ms": ms}), flush=True)
        if req.get("drop"):
            models.pop(req["id"], None)


if __name__ == "__main__":
    main()
