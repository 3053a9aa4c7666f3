"""Training throughput: images per second of the whole training step, three ways, all ratios from one run.

(a) seed-style: how a typical tutorial trains. Eager, NCHW, float32; a torchvision Dataset through
    transforms one image at a time (`data.cifar_dataset`) in a `DataLoader` with no worker processes (the
    tutorial sets none); a plain loop that reads the batch's accuracy with `.item()` after every step.
(b) the library: `train.fit` over the `data.CifarLoader` (the data set as one tensor on the device, augmented
    a batch at a time), with TrainConfig's defaults for the device: channels-last (CUDA and CPU), mixed
    precision (CUDA only); torch.compile off. `--compile` adds a row per model with compile on, (a) shared.
(c) the ceiling: forward, backward and optimizer step alone, on batches made beforehand, with the settings
    of (b). (b)/(c) is what the data, the schedule and the bookkeeping of `fit` cost.

Each configuration runs its warm-up steps once, then `--repeats` rounds of `--steps` timed steps, the three
configurations taking turns round by round (so that a change in the machine's load hits them alike); the
table gives each one's median. CUDA times come from CUDA events, CPU times from time.perf_counter.

    python benchmarks/throughput.py                      # CIFAR ResNet-20 and -56 (and ResNet-50 on a GPU)
    python benchmarks/throughput.py --resnet50           # ResNet-50 at 224 on a CPU too (slow)
    python benchmarks/throughput.py --compile            # and what torch.compile changes
    python benchmarks/throughput.py --steps 50 --repeats 5 --json results/benchmark-cuda.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from resnet_lib import data, models
from resnet_lib.provenance import command_line, provenance
from resnet_lib.speed import TrainingStep
from resnet_lib.train import Stopwatch, TrainConfig, amp_dtype, fit, pick_device, uses_channels_last

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------- timing

def forever(loader):
    """The batches of `loader`, epoch after epoch."""
    epoch = 0
    while True:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def library_defaults(device: torch.device) -> tuple[bool, torch.dtype | None, bool]:
    """(channels_last, autocast dtype, compile) as `fit` sets them on `device` from TrainConfig's defaults."""
    config = TrainConfig(iterations=1)
    return uses_channels_last(config, device), amp_dtype(config.amp, device), config.compile


def describe_settings(device: torch.device, compile: bool) -> str:
    channels_last, amp, _ = library_defaults(device)
    return (f"channels_last {'on' if channels_last else 'off'}, amp {str(amp).removeprefix('torch.') if amp else 'off'}"
            f", compile {'on' if compile else 'off'}")


def new_model(name: str, num_classes: int, device: torch.device, channels_last: bool) -> nn.Module:
    torch.manual_seed(0)  # the same initial weights in every configuration
    model = models.build(name, num_classes=num_classes).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def sgd(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)


# ---------------------------------------------------------------------------------------------- (a) (b) (c)

class SeedStyle:
    """(a): a tutorial's loop over a DataLoader of per-image transforms."""

    def __init__(self, name, num_classes, dataset, batch_size, device):
        self.device, self.batch_size = device, batch_size
        self.model = new_model(name, num_classes, device, channels_last=False)
        self.optimizer, self.criterion = sgd(self.model), nn.CrossEntropyLoss()
        self.batches = forever(data.make_loader(dataset, batch_size, train=True, workers=0))

    def run(self, steps: int) -> float:
        timer = Stopwatch(self.device)  # CUDA events on a GPU, time.perf_counter elsewhere
        for _ in range(steps):
            images, target = next(self.batches)
            images, target = images.to(self.device), target.to(self.device)
            out = self.model(images)
            loss = self.criterion(out, target)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            correct = (out.argmax(1) == target).sum().item()  # the tutorial's per-batch accuracy  # noqa: F841
        return steps * self.batch_size / timer.stop()


class Library:
    """(b): `fit` with TrainConfig's defaults, on the library's loader for the data."""

    def __init__(self, name, num_classes, loader, batch_size, device, compile: bool):
        self.name, self.loader, self.device = name, loader, device
        self.model = new_model(name, num_classes, device, channels_last=False)  # fit applies its own settings
        self.config = TrainConfig(model=name, model_kwargs={"num_classes": num_classes}, iterations=1,
                                  batch_size=batch_size, progress=False, device=str(device))
        if compile:
            self.config = dataclasses.replace(self.config, compile=True)

    def run(self, steps: int) -> float:
        config = dataclasses.replace(self.config, iterations=steps)
        return fit(self.model, self.loader, config=config)[0]["images_per_s"]  # fit's own clock


class Ceiling(TrainingStep):
    """(c): forward, backward and step on batches already on the device, with the settings of (b): the
    library's `speed.TrainingStep` (the same SGD as `sgd` above), timed by CUDA events on a GPU."""

    def __init__(self, name, num_classes, batches, device, compile: bool):
        channels_last, amp, _ = library_defaults(device)
        super().__init__(new_model(name, num_classes, device, channels_last), batches, amp=amp,
                         channels_last=channels_last, compile=compile)


# ---------------------------------------------------------------------------------------------- the table

def measure(configs: dict, warmup: int, steps: int, repeats: int) -> tuple[dict, dict]:
    """img/s of each configuration in each round, and the seconds its warm-up took (compiling, with compile)."""
    warmup_seconds = {}
    for key, c in configs.items():
        t0 = time.perf_counter()
        c.run(warmup)
        warmup_seconds[key] = round(time.perf_counter() - t0, 1)
    rounds = {key: [] for key in configs}
    for _ in range(repeats):
        for key, c in configs.items():
            rounds[key].append(c.run(steps))
    return rounds, warmup_seconds


def rows_for(name: str, num_classes: int, image_size: int, batch_size: int, seed_data, lib_loader, n_batches: int,
             args, device) -> list[dict]:
    """The row of one model (and its compiled row with --compile), (a) measured once for both."""
    batches = [b for _, b in zip(range(n_batches), lib_loader)]
    configs = {"a": SeedStyle(name, num_classes, seed_data, batch_size, device)}
    for compile in (library_defaults(device)[2], True) if args.compile else (library_defaults(device)[2],):
        tag = "+compile" if compile else ""
        configs["b" + tag] = Library(name, num_classes, lib_loader, batch_size, device, compile)
        configs["c" + tag] = Ceiling(name, num_classes, batches, device, compile)
    rounds, warmup_seconds = measure(configs, args.warmup, args.steps, args.repeats)
    return [{"model": name, "image_size": image_size, "batch_size": batch_size,
             "library": describe_settings(device, compile=bool(tag) or library_defaults(device)[2]),
             "rounds": {"a": rounds["a"], "b": rounds["b" + tag], "c": rounds["c" + tag]},
             "warmup_seconds": {"a": warmup_seconds["a"], "b": warmup_seconds["b" + tag],
                                "c": warmup_seconds["c" + tag]}}
            for tag in (("", "+compile") if args.compile else ("",))]


def cifar_rows(name: str, args, device) -> list[dict]:
    root = data.data_root(args.data)
    lib_loader = data.CifarLoader(data.load_cifar10("train", root), args.batch_size, train=True, device=device,
                                  channels_last=library_defaults(device)[0])
    return rows_for(name, 10, 32, args.batch_size, data.cifar_dataset("train", root), lib_loader, args.steps,
                    args, device)


def resnet50_rows(args, device) -> list[dict]:
    root, batch = data.data_root(args.data), args.batch_size_224
    lib_loader = data.make_loader(data.imagenette("train", root, size=224), batch, train=True)
    return rows_for("resnet50", 10, 224, batch, data.imagenette("train", root, size=224), lib_loader,
                    min(args.steps, 8), args, device)


def summarise(rows: list[dict]) -> list[dict]:
    """Each row's median img/s of (a), (b) and (c) and their ratios, in place (the rounds kept, rounded)."""
    for r in rows:
        r.update({k: statistics.median(v) for k, v in r["rounds"].items()})
        r["b_over_a"], r["b_over_c"] = r["b"] / r["a"], r["b"] / r["c"]
        r["rounds"] = {k: [round(x, 2) for x in v] for k, v in r["rounds"].items()}
    return rows


def table(rows: list[dict], summary: str, notes: list[str]) -> str:
    head = (f"{'model':<16}{'size':>5}{'(a) seed-style':>17}{'(b) library':>15}{'(c) ceiling':>15}{'b/a':>8}"
            f"{'b/c':>7}  library settings")
    lines = [summary, head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['model']:<16}{r['image_size']:>5}{r['a']:>11.1f} img/s{r['b']:>9.1f} img/s"
                     f"{r['c']:>9.1f} img/s{r['b_over_a']:>7.2f}x{r['b_over_c']:>7.2f}  {r['library']}")
    return "\n".join(lines + notes)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="data root (default $RESNET_DATA, else ~/.cache/resnet-book/data)")
    p.add_argument("--device", help="cpu, cuda, ... (default: the best there is)")
    p.add_argument("--models", nargs="+", default=["cifar_resnet20", "cifar_resnet56"])
    p.add_argument("--resnet50", action="store_true", help="add ResNet-50 at 224 (always on a GPU)")
    p.add_argument("--compile", action="store_true", help="add rows with torch.compile on in (b) and (c)")
    p.add_argument("--batch-size", type=int, default=128, help="CIFAR batch (the paper's 128)")
    p.add_argument("--batch-size-224", type=int, default=64, help="ResNet-50 batch")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 3 on CPU, 20 on GPU)")
    p.add_argument("--steps", type=int, help="timed steps a round (default 10 on CPU, 100 on GPU)")
    p.add_argument("--repeats", type=int, default=3, help="rounds; the table gives the median")
    p.add_argument("--json", help="where to write the results (default results/benchmark-<device>.json)")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    gpu = device.type == "cuda"
    args.warmup = args.warmup if args.warmup is not None else (20 if gpu else 3)
    args.steps = args.steps if args.steps is not None else (100 if gpu else 10)
    load_before = os.getloadavg()
    origin = provenance(ROOT, command_line(__file__, sys.argv[1:] if argv is None else argv, ROOT), device)

    rows = [row for name in args.models for row in cifar_rows(name, args, device)]
    if args.resnet50 or gpu:
        rows += resnet50_rows(args, device)
    summarise(rows)
    load_after = os.getloadavg()

    settings = describe_settings(device, compile=library_defaults(device)[2])
    summary = (f"training throughput on {device.type} ({origin['hardware']}), torch {torch.__version__}; "
               f"{args.warmup} warm-up steps, then the median of {args.repeats} rounds of {args.steps} steps")
    notes = ["(a) eager, NCHW, float32; DataLoader over per-image transforms, 0 workers; .item() every step",
             f"(b) fit() on the library's loader; TrainConfig's defaults here: {settings}",
             "(c) forward + backward + step alone on batches made beforehand, with the settings of (b)",
             f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after, on {os.cpu_count()} CPUs"]
    print(table(rows, summary, notes))

    result = {"what": "images/s of the whole training step: (a) seed-style, (b) library, (c) ceiling",
              **origin, "device": device.type, "load_average_1min": [load_before[0], load_after[0]],
              "warmup_steps": args.warmup, "steps": args.steps, "repeats": args.repeats,
              "library_settings": settings, "notes": notes, "rows": rows}
    out = Path(args.json) if args.json else ROOT / "results" / f"benchmark-{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
