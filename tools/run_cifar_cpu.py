"""A recorded CIFAR-10 run on a CPU, for chapter 5: one of the paper's recipes (Section 4.2) through
`resnet_lib.recipes.prepare` and `fit`, shortened to `--epochs` (the learning-rate drops move with the run's
length: they stay at half and three quarters of it), the test set evaluated once at the end.

    RESNET_DATA=/path/to/data python tools/run_cifar_cpu.py cifar10-resnet20 --epochs 20 \\
        --out runs/r20-20 --results results/fig6-cifar10-resnet20.json

Writes the run (last.pt, best.pt, history.json) to --out, and to --results one JSON file that the chapter
reads: the history, the final test metrics and the run's provenance (hardware, torch version, git commit,
the command, wall time, the copy of the data), with the final weights beside it (the same name, .pt: a state
dict that `resnet_lib.results.load_model` reads). Run the same command again to continue an interrupted run
from --out/last.pt: it resumes exactly where the last completed epoch left it (with the same --threads).

To choose a recipe's hyper-parameters without the test set: `--tune` trains on the 45k split and validates
on the 5k, whatever the recipe's own splits, and `--set FIELD=VALUE` changes any TrainConfig field:

    python tools/run_cifar_cpu.py cifar10-resnet20-fast --tune --set lr=0.4 --set label_smoothing=0 \
        --threads 2 --out runs/fast-lr0.4 --results runs/fast-lr0.4.json --no-test
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from resnet_lib import recipes, train
from resnet_lib.provenance import command_line, provenance, timestamp

ROOT = Path(__file__).resolve().parents[1]


def setting(text: str) -> tuple[str, object]:
    """FIELD=VALUE, the value read as a Python literal (0.4, True, (1, 2)) or else kept as text (cosine)."""
    field, sep, value = text.partition("=")
    if not sep or not field:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE (a TrainConfig field), got {text!r}")
    try:
        return field, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return field, value


def machines(meta: dict, epochs: int) -> list[dict]:
    """Which hardware trained which epochs: the start and every resume of the run (history.json's meta), with
    neighbouring parts on the same hardware merged. Runs from before resumes recorded it say None there."""
    starts = [(0, meta.get("first_device"))] + [(r["epoch"], r.get("device")) for r in meta.get("resumes", [])]
    parts: list[dict] = []
    for (begin, device), (end, _) in zip(starts, [*starts[1:], (epochs, None)]):
        if end <= begin:
            continue
        if parts and parts[-1]["hardware"] == device:
            parts[-1]["epochs"][1] = end
        else:
            parts.append({"epochs": [begin + 1, end], "hardware": device})
    return parts


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("recipe", help="e.g. cifar10-resnet20")
    p.add_argument("--epochs", type=int, help="epochs of 45k images (default: the recipe's 64k iterations)")
    p.add_argument("--iterations", type=int, help="iterations instead of epochs")
    p.add_argument("--subset", type=int, help="only the first N images of each split")
    p.add_argument("--test-subset", type=int, help="only the first N test images (default: all 10,000)")
    p.add_argument("--out", required=True, help="folder for last.pt, best.pt, history.json")
    p.add_argument("--results", help="the JSON file the chapter reads")
    p.add_argument("--run-size", default="cpu", help="the run size this run stands for (default cpu)")
    p.add_argument("--no-test", action="store_true", help="skip the test set (timing runs, tuning)")
    p.add_argument("--tune", action="store_true",
                   help="train on the 45k split and validate on the 5k (to choose hyper-parameters)")
    p.add_argument("--set", type=setting, action="append", default=[], metavar="FIELD=VALUE",
                   help="change a TrainConfig field, e.g. --set lr=0.4 (repeatable)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a shared, loaded machine one thread ran ten times faster "
                        "than two)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    # Read before the run: the commit and the machine it started on.
    origin = provenance(ROOT, command_line(__file__, sys.argv[1:] if argv is None else argv, ROOT), device="cpu")
    t0 = time.perf_counter()
    recipe = recipes.get_recipe(args.recipe)
    if args.tune:
        recipe = dataclasses.replace(recipe, train_split="train", val_split="val")
    overrides = {"channels_last": True, "progress": False, **dict(args.set)}
    model, train_loader, val_loader, config = recipes.prepare(recipe, subset=args.subset, device="cpu",
                                                              epochs=args.epochs, iterations=args.iterations,
                                                              **overrides)
    print(recipes.describe(recipe, config, len(train_loader)), flush=True)
    print(f"source    {train_loader.source}", flush=True)
    resume = Path(args.out, "last.pt")
    if resume.is_file():
        print(f"resuming {resume}", flush=True)
    history = train.fit(model, train_loader, val_loader, config, out_dir=args.out, resume=resume.is_file())
    for r in history.records:
        print(train.summary_line(r, len(history.records)), flush=True)
    test = other = None
    if not args.no_test:
        test_loader = recipes.split_loader(recipe, recipe.test_split, config, subset=args.test_subset)
        # Both ways, whatever the recipe says: the difference is the flips' share of an ablation.
        by_flip = {}
        for flip in (False, True):
            m = train.evaluate(model, test_loader, device="cpu", amp=config.amp, channels_last=True, flip=flip)
            by_flip[flip] = {"split": recipe.test_split, "flip": flip, "loss": m["loss"], "top1": m["top1"],
                             "error_pct": 100 * (1 - m["top1"]), "count": m["count"],
                             "per_class": m["per_class"].tolist(), "confusion": m["confusion"].tolist()}
            print(f"test      top-1 {100 * m['top1']:.2f}% (error {by_flip[flip]['error_pct']:.2f}%) on {m['count']:,} "
                  f"images{', with flips' if flip else ''}", flush=True)
        test, other = by_flip[recipe.test_flip], by_flip[not recipe.test_flip]
    wall = time.perf_counter() - t0
    if args.results:
        last = history.records[-1]
        result = {
            "recipe": recipe.name,
            "model": config.model,
            "run_size": args.run_size,
            "provenance": {
                **origin,
                "wall_seconds": round(wall, 1),
                "data": train_loader.source,
                "train_images": len(train_loader.labels),
                "val_images": len(val_loader.labels) if val_loader is not None else 0,
                "finished": timestamp(),
            },
            "config": config.to_dict(),
            "epochs": len(history.records),
            "resumes": history.meta.get("resumes", []),
            "machines": machines(history.meta, len(history.records)),
            "train_seconds": round(sum(r["seconds"] + r.get("eval_seconds", 0.0) for r in history.records), 1),
            "iterations": last["iteration"],
            "final_val_error_pct": 100 * (1 - last["val_top1"]) if "val_top1" in last else None,
            "test": test,
            f"test_{'without' if recipe.test_flip else 'with'}_flips": other,
            "history": history.records,
        }
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        weights = Path(args.results).with_suffix(".pt")
        torch.save(model.state_dict(), weights)
        result["weights"] = weights.name
        Path(args.results).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote     {args.results}, {weights}")


if __name__ == "__main__":
    main()
