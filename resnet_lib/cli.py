"""`resnet-train RECIPE` (also `python -m resnet_lib RECIPE`): train one of the recipes of `resnet_lib.recipes`.

    resnet-train --list
    resnet-train cifar10-resnet20 --out runs/r20                         # Section 4.2, 64k iterations
    resnet-train cifar10-resnet20 --subset 2000 --iterations 200         # a quick look
    resnet-train cifar10-resnet20 --out runs/r20 --resume runs/r20/last.pt
    torchrun --standalone --nproc_per_node=8 -m resnet_lib imagenet-resnet50 --data /data/imagenet \
        --checkpoint-every 1000

Under torchrun every process runs this; rank 0 alone prints and writes. Mistakes in the command (a recipe
that does not exist, missing data, an unreadable checkpoint) end with one line `resnet-train: error: ...`
and exit status 2; the library's advice in them is given in the command line's terms (`--download`, not
`download=True`).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import textwrap
import warnings
from pathlib import Path

from . import data, distributed, recipes, train
from .checkpoint import CheckpointError

PROG = "resnet-train"
# The library's advice names its arguments; the command line says its options instead.
CLI_TERMS = (("pass download=True", "pass --download"), ("choose another out_dir", "choose another --out"),
             ("Try a lower lr, a warm-up (warmup_iters) or amp='off'", "Try a lower --lr or --amp off"))


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        _fail(f"{message} (see {PROG} --help)")


def _fail(message: str, status: int = 2):
    for library, cli in CLI_TERMS:
        message = message.replace(library, cli)
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(status)


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value
    return parse


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Train one of the paper's recipes (resnet_lib.recipes) by name.",
                epilog="Under torchrun the same command trains with DistributedDataParallel, one process per GPU.")
    p.add_argument("recipe", nargs="?", help="a recipe name (--list shows them)")
    p.add_argument("--list", action="store_true", help="list the recipes and exit")
    p.add_argument("--data", metavar="DIR", help="the folder holding the data sets (default $RESNET_DATA, else "
                   "~/.cache/resnet-book/data); for imagenet-* and catsdogs-* the data set's own folder, "
                   "with train/ and val/")
    p.add_argument("--epochs", type=_positive(int), metavar="N", help="train N epochs instead of the recipe's length")
    p.add_argument("--iterations", type=_positive(int), metavar="N", help="train N iterations instead")
    p.add_argument("--batch-size", type=_positive(int), metavar="N", help="global batch size (all processes)")
    p.add_argument("--lr", type=_positive(float), metavar="X", help="peak learning rate")
    p.add_argument("--subset", type=_positive(int), metavar="N", help="use only N images of each split")
    p.add_argument("--out", metavar="DIR", help="where history.json, last.pt and best.pt go "
                   "(default runs/RECIPE)")
    p.add_argument("--resume", metavar="PATH", help="continue from this checkpoint (e.g. DIR/last.pt)")
    p.add_argument("--checkpoint-every", type=_positive(int), metavar="N", help="also write last.pt every N "
                   "iterations, inside epochs (default: at each epoch's end); --resume continues from there exactly")
    p.add_argument("--amp", choices=train.AMP_MODES, help="mixed precision (default auto: bf16 or fp16 on "
                   "CUDA, off elsewhere)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, help="torch.compile the model "
                   "(default: TrainConfig's)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, help="channels-last memory format "
                   "(default: on for CUDA and CPU)")
    p.add_argument("--workers", type=_count, metavar="N", help="DataLoader processes for image folders")
    p.add_argument("--download", action="store_true", help="download missing data sets and pretrained weights")
    p.add_argument("--seed", type=int, metavar="N", help="seed of the weights, the data order and augmentation")
    return p


def _list() -> str:
    """One recipe a line, its summary wrapped under itself to the terminal's width, as argparse's --help."""
    names = recipes.recipe_names()
    width = max(map(len, names)) + 2
    columns = shutil.get_terminal_size().columns
    return "\n".join(textwrap.fill(recipes.get_recipe(name).summary, max(columns, width + 20),
                                   initial_indent=f"{name:<{width}}", subsequent_indent=" " * width)
                     for name in names)


def _metrics(prefix: str, m: dict, count: int | None = None) -> str:
    text = f"{prefix} loss {m['loss']:.4f} top-1 {100 * m['top1']:.2f}%"
    if "top5" in m:
        text += f" top-5 {100 * m['top5']:.2f}%"
    return text + (f" ({count:,} images)" if count else "")


def _size(loader) -> int:
    return getattr(loader, "num_examples", None) or len(loader.dataset)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.list:
        print(_list())
        return
    if args.recipe is None:
        _fail(f"give a recipe name; {PROG} --list shows them")
    try:
        recipe = recipes.get_recipe(args.recipe)
    except ValueError as e:
        _fail(str(e))
    if args.epochs and args.iterations:
        _fail("give --epochs or --iterations, not both")
    if args.data is not None and not Path(args.data).expanduser().is_dir():
        _fail(f"--data {args.data}: no such folder")
    if args.resume is not None and not Path(args.resume).is_file():
        _fail(f"--resume {args.resume}: no such file")
    out = Path(args.out or Path("runs") / recipe.name)
    if out.exists() and not out.is_dir():
        _fail(f"--out {out} is a file, not a folder: choose another --out")
    if args.resume is None and (out / "last.pt").exists():
        _fail(f"{out} already holds a run (last.pt): continue it with --resume {out / 'last.pt'}, or choose "
              f"another --out")

    dist = distributed.setup_distributed()
    main_rank = dist.rank == 0
    say = print if main_rank else (lambda *a, **k: None)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warn
            _run(args, recipe, out, dist, say)
    except (OSError, ValueError, CheckpointError) as e:  # missing data or weights, bad values, bad files
        _fail(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
    except train.TrainingError as e:
        _fail(str(e), status=1)
    except train.Interrupted as e:
        where = (f"{e.checkpoint} holds {e.saved}; continue with --resume {e.checkpoint}" if e.checkpoint
                 else "nothing was saved")
        say(f"{PROG}: interrupted in epoch {e.epoch}: {where}", file=sys.stderr)
        raise SystemExit(130) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    finally:
        distributed.cleanup_distributed()


def _warn(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _run(args, recipe: recipes.Recipe, out: Path, dist: distributed.DistInfo, say) -> None:
    overrides = dict(epochs=args.epochs, iterations=args.iterations, batch_size=args.batch_size, lr=args.lr,
                     amp=args.amp, compile=args.compile, channels_last=args.channels_last, seed=args.seed,
                     checkpoint_every=args.checkpoint_every)
    model, train_loader, val_loader, config = recipes.prepare(
        recipe, data_root=args.data, subset=args.subset, device=dist.device, download=args.download,
        workers=args.workers, pretrained=args.resume is None, **overrides)
    test_loader = (recipes.split_loader(recipe, recipe.test_split, config, args.data, args.subset, args.download,
                                        args.workers) if recipe.test_split else None)
    device = train.pick_device(config.device)
    say(recipes.describe(recipe, config, len(train_loader)))
    if config.milestones != recipe.config.milestones and recipe.config.milestones:
        say(f"          (the recipe's drops at {', '.join(map(str, recipe.config.milestones))} of "
            f"{recipe.config.iterations or recipe.config.epochs} moved with the run's length)")
    splits = [f"{recipe.train_split} {_size(train_loader):,}"]
    if val_loader is not None:
        splits.append(f"{recipe.val_split} {_size(val_loader):,}")
    if test_loader is not None:
        splits.append(f"{recipe.test_split} {_size(test_loader):,}")
    source = train.data_source(train_loader) or recipe.dataset
    say(f"source    {source}; in {data.data_root(args.data)}")
    say(f"images    {', '.join(splits)}" + (f" (--subset {args.subset})" if args.subset else ""))
    amp = train.amp_dtype(config.amp, device)
    channels_last = train.uses_channels_last(config, device)
    processes = f"{dist.world_size} process{'es' if dist.world_size > 1 else ''}"
    say(f"device    {device}, {processes}; amp {str(amp).removeprefix('torch.') if amp else 'off'}"
        f", channels_last {'on' if channels_last else 'off'}, compile {'on' if config.compile else 'off'}")
    say(f"out       {out}" + (f" (resuming {args.resume})" if args.resume else ""))

    history = train.fit(model, train_loader, val_loader, config, out_dir=out, resume=args.resume)
    last = history[-1] if len(history) else None
    if last is not None:
        epochs = math.ceil(history.meta["total_iterations"] / history.meta["iterations_per_epoch"])
        say(train.summary_line(last, epochs))
    if last is not None and "val_top1" in last:
        say(_metrics(f"final     {recipe.val_split}",
                     {k.removeprefix("val_"): v for k, v in last.items() if k.startswith("val_")},
                     _size(val_loader)))
    if test_loader is not None:
        test = train.evaluate(model, test_loader, device=device, amp=config.amp, channels_last=channels_last,
                              flip=recipe.test_flip)
        flipped = " (with flips)" if recipe.test_flip else ""
        say(_metrics(f"final     {recipe.test_split}{flipped}", test, test["count"]))
        history.meta["test"] = {"split": recipe.test_split, "flip": recipe.test_flip, "loss": test["loss"],
                                "top1": test["top1"], "top5": test.get("top5"), "count": test["count"]}
        if dist.rank == 0:
            history.save(out / "history.json")
    say(f"wrote     {out / 'history.json'}, {out / 'last.pt'}, {out / 'best.pt'}")
