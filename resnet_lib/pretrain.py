"""Weights of our own, for transfer learning where torchvision's ImageNet weights cannot be downloaded.

Chapter 6 fine-tunes a ResNet pretrained on ImageNet. Where torchvision's file is not to be had, this module
trains the same network on Imagenette (ten ImageNet classes, `data.imagenette`), usually at a low
resolution, keeps the run in `data.cache_dir()` under a name made of all its settings, and gives it back at
the next call instead of training again. Chapter 7 looks at the same run as its Imagenette model.

    run = ImagenetteRun("resnet18", size=64, epochs=4)
    result = imagenette_pretrained(run)          # trains once, then reads the cache
    result.model, result.history, result.cached

Images are decoded once into memory (`in_memory`), the shorter side resized to `resize_for(size)` (ImageNet's
256 for 224) and centre-cropped square, then augmented as tensors (`tensor_transforms`): on a CPU this saves
decoding every JPEG file again at every epoch.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn
from torchvision.datasets.vision import StandardTransform
from torchvision.transforms import v2

from . import data, models
from .checkpoint import load_weights
from .data import resize_for  # chapters 6 and 7 import it from here too
from .train import History, TrainConfig, fit

__all__ = ["resize_for", "in_memory", "tensor_transforms", "ImagenetteRun", "Pretrained", "imagenette_pretrained",
           "imagenette_data"]

FORMAT = 1  # bump when what a cached run holds, or how it is trained, changes


def in_memory(dataset, resize: int, source: str | None = None, count: int | None = None,
              indices=None) -> data.ImageTensors:
    """The images of a torchvision image dataset (e.g. `data.pets(...)`, `data.imagenette(...)`) decoded
    once: shorter side resized to `resize`, centre-cropped to `resize` x `resize`, as uint8 tensors, with the
    dataset's labels and `.classes`. All of them, or `count` spread evenly over the dataset (its images are
    sorted by class, so each class keeps its share), or those at `indices`. The dataset is left as it was."""
    decode = v2.Compose([v2.Resize(resize, antialias=True), v2.CenterCrop(resize), v2.PILToTensor()])
    ds = copy.copy(dataset)
    ds.transform, ds.transforms = decode, StandardTransform(decode, None)  # VisionDatasets read either
    if indices is None:
        indices = _evenly(len(ds), count)
    images, labels = [], []
    for i in indices:
        image, label = ds[i]
        images.append(image)
        labels.append(int(label))
    if not images:
        raise ValueError("the dataset holds no images")
    return data.ImageTensors(torch.stack(images), torch.tensor(labels), list(dataset.classes),
                             source or getattr(dataset, "source", type(dataset).__name__))


def tensor_transforms(train: bool, size: int, min_scale: float = 0.35) -> v2.Compose:
    """For the square uint8 images of `in_memory`: in training a random crop of `min_scale` to all of the
    image's area (aspect 3/4 to 4/3) resized to `size`, and a horizontal flip; in evaluation the centre
    `size` x `size` crop (with `in_memory(..., resize_for(size))` that is torchvision's Resize + CenterCrop).
    Then floats normalised with ImageNet's mean and std."""
    geometry = ([v2.RandomResizedCrop(size, scale=(min_scale, 1.0), antialias=True), v2.RandomHorizontalFlip()]
                if train else [v2.CenterCrop(size)])
    return v2.Compose([*geometry, v2.ToDtype(torch.float32, scale=True),
                       v2.Normalize(data.IMAGENET_MEAN, data.IMAGENET_STD)])


def _evenly(n_total: int, n: int | None) -> list[int]:
    if n is None or n >= n_total:
        return list(range(n_total))
    return [i * n_total // n for i in range(n)]


@dataclass(frozen=True)
class ImagenetteRun:
    """A training run on Imagenette: the network, the crop size, its length and optimiser.

    The defaults are the optimiser of the `imagenette-resnet18` recipe (SGD, lr 0.05, momentum 0.9, weight
    decay 5e-4, cosine schedule) with crops of `min_scale` (35%) to 100% of an image, as fast.ai trains
    Imagenette in few epochs. `train_images` / `val_images`: use that many images of each split (spread
    evenly over the classes), None for all."""

    arch: str = "resnet18"
    size: int = 64
    epochs: int = 4
    batch_size: int = 64
    lr: float = 0.05
    weight_decay: float = 5e-4
    min_scale: float = 0.35
    train_images: int | None = None
    val_images: int | None = None
    seed: int = 0

    def key(self) -> str:
        """A name for the cache: readable, plus a hash of every setting and of this module's FORMAT."""
        text = json.dumps({"format": FORMAT, **dataclasses.asdict(self)}, sort_keys=True)
        return (f"imagenette-{self.arch}-{self.size}px-{self.epochs}ep-"
                f"{hashlib.sha256(text.encode()).hexdigest()[:10]}")

    def config(self, device=None) -> TrainConfig:
        return TrainConfig(model=self.arch, model_kwargs={"num_classes": 10}, epochs=self.epochs,
                           batch_size=self.batch_size, lr=self.lr, momentum=0.9, weight_decay=self.weight_decay,
                           schedule="cosine", seed=self.seed, device=device, progress=False)


class Pretrained(NamedTuple):
    model: nn.Module
    history: History
    cached: bool      # True: read from the cache, False: trained by this call
    folder: Path      # where the run is kept: last.pt, best.pt, history.json


def imagenette_data(run: ImagenetteRun, root=None, download: bool = False):
    """The (train, val) ImageTensors of Imagenette for `run`, kept at `resize_for(run.size)`."""
    resize = resize_for(run.size)
    splits = []
    for split, n in (("train", run.train_images), ("val", run.val_images)):
        ds = data.imagenette(split, root, size=run.size, download=download)
        splits.append(in_memory(ds, resize, count=n))  # with ds.source: which copy, which split
    return tuple(splits)


def _finished(folder: Path) -> bool:
    if not (folder / "last.pt").is_file() or not (folder / "history.json").is_file():
        return False
    try:
        return History.load(folder / "history.json").meta.get("status") == "finished"
    except (ValueError, OSError):
        return False


def imagenette_pretrained(run: ImagenetteRun, root=None, device=None, download: bool = False,
                          workers: int = 0, cache: Path | None = None) -> Pretrained:
    """`run.arch` trained on Imagenette as `run` says, from `cache` (default `data.cache_dir()`) if a finished
    run with the same settings is there, else trained now (and kept there; an interrupted run continues from
    its last epoch). The model comes back in eval mode, on the CPU, with its 10-way head."""
    folder = Path(cache or data.cache_dir()) / "imagenette-runs" / run.key()
    model = models.build(run.arch, num_classes=10)
    if _finished(folder):
        load_weights(model, folder / "last.pt")
        return Pretrained(model.eval(), History.load(folder / "history.json"), True, folder)
    train_t, val_t = imagenette_data(run, root, download)
    train_ds = data.TensorImageDataset(train_t, tensor_transforms(True, run.size, run.min_scale))
    val_ds = data.TensorImageDataset(val_t, tensor_transforms(False, run.size))
    train_ds.source, val_ds.source = train_t.source, val_t.source
    train_loader = data.make_loader(train_ds, run.batch_size, train=True, workers=workers, seed=run.seed)
    val_loader = data.make_loader(val_ds, 200, train=False, workers=workers)
    torch.manual_seed(run.seed)
    model = models.build(run.arch, num_classes=10)
    history = fit(model, train_loader, val_loader, run.config(device), out_dir=folder, resume=True)
    (folder / "best.pt").unlink(missing_ok=True)  # the last epoch is the one we use
    return Pretrained(model.cpu().eval(), history, False, folder)


def book_run(size: str, arch: str | None = None) -> ImagenetteRun:
    """The Imagenette run chapters 6 and 7 share at run size `size` ("smoke", "cpu" or "gpu"), so that one
    trains it and the other reads it from the cache. `arch`: another network than the size's own
    (ResNet-18 on a CPU, ResNet-50 on a GPU), with the same settings."""
    runs = {
        # seconds: a few images, one epoch
        "smoke": ImagenetteRun("resnet18", size=32, epochs=1, batch_size=32, train_images=160, val_images=60),
        # minutes on a CPU: all 4,000 training images at 32 px
        "cpu": ImagenetteRun("resnet18", size=32, epochs=5, batch_size=32),
        # a GPU: ResNet-50 at 224 px, the 160 px images enlarged
        "gpu": ImagenetteRun("resnet50", size=224, epochs=16, batch_size=64, lr=0.1),
    }
    if size not in runs:
        raise ValueError(f"size must be one of {', '.join(runs)}, got {size!r}")
    run = runs[size]
    return run if arch is None else dataclasses.replace(run, arch=arch)
