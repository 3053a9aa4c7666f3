"""How fast a network trains when nothing else is in the way: forward, backward and the optimizer's step on
batches already on the device. This is the ceiling of any training loop (`fit` reaches about 0.96 of it on
a CPU, see benchmarks/throughput.py) and what chapter 7 measures mixed precision, channels_last and
torch.compile with.

    step = TrainingStep(model, [(images, labels)], amp=torch.bfloat16, channels_last=True)
    step.run(2)                     # warm-up (and compilation, with compile=True)
    images_per_s = step.run(30)     # CUDA events on a GPU, the wall clock elsewhere
"""

from __future__ import annotations

import torch
from torch import nn

from .train import Stopwatch

__all__ = ["TrainingStep", "step_settings"]


class TrainingStep:
    """SGD steps of `model` (lr 0.1, momentum 0.9, weight decay 1e-4) over `batches`, a list of (images,
    labels) taken in turn. `amp`: None (float32) or the autocast dtype, with a gradient scaler for float16.
    `channels_last` puts the model and the batches in that memory format; `compile` wraps the model in
    torch.compile (the first `run` then includes the compilation)."""

    def __init__(self, model: nn.Module, batches, amp: torch.dtype | None = None, channels_last: bool = False,
                 compile: bool = False):
        self.device = next(model.parameters()).device
        self.amp = amp
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(memory_format=fmt)
        self.net = torch.compile(self.model) if compile else self.model
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=amp == torch.float16)
        self.criterion = nn.CrossEntropyLoss()
        self.batches = [(x.to(self.device).contiguous(memory_format=fmt), y.to(self.device)) for x, y in batches]
        self.steps_done = 0

    def step(self) -> None:
        x, y = self.batches[self.steps_done % len(self.batches)]
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            loss = self.criterion(self.net(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.steps_done += 1

    def run(self, steps: int) -> float:
        """Take `steps` steps; their images per second (the clock waits for the device at the end only)."""
        images = 0
        clock = Stopwatch(self.device)
        for _ in range(steps):
            images += len(self.batches[self.steps_done % len(self.batches)][1])
            self.step()
        return images / clock.stop()


def step_settings(low: torch.dtype, compile: bool = False) -> dict[str, dict]:
    """The settings chapter 7 and benchmarks/precision.py compare, by name: `TrainingStep` keywords for
    float32, channels_last, autocast to `low` (bfloat16 or float16), both, and with compile all three."""
    name = str(low).removeprefix("torch.")
    out = {"float32": {}, "float32, channels_last": {"channels_last": True},
           f"{name} autocast": {"amp": low}, f"{name} autocast, channels_last": {"amp": low, "channels_last": True}}
    if compile:
        out[f"{name} autocast, channels_last, compile"] = {"amp": low, "channels_last": True, "compile": True}
    return out
