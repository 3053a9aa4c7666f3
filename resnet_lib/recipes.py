"""The paper's training recipes, and a few of our own, as named dataclasses.

    recipe = get_recipe("cifar10-resnet20")                  # Section 4.2 of the paper
    model, train_loader, val_loader, config = prepare(recipe, subset=1000, iterations=200)
    history = fit(model, train_loader, val_loader, config, out_dir="runs/resnet20")

A `Recipe` is a `TrainConfig` (model, length, batch, optimizer, schedule) plus what the data needs: the data
set, its splits, the image size, the augmentation, and the pretrained weights a fine-tuning recipe starts from.
`prepare` turns it into a model, loaders and the `TrainConfig` for `fit`, with any overrides applied.

When a run is made shorter or longer than its recipe (`iterations=` or `epochs=`), the learning-rate drops
move with it: they stay at the same fractions of the run (the paper's 32k and 48k of 64k iterations are
its half and three quarters). The warm-up keeps its length in iterations.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from . import data, models
from .distributed import rank_and_world_size
from .train import TrainConfig, pick_device, uses_channels_last
from .transfer import load_pretrained

__all__ = ["Recipe", "Prepared", "DATASETS", "AUGMENTATIONS", "recipe_names", "get_recipe", "prepare",
           "split_loader", "describe"]

DATASETS = ("cifar10", "pets", "imagenette", "imagenet", "folder")
# "pad-crop-flip": Section 4.2, 4-pixel zero padding, a random 32x32 crop, a horizontal flip with p = 1/2.
# "resized-crop-flip": torchvision's ImageNet recipe, a random crop of 8%-100% of the area at 3/4-4/3 aspect,
#     resized to image_size, and a flip; evaluation resizes to image_size x 256/224 and takes the centre crop.
# "none": the evaluation transform for training too.
AUGMENTATIONS = {"cifar10": ("pad-crop-flip", "none")}
AUGMENTATIONS.update({name: ("resized-crop-flip", "none") for name in DATASETS if name != "cifar10"})

EVAL_BATCH = 500  # images a batch when evaluating CIFAR-10 (memory, not results, depends on it)


@dataclass
class Recipe:
    """A named way to train: `config` says how to optimise, the other fields say on what.

    `train_split` is trained on; `val_split`, if any, is evaluated after each epoch (and decides best.pt;
    None for a final run that trains on every labelled image); `test_split`, if any, is evaluated once at
    the end of a run and nowhere else, with the mirror image averaged in if `test_flip`. `pretrained` names
    torchvision's ImageNet weights for the backbone (the head is new, with the data set's classes).
    `milestone_epochs`: for epoch-based recipes, the epochs where the learning rate drops (turned into
    iterations once the loader's length is known).
    """

    name: str
    summary: str
    dataset: str
    config: TrainConfig
    image_size: int = 32
    train_split: str = "train"
    val_split: str | None = "val"
    test_split: str | None = None
    test_flip: bool = False
    augment: str = "pad-crop-flip"
    pretrained: str | None = None
    milestone_epochs: tuple[int, ...] = ()

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"Recipe.dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.augment not in AUGMENTATIONS[self.dataset]:
            raise ValueError(f"Recipe.augment for {self.dataset} must be one of "
                             f"{', '.join(AUGMENTATIONS[self.dataset])}, got {self.augment!r}")
        if self.config.model is None:
            raise ValueError("a Recipe's config must name its model (TrainConfig(model=...))")
        if self.milestone_epochs and (self.config.milestones or self.config.epochs is None):
            raise ValueError("milestone_epochs is for recipes counted in epochs, instead of config.milestones")
        self.milestone_epochs = tuple(self.milestone_epochs)

    @property
    def num_classes(self) -> int:
        return self.config.model_kwargs.get("num_classes", 10 if self.dataset == "cifar10" else 1000)


# ---------------------------------------------------------------------------------------------- the recipes

def _cifar(depth: int, residual: bool = True) -> Recipe:
    """Section 4.2: "a weight decay of 0.0001 and momentum of 0.9 ... a mini-batch size of 128 ... We start
    with a learning rate of 0.1, divide it by 10 at 32k and 48k iterations, and terminate training at 64k
    iterations, which is determined on a 45k/5k train/val split." ResNet-110 starts at 0.01 "until the
    training error is below 80% (about 400 iterations)", then goes back to 0.1."""
    kind = "resnet" if residual else "plain"
    warmup = dict(warmup_iters=400, warmup="constant", warmup_lr=0.01) if depth == 110 else {}
    config = TrainConfig(model=f"cifar_{kind}{depth}", iterations=64_000, batch_size=128, lr=0.1, momentum=0.9,
                         weight_decay=1e-4, schedule="step", milestones=(32_000, 48_000), **warmup)
    what = f"ResNet-{depth}" if residual else f"plain-{depth} (ResNet-{depth} without shortcuts)"
    note = ", 0.01 for the first 400" if warmup else ""
    return Recipe(f"cifar10-{kind}{depth}", f"{what} on CIFAR-10 (Section 4.2): 64k iterations of 128, "
                  f"lr 0.1 /10 at 32k and 48k{note}",
                  "cifar10", config, image_size=32, train_split="train", val_split="val", test_split="test",
                  augment="pad-crop-flip")


def _cifar_fast() -> Recipe:
    """The paper's ResNet-20, unchanged, trained for the time to its accuracy instead of by Section 4.2: fewer
    epochs on all 50,000 training images (tried on the 45k/5k split first: results/fast-tuning/), a linear
    warm-up then a linear decay to zero, Nesterov momentum, weight decay 5e-4 on the convolution and fc
    weights only, label smoothing 0.1, bfloat16 autocast and channels_last (the fastest settings on a CPU
    with bfloat16 units, chapter 7), and the test images averaged with their mirror images. Chapter 5
    compares it with the paper's recipe, in time and in error."""
    config = TrainConfig(model="cifar_resnet20", epochs=70, batch_size=128, lr=0.2, momentum=0.9, nesterov=True,
                         weight_decay=5e-4, no_decay_bn_bias=True, schedule="linear", warmup="linear",
                         warmup_iters=390, warmup_lr=0.02, label_smoothing=0.1, amp="bf16", channels_last=True)
    return Recipe("cifar10-resnet20-fast", "ResNet-20 on CIFAR-10 for time to accuracy (our recipe): 70 epochs "
                  "of 50k, lr 0.2 linear warm-up and decay, Nesterov, wd 5e-4, label smoothing 0.1, bf16",
                  "cifar10", config, image_size=32, train_split="train+val", val_split=None, test_split="test",
                  test_flip=True, augment="pad-crop-flip")


_RECIPES: dict[str, Recipe] = {r.name: r for r in (
    *(_cifar(depth) for depth in (20, 32, 44, 56, 110)),
    *(_cifar(depth, residual=False) for depth in (20, 56)),
    _cifar_fast(),
    Recipe("pets-resnet50", "ResNet-50 from ImageNet weights, fine-tuned on Oxford-IIIT Pet's 37 breeds "
           "(our recipe)",
           "pets", TrainConfig(model="resnet50", model_kwargs={"num_classes": 37}, epochs=10, batch_size=64,
                               lr=0.01, backbone_lr_mult=0.1, momentum=0.9, weight_decay=1e-4, schedule="cosine"),
           image_size=224, train_split="trainval", val_split="test", augment="resized-crop-flip",
           pretrained="IMAGENET1K_V1"),
    Recipe("catsdogs-resnet18", "ResNet-18 from ImageNet weights, fine-tuned on your folders "
           "DATA/{train,val}/{cat,dog}/ (our recipe)",
           "folder", TrainConfig(model="resnet18", model_kwargs={"num_classes": 2}, epochs=5, batch_size=32,
                                 lr=0.01, backbone_lr_mult=0.1, momentum=0.9, weight_decay=1e-4,
                                 schedule="cosine"),
           image_size=224, train_split="train", val_split="val", augment="resized-crop-flip",
           pretrained="IMAGENET1K_V1"),
    # Section 3.4: batch 256, lr 0.1 "divided by 10 when the error plateaus", weight decay 1e-4, momentum 0.9,
    # 224 crops; the plateaus at torchvision's fixed epochs 30 and 60 of 90.
    Recipe("imagenet-resnet50", "ResNet-50 on ImageNet (Section 3.4): 90 epochs of 256, lr 0.1 /10 every "
           "30 epochs",
           "imagenet", TrainConfig(model="resnet50", epochs=90, batch_size=256, lr=0.1, momentum=0.9,
                                   weight_decay=1e-4, schedule="step"),
           image_size=224, train_split="train", val_split="val", augment="resized-crop-flip",
           milestone_epochs=(30, 60)),
    # The ImageNet pipeline at a size a CPU can run: ten classes, 160 px images, 128 px crops.
    Recipe("imagenette-resnet18", "ResNet-18 from scratch on Imagenette, 10 ImageNet classes at 128 px "
           "(our recipe)",
           "imagenette", TrainConfig(model="resnet18", model_kwargs={"num_classes": 10}, epochs=20,
                                     batch_size=64, lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine"),
           image_size=128, train_split="train", val_split="val", augment="resized-crop-flip"),
)}


def recipe_names() -> list[str]:
    """Every name `get_recipe` accepts."""
    return list(_RECIPES)


def get_recipe(name: str) -> Recipe:
    """The recipe called `name` (a copy: change it freely)."""
    if name not in _RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid recipes: {', '.join(_RECIPES)}")
    return copy.deepcopy(_RECIPES[name])


# ---------------------------------------------------------------------------------------------- prepare

class Prepared(NamedTuple):
    model: nn.Module
    train_loader: object
    val_loader: object
    config: TrainConfig


def _with_length(recipe: Recipe, overrides: dict) -> TrainConfig:
    """The recipe's config with `overrides` (TrainConfig fields); epochs replace iterations and vice versa."""
    overrides = {k: v for k, v in overrides.items() if v is not None}  # None: the recipe's value
    unknown = set(overrides) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown TrainConfig field(s): {', '.join(sorted(unknown))}")
    if "epochs" in overrides and "iterations" in overrides:
        raise ValueError("give epochs or iterations, not both")
    if "epochs" in overrides:
        overrides["iterations"] = None
    elif "iterations" in overrides:
        overrides["epochs"] = None
    return dataclasses.replace(recipe.config, **overrides)


def _scaled_milestones(recipe: Recipe, config: TrainConfig, iters_per_epoch: int) -> tuple[int, ...]:
    """The recipe's learning-rate drops in iterations, at the same fractions of this run as of the recipe's."""
    r = recipe.config
    full = r.iterations or r.epochs * iters_per_epoch
    marks = r.milestones or tuple(e * iters_per_epoch for e in recipe.milestone_epochs)
    total = config.iterations or config.epochs * iters_per_epoch
    return tuple(marks) if total == full else tuple(round(m * total / full) for m in marks)


def _evenly(dataset, n: int | None):
    """The first-to-last `n` images of `dataset`, evenly spaced (folders are sorted by class, so the first n
    would all be one class); the whole data set when n is None."""
    if n is None or n >= len(dataset):
        return dataset
    picked = torch.utils.data.Subset(dataset, [i * len(dataset) // n for i in range(n)])
    picked.classes, picked.source = dataset.classes, dataset.source
    picked.targets = [dataset.targets[i] for i in picked.indices]
    return picked


def _image_dataset(recipe: Recipe, split: str, train: bool, root, download: bool):
    """An ImageNet-style split with the recipe's transforms; `.source` says which data set and split."""
    augment = train and recipe.augment != "none"
    size = recipe.image_size
    if recipe.dataset == "pets":
        ds = data.pets(split, root, target="breed", train=augment, size=size, download=download)
    elif recipe.dataset == "imagenette":
        ds = data.imagenette(split, root, train=augment, size=size, download=download)
    elif recipe.dataset == "imagenet":
        ds = data.imagenet(split, root, train=augment, size=size)
        ds.source = f"ImageNet-1k (ILSVRC2012) folders, {split} split"
    else:  # "folder"
        root = data.data_root() / "catsdogs" if root is None else Path(root).expanduser()
        ds = data.image_folder(root, split, train=augment, size=size)
        ds.source = f"image folders {split}/<class>/ ({', '.join(ds.classes)})"
    return ds


def _cifar_loader(recipe: Recipe, split: str, train: bool, batch_size: int, root, subset, device, download,
                  seed: int, channels_last: bool):
    tensors = data.load_cifar10(split, root, download)
    rank, world = rank_and_world_size()
    return data.CifarLoader(tensors, batch_size, train=train, device=device, seed=seed,
                            augment=train and recipe.augment != "none", channels_last=channels_last,
                            rank=rank, world_size=world, subset=min(subset, len(tensors)) if subset else None)


def _loader(recipe: Recipe, split: str, train: bool, config: TrainConfig, data_root, subset, device, download,
            workers):
    """A loader of one split, for this process (its shard, under torch.distributed)."""
    rank, world = rank_and_world_size()
    if train and config.batch_size % world:
        raise ValueError(f"batch size {config.batch_size} does not split evenly over {world} processes")
    if recipe.dataset == "cifar10":
        channels_last = uses_channels_last(config, device)
        return _cifar_loader(recipe, split, train, config.batch_size // world if train else EVAL_BATCH,
                             data_root, subset, device, download, config.seed, channels_last)
    ds = _evenly(_image_dataset(recipe, split, train, data_root, download), subset)
    return data.make_loader(ds, max(1, config.batch_size // world), train=train, workers=workers,
                            seed=config.seed)


def _classes(loader) -> list[str]:
    return list(getattr(loader, "classes", None) or loader.dataset.classes)


def prepare(recipe: Recipe | str, data_root=None, subset: int | None = None, device=None, download: bool = False,
            workers: int | None = None, pretrained: bool = True, **overrides) -> Prepared:
    """(model, train_loader, val_loader, config) for `fit`, from a recipe (or its name) and overrides.

    `data_root`: the folder holding the data sets (default: `data.data_root()`); for "imagenet" and "folder"
    recipes the data set's own folder with train/ and val/ in it. `subset`: use only the first `subset`
    images of each split (evenly spaced for image folders), for a quick run. `device`: where the CIFAR-10
    tensors live and the model trains (default: the best there is). `workers`: DataLoader processes for
    image data sets. `pretrained=False` skips loading the recipe's pretrained weights (e.g. when a checkpoint
    will overwrite them). `overrides`: TrainConfig fields, e.g. iterations=100, batch_size=64, lr=0.05; the
    recipe's learning-rate drops move with the run's length, unless `milestones` is one of them.

    Under torch.distributed the loaders give this process its shard and batches of batch_size / world_size.
    The model is initialised from `config.seed`.
    """
    if isinstance(recipe, str):
        recipe = get_recipe(recipe)
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be at least 1, got {subset}")
    if device is not None:
        overrides["device"] = str(device)
    config = _with_length(recipe, overrides)
    device = pick_device(config.device)
    train_loader = _loader(recipe, recipe.train_split, True, config, data_root, subset, device, download, workers)
    val_loader = (_loader(recipe, recipe.val_split, False, config, data_root, subset, device, download, workers)
                  if recipe.val_split else None)
    if len(train_loader) == 0:
        raise ValueError(f"{recipe.train_split} has fewer images than one batch of {config.batch_size}: "
                         f"use a smaller batch size or more images")
    classes = _classes(train_loader)
    if len(classes) != recipe.num_classes:
        raise ValueError(f"{recipe.name} is a {recipe.num_classes}-class recipe, but the {recipe.train_split} "
                         f"data has {len(classes)} classes ({', '.join(classes[:5])}"
                         f"{', ...' if len(classes) > 5 else ''})")
    if val_loader is not None and _classes(val_loader) != classes:
        raise ValueError(f"the {recipe.val_split} classes ({', '.join(_classes(val_loader))}) differ from the "
                         f"{recipe.train_split} classes ({', '.join(classes)}): both need the same class folders")
    if "milestones" not in overrides:  # milestones given are iterations of this run, kept as they are
        config = dataclasses.replace(config, milestones=_scaled_milestones(recipe, config, len(train_loader)))

    torch.manual_seed(config.seed)
    model = models.build(config.model, **config.model_kwargs)
    if recipe.pretrained and pretrained:
        load_pretrained(model, recipe.pretrained, download=download)  # the backbone; the new head stays
    return Prepared(model, train_loader, val_loader, config)


def split_loader(recipe: Recipe | str, split: str, config: TrainConfig, data_root=None,
                 subset: int | None = None, download: bool = False, workers: int | None = None):
    """An evaluation loader of any split of the recipe's data set, e.g. its `test_split` at the end of a run
    (same arguments as `prepare`; `config` is the one `prepare` returned)."""
    if isinstance(recipe, str):
        recipe = get_recipe(recipe)
    return _loader(recipe, split, False, config, data_root, subset, pick_device(config.device), download,
                   workers)


DESCRIBE_WIDTH = 98  # the book's code column
PRECISION = {"bf16": "bfloat16 autocast", "fp16": "float16 autocast", "off": "float32"}  # "auto": the device's


def describe(recipe: Recipe, config: TrainConfig | None = None, iters_per_epoch: int | None = None) -> str:
    """A few lines saying what a run of `recipe` (with `config`, default the recipe's own) does."""
    c = config or recipe.config
    if c.iterations is not None:
        length = f"{c.iterations:,} iterations"
        if iters_per_epoch:
            length += f" ({iters_per_epoch:,} per epoch, {math.ceil(c.iterations / iters_per_epoch)} epochs)"
    else:
        length = f"{c.epochs} epochs" + (f" of {iters_per_epoch:,} iterations" if iters_per_epoch else "")
    if c.schedule == "step" and c.milestones:
        schedule = f"lr x{c.gamma:g} at iterations {', '.join(str(m) for m in c.milestones)}"
    elif c.schedule == "step" and recipe.milestone_epochs:
        schedule = f"lr x{c.gamma:g} at epochs {', '.join(str(m) for m in recipe.milestone_epochs)}"
    elif c.schedule == "step":
        schedule = "constant lr"
    else:
        schedule = f"{c.schedule} lr"
    warmup = (f", warm-up {c.warmup_iters} iterations ({c.warmup}, from "
              f"{c.warmup_lr if c.warmup_lr is not None else c.lr / 10:g})" if c.warmup_iters else "")
    backbone = f", backbone lr x{c.backbone_lr_mult:g}" if c.backbone_lr_mult != 1 else ""
    momentum = f"{'Nesterov ' if c.nesterov else ''}momentum {c.momentum:g}"
    decay = f"weight decay {c.weight_decay:g}" + (" (not on BN and biases)" if c.no_decay_bn_bias else "")
    extras = ([f"label smoothing {c.label_smoothing:g}"] if c.label_smoothing else []) + (
        [PRECISION[c.amp]] if c.amp in PRECISION else [])
    splits = f"train on {recipe.train_split}, " + (f"validate on {recipe.val_split}" if recipe.val_split
                                                    else "no validation")
    if recipe.test_split:
        splits += f", test on {recipe.test_split} at the end" + (" (with flips)" if recipe.test_flip else "")
    start = f"{recipe.pretrained} weights, new {recipe.num_classes}-way head" if recipe.pretrained else "scratch"
    items = [
        ("recipe", f"{recipe.name}: {recipe.summary}"),
        ("model", f"{c.model} {c.model_kwargs or ''}".rstrip() + f", from {start}"),
        ("data", f"{recipe.dataset}, {recipe.image_size}x{recipe.image_size}, augmentation {recipe.augment}; "
                 f"{splits}"),
        ("training", f"{length} of batch {c.batch_size}; SGD lr {c.lr:g}, {momentum}, {decay}{backbone}; "
                     f"{schedule}{warmup}" + "".join(f"; {x}" for x in extras)),
    ]
    # one item a line, wrapped under itself, so that it reads in a terminal and on the book's page
    return "\n".join(textwrap.fill(text, DESCRIBE_WIDTH, initial_indent=f"{label:<10}", subsequent_indent=" " * 10,
                                   break_long_words=False, break_on_hyphens=False) for label, text in items)
