"""Chapter 6's stored experiment: cats versus dogs at 32 px, fine-tuned from our CIFAR-10 ResNet-20 or trained
from scratch, with the same network, data, augmentation, optimiser and number of epochs; each start at the
learning rate chosen for it.

    RESNET_DATA=/path/to/data python tools/run_transfer.py --tune --results results/catsdogs-tuning.json
    RESNET_DATA=/path/to/data python tools/run_transfer.py --lr fine-tuned=0.05 --lr from-scratch=0.02 \\
        --seeds 0 1 2 --results results/catsdogs-transfer.json

`--tune` chooses each start's learning rate on the training photos alone: it trains on four fifths of them and
measures on the other fifth (every fifth photo, so both classes keep their share), one run per learning rate.
Without it, each start trains on all training photos once per seed and is tested on all test photos. The seed
draws the new head's initial weights (and a from-scratch network's), the batches and the augmentation.

The photos are Kaggle's Dogs vs. Cats (`data.dogs_vs_cats`), decoded once to 32 x 32 (shorter side resized,
centre crop). The backbone is a stored run of the book (`results.load_model`), its 10-way head replaced by a
new 2-way one. Writes one JSON file: every run's settings, test accuracy, history and seconds, and the
provenance.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from resnet_lib import data, results
from resnet_lib.pretrain import in_memory
from resnet_lib.provenance import command_line, provenance, timestamp
from resnet_lib.transfer import new_network, train_at_32px

ROOT = Path(__file__).resolve().parents[1]
STARTS = ("fine-tuned", "from-scratch")


def held_out(t: data.ImageTensors, every: int = 5) -> tuple[data.ImageTensors, data.ImageTensors]:
    """(the rest, every `every`-th image): a validation split carved out of the training images."""
    is_val = torch.arange(len(t)) % every == every - 1
    part = lambda keep, name: data.ImageTensors(t.images[keep], t.labels[keep], t.classes,  # noqa: E731
                                                f"{t.source}; {name}")
    return part(~is_val, f"all but every {every}th photo"), part(is_val, f"every {every}th photo")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default="fig6-cifar10-resnet20", help="a stored run in results/ (its .pt weights)")
    p.add_argument("--model", default="cifar_resnet20", help="the network of both starts")
    p.add_argument("--starts", nargs="+", choices=STARTS, default=list(STARTS))
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--tune", action="store_true", help="choose the learning rates on a held-out fifth")
    p.add_argument("--tune-lrs", type=float, nargs="+", default=[0.01, 0.03, 0.1])
    p.add_argument("--lr", action="append", default=[], metavar="START=LR",
                   help="the learning rate of a start (fine-tuned=0.05, from-scratch=0.02)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--results", required=True, help="the JSON file to write")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    lrs = dict(item.split("=") for item in args.lr)
    if not args.tune and sorted(lrs) != sorted(args.starts):
        p.error(f"give --lr for each of {', '.join(args.starts)} (or --tune to choose them)")

    origin = provenance(ROOT, command_line(__file__, sys.argv[1:] if argv is None else argv, ROOT), device="cpu")
    t0 = time.perf_counter()
    train = in_memory(data.dogs_vs_cats("train"), 32)
    test = in_memory(data.dogs_vs_cats("test"), 32)
    if args.tune:
        train, test = held_out(train)
        plan = [(start, lr, args.seeds[0]) for start in args.starts for lr in args.tune_lrs]
    else:
        plan = [(start, float(lrs[start]), seed) for seed in args.seeds for start in args.starts]
    print(f"train {len(train)} photos ({train.source}), test {len(test)} ({test.source})", flush=True)

    runs = []
    for start, lr, seed in plan:
        model = new_network(args.model, 2, args.backbone if start == "fine-tuned" else None, seed)
        t = time.perf_counter()
        history, metrics = train_at_32px(model, train, test, epochs=args.epochs, lr=lr, seed=seed)
        runs.append({"start": start, "lr": lr, "seed": seed, "top1": metrics["top1"], "count": metrics["count"],
                     "loss": metrics["loss"], "per_class": metrics["per_class"].tolist(),
                     "train_top1": history[-1]["train_top1"], "seconds": round(time.perf_counter() - t, 1),
                     "history": history.records})
        print(f"{start:<13} lr {lr:<6} seed {seed}: test top-1 {100 * metrics['top1']:.2f}% of {metrics['count']}, "
              f"train top-1 {100 * history[-1]['train_top1']:.1f}%, {runs[-1]['seconds']:.0f} s", flush=True)

    backbone = results.load_result(args.backbone) if "fine-tuned" in args.starts else None
    out = {
        "experiment": "cats versus dogs at 32 px: fine-tuned from a CIFAR-10 network, or from scratch",
        "tuning": args.tune,
        "model": args.model,
        "backbone": backbone and {"name": args.backbone, "test_error_pct": backbone["test"]["error_pct"],
                                  "iterations": backbone["iterations"], "data": backbone["provenance"]["data"]},
        "epochs": args.epochs, "batch_size": 64, "weight_decay": 5e-4, "schedule": "cosine, SGD momentum 0.9",
        "train": {"photos": len(train), "source": train.source},
        "test": {"photos": len(test), "source": test.source},
        "provenance": {**origin, "wall_seconds": round(time.perf_counter() - t0, 1), "finished": timestamp()},
        "runs": runs,
    }
    Path(args.results).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
