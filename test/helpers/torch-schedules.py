"""The learning rates of torch.optim.lr_scheduler for test/native/schedules.test.ts.

Reads {"lr", "epochs", "stepsPerEpoch", "warmup", "step": {...}, "cosine": {...},
"plateau": {..., "metrics": [...]}} on stdin and prints, for each scheduler, the
learning rate of every optimizer step: the epoch scheduler stepped once per epoch
times LinearLR(start_factor=1/W, total_iters=W-1) stepped once per batch (W = warmup).
"""
import json
import sys
import warnings

import torch

warnings.filterwarnings("ignore")  # "Detected call of lr_scheduler.step() before optimizer.step()"
spec = json.load(sys.stdin)


def optimizer():
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=spec["lr"])


def warmup_factors(steps):
    w = spec["warmup"]
    o = optimizer()
    s = torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / w, total_iters=w - 1) if w > 1 else None
    out = []
    for _ in range(steps):
        out.append(o.param_groups[0]["lr"] / spec["lr"])
        o.step()
        if s:
            s.step()
    return out


def per_step(make, metrics=None):
    o = optimizer()
    s = make(o)
    rates = []
    for epoch in range(spec["epochs"]):
        rates += [o.param_groups[0]["lr"]] * spec["stepsPerEpoch"]
        o.step()
        s.step(metrics[epoch]) if metrics else s.step()
    factors = warmup_factors(len(rates))
    return [r * f for r, f in zip(rates, factors)]


p = spec["plateau"]
print(json.dumps({
    "step": per_step(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=spec["step"]["stepSize"], gamma=spec["step"]["gamma"])),
    "cosine": per_step(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=spec["cosine"]["tMax"], eta_min=spec["cosine"]["minLr"])),
    "plateau": per_step(
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode=p["mode"], factor=p["gamma"], patience=p["patience"], min_lr=p["minLr"]),
        p["metrics"],
    ),
}))
