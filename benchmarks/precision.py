"""What mixed precision, channels_last and torch.compile are worth: images per second of whole training steps
(`speed.TrainingStep`: forward, backward, SGD step on batches made beforehand) of each model in each setting.

Measured as benchmarks/throughput.py measures: warm-up steps first (compilation, with compile), then
`--repeats` rounds of `--steps` timed steps, the settings taking turns round by round so that a change in
the machine's load hits them alike; the table gives each setting's median. Chapter 7 reads the JSON file.

    python benchmarks/precision.py --json results/precision-cpu.json              # ResNet-20 and ResNet-50
    python benchmarks/precision.py --models cifar_resnet20 --compile              # and torch.compile
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import torch

import throughput  # benchmarks/throughput.py, beside this file
from resnet_lib import models
from resnet_lib.provenance import command_line, provenance
from resnet_lib.speed import TrainingStep, step_settings
from resnet_lib.train import pick_device

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"cifar_resnet20": (32, 10), "cifar_resnet56": (32, 10), "resnet18": (224, 1000), "resnet50": (224, 1000)}


def settings(device: torch.device, compile: bool) -> dict:
    """name -> TrainingStep keywords. Mixed precision in bfloat16, the type that needs no gradient scaler
    (float16 on GPUs without bfloat16 units)."""
    low = torch.bfloat16 if device.type == "cpu" or torch.cuda.is_bf16_supported() else torch.float16
    return step_settings(low, compile)


def rows_for(name: str, batch: int, args, device: torch.device) -> list[dict]:
    size, classes = SHAPES[name]
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(batch, 3, size, size, generator=g), torch.randint(0, classes, (batch,), generator=g))]
    steps = {}
    for setting, kw in settings(device, args.compile).items():
        torch.manual_seed(0)
        steps[setting] = TrainingStep(models.build(name, num_classes=classes).to(device), batches, **kw)
    rounds, warmup = throughput.measure(steps, args.warmup, args.steps, args.repeats)
    return [{"model": name, "image_size": size, "batch_size": batch, "setting": s,
             "images_per_s": statistics.median(r), "rounds": [round(x, 2) for x in r],
             "warmup_seconds": warmup[s]} for s, r in rounds.items()]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["cifar_resnet20", "resnet50"], choices=sorted(SHAPES))
    p.add_argument("--batch", type=int, default=128, help="batch of the 32-pixel models")
    p.add_argument("--batch-224", type=int, default=16, help="batch of the 224-pixel models")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--device")
    p.add_argument("--json", help="write the table here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    origin = provenance(ROOT, command_line(__file__, sys.argv[1:] if argv is None else argv, ROOT),
                        device=device.type)
    load_before = os.getloadavg()[0]
    rows = []
    for name in args.models:
        batch = args.batch if SHAPES[name][0] == 32 else args.batch_224
        model_rows = rows_for(name, batch, args, device)
        rows += model_rows
        for r in model_rows:
            r["vs_float32"] = r["images_per_s"] / model_rows[0]["images_per_s"]  # the first row is float32
            print(f"{name:<16}{r['image_size']:>4} px, batch {batch:<4} {r['setting']:<42}"
                  f"{r['images_per_s']:>9.1f} img/s {r['vs_float32']:>6.2f}x  (warm-up {r['warmup_seconds']} s)",
                  flush=True)
    result = {"what": "images/s of whole training steps (speed.TrainingStep) by precision, layout and compile",
              **origin, "threads": torch.get_num_threads(), "warmup_steps": args.warmup, "steps": args.steps,
              "repeats": args.repeats, "load_average_1min": [load_before, os.getloadavg()[0]], "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
