"""The data of the book: CIFAR-10 (Section 4.2 of the paper), and ImageNet-style folders (Section 4.1).

Two ways to feed CIFAR-10:

* `CifarLoader`: the whole data set lives as one uint8 tensor on the device and each batch is cropped,
  flipped and normalised with a few tensor operations (the way of airbench). Fast, even on a CPU.
* `cifar_dataset` + `make_loader`: a `torch.utils.data.Dataset` through torchvision transforms and a
  `DataLoader`, the tutorial way. Same augmentation, one image at a time.

The augmentation is the paper's: "4 pixels are padded on each side, and a 32x32 crop is randomly sampled
from the padded image or its horizontal flip". We normalise with per-channel mean and std (the paper
subtracts the per-pixel mean); it changes nothing a batch-normalised network cares about.

ImageNet-style data (ImageNet itself, Imagenette, Oxford-IIIT Pet, your own folders) goes through
torchvision's data sets and `transforms.v2`, with the augmentation of torchvision's reference recipe.

Where the data is: `data_root()`: the `root` argument, else `$RESNET_DATA`, else
`~/.cache/resnet-book/data`. Decoded copies are written to `cache_dir()`: `$RESNET_CACHE`, else
`~/.cache/resnet-book`. Data roots may be read-only. A data set that is not there is downloaded with
`download=True` (torchvision's download; ImageNet never); at the smoke run size (`runsize.run_size()`) the
library reads its own small sample instead, `SAMPLE_ROOT`: a few thousand real images laid out as the full
data sets, which every loader's `source` names.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import os
import random
import tarfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets
from torchvision.transforms import v2

from . import distributed
from .checkpoint import atomic_write
from .runsize import run_size

__all__ = [
    "data_root", "cache_dir", "SAMPLE_ROOT",
    "CIFAR10_CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "IMAGENET_MEAN", "IMAGENET_STD",
    "ImageTensors", "load_cifar10", "CifarLoader", "cifar_transforms", "cifar_dataset", "TensorImageDataset",
    "imagenet_transforms", "ten_crop_transforms", "resize_for", "pets", "imagenette", "dogs_vs_cats", "image_folder",
    "imagenet",
    "make_loader", "UnreadableImageError",
]

# ----------------------------------------------------------------------------------------------------------
# Where the data is


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "resnet-book"


# The library's sample: the full data sets' layout, few images (its README.md says which, and their terms).
SAMPLE_ROOT = Path(__file__).resolve().parent / "sample_data"


def _configured_root(root: str | os.PathLike | None = None) -> Path:
    if root is None:
        root = os.environ.get("RESNET_DATA") or _user_cache() / "data"
    return Path(root).expanduser()


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Folder holding the data sets: `root`, else $RESNET_DATA, else ~/.cache/resnet-book/data; at the smoke
    run size, when neither `root` nor $RESNET_DATA is given and that folder does not exist, the library's
    sample `SAMPLE_ROOT`."""
    folder = _configured_root(root)
    if root is None and not os.environ.get("RESNET_DATA") and not folder.exists() and run_size() == "smoke":
        return SAMPLE_ROOT
    return folder


def _is_sample(folder: Path) -> bool:
    return folder.resolve() == SAMPLE_ROOT


def _locate(root, download: bool, present, missing: str) -> Path:
    """The folder to read a data set from: `root` (else $RESNET_DATA, else ~/.cache/resnet-book/data) if it
    holds the data set (`present(folder)`) or `download` is to fetch it there; else, at the smoke run size and
    with no `root` given, the sample; else FileNotFoundError(missing), where "{root}" stands for the folder."""
    folder = _configured_root(root)
    if present(folder) or download:
        return folder
    if root is None and run_size() == "smoke" and present(SAMPLE_ROOT):
        return SAMPLE_ROOT
    raise FileNotFoundError(missing.replace("{root}", str(folder)))


def _download(what: str, url: str, layout: str, folder: Path, fetch) -> None:
    """Run torchvision's download `fetch()`. A failure (no network, a server's error, a file that fails its
    checksum) becomes one line: what was being downloaded, from where, and where to put it by hand."""
    try:
        fetch()
    except (OSError, RuntimeError) as e:  # URLError, HTTPError, timeouts; RuntimeError: a bad checksum
        reason = str(getattr(e, "reason", None) or e).strip().splitlines() or [type(e).__name__]  # URLError: .reason
        raise ConnectionError(f"could not download {what} from {url} ({reason[0]}): put {layout} in {folder} "
                              f"yourself, or set RESNET_DATA to a folder holding it") from None


def cache_dir() -> Path:
    """A writable folder for decoded data: $RESNET_CACHE, else ~/.cache/resnet-book (created if needed)."""
    path = Path(os.environ.get("RESNET_CACHE") or _user_cache()).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


# ----------------------------------------------------------------------------------------------------------
# Constants

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# Per-channel mean and standard deviation of the 50,000 official training images, on a 0-1 scale.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
# Those of ImageNet's training set, which every torchvision ImageNet model expects.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

CIFAR10_SPLITS = ("train", "val", "train+val", "test")
VAL_PER_CLASS = 500  # 10 x 500 = the 5,000 images held out of the 50,000 (Section 4.2: a 45k/5k split)

OFFICIAL_SOURCE = "CIFAR-10, official python-format release (cifar-10-batches-py)"
JPEG_SOURCE = ("CIFAR-10, JPEG copy (cifar10-jpeg, quality 75): pixels differ from the official by about "
               "6/255; errors on it run higher than on the official files")
SAMPLE_SOURCE = ("CIFAR-10, the library's sample (resnet_lib/sample_data, 2,500 images of the JPEG copy): pixels "
                 "differ from the official files by about 6/255; numbers on it say little about the full data set")

# ----------------------------------------------------------------------------------------------------------
# CIFAR-10 as tensors


@dataclass
class ImageTensors:
    """A whole data set in memory: `images` uint8 N x 3 x 32 x 32, `labels` int64 N."""
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    source: str  # one line saying which copy of the data this is

    def __len__(self) -> int:
        return len(self.labels)


def load_cifar10(split: str = "train", root: str | os.PathLike | None = None,
                 download: bool = False) -> ImageTensors:
    """CIFAR-10 as uint8 tensors.

    `split`: "train" (45,000 images), "val" (the 5,000 held out of the official training set for choosing
    hyper-parameters, as in Section 4.2), "train+val" (all 50,000), "test" (10,000: only for the final number).
    The validation images are the last 500 of each class in the official training set's order (for the JPEG
    copy: its file numbers); the split is fixed, class-balanced and the same on every machine.

    Reads `root/cifar-10-batches-py` (the official release, what `download=True` fetches when there is no
    copy) if it is there, else the JPEG copy `root/cifar10-jpeg.tar.gz` or `root/cifar10-jpeg/`, decoded once
    into `cache_dir()`. The sample's JPEG copy has 150 training images a class (the last 50 are "val") and 100
    test images a class.
    """
    if split not in CIFAR10_SPLITS:
        raise ValueError(f"split must be one of {', '.join(CIFAR10_SPLITS)}, got {split!r}")
    root = _locate(root, download, _has_cifar10, "no CIFAR-10 in {root}: pass download=True, or set RESNET_DATA "
                   "to a folder holding cifar-10-batches-py/ or cifar10-jpeg.tar.gz")
    sample = _is_sample(root)
    if (root / "cifar-10-batches-py").is_dir() or not _has_cifar10(root):
        if download and not (root / "cifar-10-batches-py").is_dir():
            _download("CIFAR-10", datasets.CIFAR10.url, "cifar-10-batches-py/ (that archive, extracted)", root,
                      lambda: datasets.CIFAR10(root, download=True))
        train, test = _load_official(root, download, train=True), _load_official(root, download, train=False)
        source = OFFICIAL_SOURCE
    else:
        train, test = _load_jpeg_copy(root, _SAMPLE_COUNTS if sample else _JPEG_COUNTS)
        source = SAMPLE_SOURCE if sample else JPEG_SOURCE
    if split == "test":
        images, labels = test
    else:
        images, labels = train
        if split != "train+val":
            is_val = _val_mask(labels, _SAMPLE_VAL_PER_CLASS if sample else VAL_PER_CLASS)
            keep = (is_val if split == "val" else ~is_val).nonzero().squeeze(1)
            images, labels = images.index_select(0, keep), labels.index_select(0, keep)
    return ImageTensors(images.contiguous(), labels.clone(), list(CIFAR10_CLASSES), source)


def _has_cifar10(root: Path) -> bool:
    return any((root / name).exists() for name in ("cifar-10-batches-py", "cifar10-jpeg.tar.gz", "cifar10-jpeg"))


def _val_mask(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """True for the last `per_class` images of each class."""
    seen = F.one_hot(labels, len(CIFAR10_CLASSES)).cumsum(0)  # seen[i, c]: images of class c up to image i
    rank = seen.gather(1, labels[:, None]).squeeze(1) - 1  # each image's rank within its class
    return rank >= seen[-1][labels] - per_class


def _load_official(root: Path, download: bool, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        ds = datasets.CIFAR10(root, train=train, download=download)
    except RuntimeError:  # torchvision's "Dataset not found or corrupted"
        raise ValueError(f"{root / 'cifar-10-batches-py'} is incomplete or corrupted (its files fail their "
                         f"checksums): delete it and pass download=True") from None
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # N x H x W x C -> N x C x H x W
    return images, torch.tensor(ds.targets, dtype=torch.int64)


# The JPEG copy. Its files are `cifar10-jpeg/{train,test}/<class>/NNNN.jpg`, class by class. We store the
# images with the classes interleaved (image 0 of each class, then image 1 of each class, ...), so that any
# prefix of a split, such as `CifarLoader(subset=1000)`, holds every class equally.

_JPEG_LAYOUT = "cifar10-jpeg/{train,test}/<class>/NNNN.jpg with the ten CIFAR-10 classes"
_JPEG_COUNTS = {"train": 5000, "test": 1000}  # images per class
_SAMPLE_COUNTS, _SAMPLE_VAL_PER_CLASS = {"train": 150, "test": 100}, 50  # the sample's copy
_CACHE_FORMAT = 1  # bump when the cached file's content changes


def _load_jpeg_copy(root: Path, counts: dict):
    archive, folder = root / "cifar10-jpeg.tar.gz", root / "cifar10-jpeg"
    if archive.is_file():
        key = hashlib.sha256(archive.read_bytes()).hexdigest()  # a changed archive gets a new cache
    else:
        # An extracted folder: key on every file's name, size and modification time.
        h = hashlib.sha256()
        for p in sorted(folder.rglob("*.jpg")):
            st = p.stat()
            h.update(f"{p.relative_to(folder)} {st.st_size} {st.st_mtime_ns}\n".encode())
        key = h.hexdigest()
    cached = cache_dir() / f"cifar10-jpeg-{key[:16]}-v{_CACHE_FORMAT}.pt"
    d = _read_cache(cached)
    if d is None:
        blobs = _read_tar(archive) if archive.is_file() else _read_folder(folder)
        decoded = _decode(blobs, archive if archive.is_file() else folder, counts)
        atomic_write(cached, lambda f: torch.save(decoded, f))
        d = torch.load(cached, mmap=True, weights_only=True)
    return (d["train_images"], d["train_labels"]), (d["test_images"], d["test_labels"])


def _read_cache(cached: Path) -> dict | None:
    """The decoded copy in `cached`, or None where there is none or it is unreadable (then it is deleted, to be
    decoded again: a copy cut short by a crash before its writes were atomic, or a damaged disk)."""
    if not cached.exists():
        return None
    try:
        return torch.load(cached, mmap=True, weights_only=True)
    except Exception:  # RuntimeError, EOFError, UnpicklingError ...: whatever the damage, the copy is rebuilt
        warnings.warn(f"deleted {cached}, a decoded copy of CIFAR-10 that is unreadable (truncated or corrupt); "
                      f"decoding the images again")
        cached.unlink(missing_ok=True)
        return None


def _parse(name: str, where: Path):
    """('train', class index, number) from 'cifar10-jpeg/train/cat/0042.jpg'; None for anything else."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "cifar10-jpeg" or not parts[3].endswith(".jpg"):
        return None
    _, split, cls, file = parts
    if split not in _JPEG_COUNTS or cls not in CIFAR10_CLASSES or not file[:-4].isdigit():
        raise ValueError(f"unexpected file {name} in {where}: expected {_JPEG_LAYOUT}")
    return split, CIFAR10_CLASSES.index(cls), int(file[:-4])


def _read_tar(archive: Path) -> dict:
    blobs = {}
    try:
        with tarfile.open(archive) as tf:
            for member in tf:  # in archive order: one pass through the gzip stream
                if member.isfile() and (key := _parse(member.name, archive)) is not None:
                    blobs[key] = tf.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:  # OSError: gzip's BadGzipFile, a bad disk
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0].rstrip(":")
        raise ValueError(f"{archive} is not a readable tar.gz archive (truncated or corrupt: {reason}): replace "
                         f"it with a complete copy") from None
    return blobs


def _read_folder(folder: Path) -> dict:
    blobs = {}
    for p in folder.rglob("*.jpg"):
        if (key := _parse(p.relative_to(folder.parent).as_posix(), folder)) is not None:
            blobs[key] = p.read_bytes()
    return blobs


def _decode(blobs: dict, source: Path, expected: dict) -> dict:
    out = {}
    for split, per_class in expected.items():
        by_class = [sorted(k for k in blobs if k[:2] == (split, c)) for c in range(len(CIFAR10_CLASSES))]
        counts = [len(keys) for keys in by_class]
        if counts != [per_class] * len(CIFAR10_CLASSES):
            raise ValueError(f"{source} has {sum(counts)} {split} images ({counts} a class): expected "
                             f"{_JPEG_LAYOUT}, {per_class} {split} images a class")
        keys = [k for same_rank in zip(*by_class) for k in same_rank]  # image 0 of each class, image 1, ...
        images = np.empty((len(keys), 32, 32, 3), dtype=np.uint8)
        for i, k in enumerate(keys):
            try:
                with Image.open(io.BytesIO(blobs[k])) as image:
                    if image.size != (32, 32):
                        raise ValueError(f"{source} holds images of {image.size[0]}x{image.size[1]} pixels: "
                                         f"expected {_JPEG_LAYOUT}, 32x32 pixels")
                    images[i] = np.asarray(image.convert("RGB"))
            except OSError:  # PIL: UnidentifiedImageError, "image file is truncated"
                raise ValueError(f"{source} holds cifar10-jpeg/{k[0]}/{CIFAR10_CLASSES[k[1]]}/{k[2]:04d}.jpg, "
                                 f"which is not a readable JPEG image: replace it with a complete copy") from None
        # N x H x W x C -> N x C x H x W
        out[f"{split}_images"] = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
        out[f"{split}_labels"] = torch.tensor([k[1] for k in keys], dtype=torch.int64)
    return out


# ----------------------------------------------------------------------------------------------------------
# The tensor-resident CIFAR loader


def _epoch_seed(seed: int, epoch: int) -> int:
    # Mix seed and epoch so that (seed 0, epoch 1) and (seed 1, epoch 0) differ: runs with different seeds
    # never share an epoch's order.
    return seed * 1_000_003 + epoch


def _crop_flip(images: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, flip: torch.Tensor,
               pad: int = 4) -> torch.Tensor:
    """Crop image i of the zero-padded batch at offset (dx[i], dy[i]) and flip it left-right where flip[i]:
    RandomCrop(32, padding=4) then RandomHorizontalFlip, for a whole batch at once."""
    b, c, h, w = images.shape
    crops = F.pad(images, (pad, pad, pad, pad)).unfold(2, h, 1).unfold(3, w, 1)  # b, c, 9, 9, h, w: a view
    out = crops[torch.arange(b, device=images.device), :, dy, dx]  # b, c, h, w
    return torch.where(flip[:, None, None, None], out.flip(3), out)


class CifarLoader:
    """Batches of CIFAR-10 from one uint8 tensor on `device`, augmented with batched tensor operations.

    Each epoch (set it with `set_epoch`, as with `DistributedSampler`) draws, from a generator seeded by
    (seed, epoch): the order of the images (if `train`), and for each image a crop offset among the 9 x 9 of
    4-pixel zero padding and a horizontal flip with probability 1/2 (if `augment`). Iterating twice over
    the same epoch gives the same batches.

    With `world_size` > 1, rank `rank` takes every `world_size`-th image of the epoch's order, with the
    augmentation it has in the one-process epoch: the ranks' shards are disjoint and together are that epoch.
    In training the order is cut to a multiple of `world_size` so the shards are equal (the images left out
    change from epoch to epoch); in evaluation every image is served once and shards may differ by one.
    """

    def __init__(self, data: ImageTensors, batch_size: int, train: bool, device="cpu", seed: int = 0,
                 drop_last: bool | None = None, augment: bool | None = None, channels_last: bool = False,
                 dtype: torch.dtype = torch.float32, rank: int = 0, world_size: int = 1,
                 subset: int | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..world_size-1, got rank {rank} of world_size {world_size}")
        images, labels = data.images, data.labels
        if subset is not None:
            if not 1 <= subset <= len(labels):
                raise ValueError(f"subset must be between 1 and {len(labels)} (the data set's size), got {subset}")
            images, labels = images[:subset], labels[:subset]
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.classes = list(data.classes)
        self.source = data.source
        self.batch_size = batch_size
        self.train = train
        self.augment = train if augment is None else augment
        self.drop_last = train if drop_last is None else drop_last
        self.seed, self.epoch, self._start = seed, 0, 0
        self.rank, self.world_size = rank, world_size
        self.dtype = dtype
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.mean = torch.tensor(CIFAR10_MEAN, device=self.device).view(3, 1, 1)
        self.std = torch.tensor(CIFAR10_STD, device=self.device).view(3, 1, 1)

    @property
    def num_examples(self) -> int:
        """Images in the data set (after `subset`), over all ranks."""
        return len(self.labels)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def start_at(self, batch: int) -> None:
        """Begin the next pass at batch `batch` of the epoch (a resume from the middle of it); the passes after
        it are whole again."""
        self._start = batch

    def _shard_size(self) -> int:
        n, ws = self.num_examples, self.world_size
        return n // ws if self.train else len(range(self.rank, n, ws))

    def __len__(self) -> int:
        m = self._shard_size()
        return m // self.batch_size if self.drop_last else math.ceil(m / self.batch_size)

    def _plan(self):
        """This rank's image indices and augmentation parameters for the epoch, drawn on the CPU so they are
        the same on every device."""
        n, g = self.num_examples, torch.Generator().manual_seed(_epoch_seed(self.seed, self.epoch))
        order = torch.randperm(n, generator=g) if self.train else torch.arange(n)
        dx = torch.randint(0, 9, (n,), generator=g)
        dy = torch.randint(0, 9, (n,), generator=g)
        flip = torch.rand(n, generator=g) < 0.5
        if self.train:
            order = order[: n - n % self.world_size]
        shard = slice(self.rank, None, self.world_size)
        return [t[shard].to(self.device) for t in (order, dx, dy, flip)]

    def __iter__(self):
        order, dx, dy, flip = self._plan()
        start, self._start = self._start, 0
        for i in range(start, len(self)):
            s = slice(i * self.batch_size, (i + 1) * self.batch_size)
            x = self.images[order[s]]
            if self.augment:
                x = _crop_flip(x, dx[s], dy[s], flip[s])
            # The operations of ToDtype(float32, scale=True) and Normalize, so both paths agree to the bit.
            x = x.to(torch.float32).mul_(1.0 / 255).sub_(self.mean).div_(self.std)
            yield x.to(self.dtype).contiguous(memory_format=self.memory_format), self.labels[order[s]]


# ----------------------------------------------------------------------------------------------------------
# CIFAR-10 the tutorial way: a Dataset through torchvision transforms


def cifar_transforms(train: bool) -> v2.Compose:
    """The transforms.v2 pipeline equal to `CifarLoader`'s: for a PIL image or a uint8 C x H x W tensor."""
    augment = [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()] if train else []
    return v2.Compose([v2.ToImage(), *augment, v2.ToDtype(torch.float32, scale=True),
                       v2.Normalize(CIFAR10_MEAN, CIFAR10_STD)])


class TensorImageDataset(Dataset):
    """(transform(image), label) from uint8 image tensors in memory."""

    def __init__(self, data: ImageTensors, transform=None):
        self.images, self.labels, self.transform = data.images, data.labels, transform
        self.classes, self.source = list(data.classes), data.source
        self.targets = data.labels.tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        image = self.images[i]
        return (image if self.transform is None else self.transform(image)), self.targets[i]


def cifar_dataset(split: str = "train", root: str | os.PathLike | None = None, train: bool | None = None,
                  download: bool = False) -> TensorImageDataset:
    """A CIFAR-10 split as a Dataset through `cifar_transforms(train)`; `train` defaults to whether the
    split is one to train on ("train", "train+val")."""
    if train is None:
        train = split in ("train", "train+val")
    return TensorImageDataset(load_cifar10(split, root, download), cifar_transforms(train))


# ----------------------------------------------------------------------------------------------------------
# ImageNet-style data


def imagenet_transforms(train: bool, size: int = 224, resize: int = 256) -> v2.Compose:
    """torchvision's recipe: train RandomResizedCrop(size) + flip; eval Resize(resize) + CenterCrop(size).
    Then a float tensor normalised with the ImageNet mean and std."""
    if train:
        geometry = [v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip()]
    else:
        geometry = [v2.Resize(resize, antialias=True), v2.CenterCrop(size)]
    return v2.Compose([*geometry, v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
                       v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def _stack(crops) -> torch.Tensor:  # a named function, so DataLoader workers can pickle the transform
    return torch.stack(list(crops))


def ten_crop_transforms(size: int = 224, resize: int = 256) -> v2.Compose:
    """Ten-crop evaluation (Section 3.4): the four corners and the centre, and their flips; 10 x C x H x W."""
    return v2.Compose([v2.Resize(resize, antialias=True), v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
                       v2.Normalize(IMAGENET_MEAN, IMAGENET_STD), v2.TenCrop(size), _stack])


def resize_for(size: int) -> int:
    """The side images are resized to before crops of `size`: ImageNet's 256 for 224, that ratio at any size."""
    return round(size * 256 / 224)


def _image_source(name: str, folder: str, sample_size: str, root: Path, split: str) -> str:
    """An image data set's `.source`: which copy, which split."""
    if _is_sample(root):
        return f"{name}, the library's sample (resnet_lib/sample_data/{folder}/, {sample_size}), {split} split"
    return f"{name} ({folder}/), {split} split"


PET_TARGETS = {"breed": "category", "species": "binary-category"}


def pets(split: str = "trainval", root: str | os.PathLike | None = None, target: str = "breed",
         train: bool | None = None, size: int = 224, download: bool = False) -> datasets.OxfordIIITPet:
    """Oxford-IIIT Pet from `root/oxford-iiit-pet/`. `target`: "breed" (37 classes) or "species" (cat 0,
    dog 1). `.classes` names the targets, `.targets` lists them, `.source` says which copy it is."""
    if target not in PET_TARGETS:
        raise ValueError(f"target must be 'breed' or 'species', got {target!r}")
    present = lambda folder: (folder / "oxford-iiit-pet" / "annotations").is_dir()  # noqa: E731
    layout = "oxford-iiit-pet/{images,annotations}"
    root = _locate(root, download, present, "no Oxford-IIIT Pet in {root}/oxford-iiit-pet: pass download=True, "
                   "or set RESNET_DATA to a folder holding " + layout)
    if not present(root):
        url = datasets.OxfordIIITPet._RESOURCES[0][0].rsplit("/", 1)[0] + "/"  # images.tar.gz, annotations.tar.gz
        _download("Oxford-IIIT Pet", url, layout, root, lambda: datasets.OxfordIIITPet(root, download=True))
    train = split == "trainval" if train is None else train
    ds = datasets.OxfordIIITPet(root, split=split, target_types=PET_TARGETS[target],
                                transform=imagenet_transforms(train, size, resize_for(size)))
    ds.source = _image_source("Oxford-IIIT Pet", "oxford-iiit-pet", "2 images a breed", root, split)
    # torchvision keeps the labels in private lists; expose them to count classes without decoding images.
    if target == "species":
        ds.classes, ds.targets = list(ds.bin_classes), list(ds._bin_labels)
    else:
        ds.targets = list(ds._labels)
    return ds


def imagenette(split: str = "train", root: str | os.PathLike | None = None, train: bool | None = None,
               size: int = 128, download: bool = False) -> datasets.Imagenette:
    """Imagenette (ten ImageNet classes) at 160 px from `root/imagenette2-160/{train,val}/<wnid>/`.
    `size` is the crop fed to the network. `.classes` are the class names, `.wnids` their WordNet ids,
    `.source` says which copy it is."""
    present = lambda folder: (folder / "imagenette2-160").is_dir()  # noqa: E731
    layout = "imagenette2-160/{train,val}/<wnid>/"
    root = _locate(root, download, present, "no Imagenette in {root}/imagenette2-160: pass download=True, or set "
                   "RESNET_DATA to a folder holding " + layout)
    if not present(root):
        _download("Imagenette", datasets.Imagenette._ARCHIVES["160px"][0], layout, root,
                  lambda: datasets.Imagenette(root, size="160px", download=True))
    train = split == "train" if train is None else train
    ds = datasets.Imagenette(root, split=split, size="160px",
                             transform=imagenet_transforms(train, size, resize_for(size)))
    ds.source = _image_source("Imagenette", "imagenette2-160", "22 images a class", root, split)
    ds.classes = [names[0] for names in ds.classes]  # torchvision gives each class all its names
    ds.targets = [label for _, label in ds._samples]
    return ds


_IMAGE_EXTENSIONS = datasets.folder.IMG_EXTENSIONS


def _hidden(path: Path, root: Path) -> bool:
    """Is `path` inside `root` hidden, or inside a hidden folder (.ipynb_checkpoints/, which JupyterLab makes)?"""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


class _ImageFolder(datasets.ImageFolder):
    """torchvision's ImageFolder, blind to hidden folders and files as `ls` is: they are neither classes nor
    images."""

    def find_classes(self, directory):
        classes = sorted(d.name for d in Path(directory).iterdir() if d.is_dir() and not _hidden(d, Path(directory)))
        return classes, {name: i for i, name in enumerate(classes)}

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
        samples = datasets.folder.make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)
        return [(path, label) for path, label in samples if not _hidden(Path(path), Path(directory))]


def image_folder(root: str | os.PathLike, split: str, train: bool | None = None,
                 size: int = 224) -> datasets.ImageFolder:
    """Images in `root/split/<class>/` (ImageNet's layout, or your own such as train/cat, train/dog, val/...)."""
    folder = Path(root).expanduser() / split
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}: expected {Path(root) / split}/<class>/<image>")
    class_dirs = [d for d in folder.iterdir() if d.is_dir() and not _hidden(d, folder)]
    if not class_dirs:
        raise ValueError(f"no class folders in {folder}: expected {folder}/<class>/<image>, one folder per class")
    empty = [d.name for d in class_dirs
             if not any(p.suffix.lower() in _IMAGE_EXTENSIONS and not _hidden(p, d) for p in d.rglob("*"))]
    if empty:
        raise ValueError(f"no images in {len(empty)} class folder(s) of {folder} (e.g. {sorted(empty)[0]}/): "
                         f"expected {folder}/<class>/<image> with {', '.join(_IMAGE_EXTENSIONS[:3])}... files")
    train = split == "train" if train is None else train
    return _ImageFolder(folder, transform=imagenet_transforms(train, size, resize_for(size)))


DOGS_VS_CATS_URL = "https://www.kaggle.com/c/dogs-vs-cats/data"


def dogs_vs_cats(split: str = "train", root: str | os.PathLike | None = None, train: bool | None = None,
                 size: int = 224) -> datasets.ImageFolder:
    """The photos of Kaggle's "Dogs vs. Cats" from `root/dogs-vs-cats/{train,test}/{cat,dog}/` (classes: cat 0,
    dog 1). Never downloads: the competition's terms ask for a Kaggle account, so you download and sort them
    yourself (its labelled train.zip names each photo cat.N.jpg or dog.N.jpg). `data.pets(target="species")`
    is a cat-versus-dog data set that torchvision downloads."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = _configured_root(root) / "dogs-vs-cats"
    if not (folder / split).is_dir():
        raise FileNotFoundError(f"no Dogs vs. Cats photos in {folder}/{split}: download them from "
                                f"{DOGS_VS_CATS_URL} and sort them into {folder}/{{train,test}}/{{cat,dog}}/, or use "
                                f"data.pets(target='species')")
    ds = image_folder(folder, split, train, size)
    if ds.classes != ["cat", "dog"]:
        raise ValueError(f"{folder / split} should hold the class folders cat/ and dog/, found {ds.classes}")
    ds.source = f"Dogs vs. Cats (Kaggle, dogs-vs-cats/), {split} split, {len(ds):,} photos"
    return ds


def imagenet(split: str = "train", root: str | os.PathLike | None = None, train: bool | None = None,
             size: int = 224) -> datasets.ImageFolder:
    """ImageNet-1k (ILSVRC2012) from `root` (default $RESNET_DATA/imagenet) laid out as `train/<wnid>/` and
    `val/<wnid>/`. Never downloads: ImageNet is only to be had from image-net.org under its terms."""
    root = data_root() / "imagenet" if root is None else Path(root).expanduser()
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if not (root / split).is_dir():
        raise FileNotFoundError(
            f"no ImageNet {split} folder in {root}: download ILSVRC2012 from https://image-net.org (sign in, "
            f"accept its terms of access) and lay it out as {root}/train/<wnid>/*.JPEG and {root}/val/<wnid>/*.JPEG "
            f"(the validation images come in one folder: torchvision.datasets.ImageNet(root, split='val') "
            f"sorts them into class folders from ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz)")
    return image_folder(root, split, train, size)


# ----------------------------------------------------------------------------------------------------------
# DataLoader


class UnreadableImageError(OSError):
    """An image file that cannot be decoded. The message names the file, also when a DataLoader worker raised
    the error: torch raises it again in the main process with a message of several lines ("Caught ... in
    DataLoader worker process N", the worker's traceback), whose last line holds ours."""

    def __init__(self, message: str):
        if message.startswith("Caught "):
            message = message.rstrip().splitlines()[-1].split(": ", 1)[-1]
        super().__init__(message)


def _file_of(dataset, index: int) -> str:
    """The file of item `index` of a torchvision image data set (or of a Subset of one), where it says."""
    while isinstance(dataset, torch.utils.data.Subset):
        dataset, index = dataset.dataset, dataset.indices[index]
    for files in ("samples", "_samples", "_images"):  # ImageFolder, Imagenette, OxfordIIITPet
        if hasattr(dataset, files):
            file = getattr(dataset, files)[index]
            return str(file[0] if isinstance(file, tuple) else file)
    return f"image {index} of {type(dataset).__name__}"


def _sample_seed(seed: int, epoch: int, index: int) -> int:
    return (_epoch_seed(seed, epoch) * 2**32 + index) % 2**63


class _EpochDataset(Dataset):
    """`dataset` as an `_EpochLoader` reads it: item (epoch, index) is dataset[index]. With `reseed` (there are
    worker processes), torch's, Python's and numpy's generators are first seeded from (seed, epoch, index):
    an image's random augmentation is then the same in whichever worker, with however many workers, and after
    a resume (a worker's generator would otherwise carry on from the images it made before). Without
    workers the augmentation draws from the main process's generators, which `fit` seeds and checkpoints.
    An image that cannot be read raises UnreadableImageError, which names its file."""

    def __init__(self, dataset: Dataset, seed: int, reseed: bool):
        self.dataset, self.seed, self.reseed = dataset, seed, reseed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):  # the data set's own attributes: classes, targets, source ...
        if name.startswith("_") or name == "dataset":  # not set yet while a worker unpickles this object
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        if self.reseed:
            seed = _sample_seed(self.seed, epoch, index)
            torch.manual_seed(seed)
            random.seed(seed)
            np.random.seed(seed % 2**32)
        try:
            return self.dataset[index]
        except OSError as e:  # PIL: UnidentifiedImageError, "image file is truncated"; a file gone
            raise UnreadableImageError(f"{_file_of(self.dataset, index)} is not a readable image (truncated or "
                                       f"corrupt?): delete or replace it") from e


class _EpochSampler(torch.utils.data.Sampler):
    """The indices of `sampler` as (epoch, index) keys of an `_EpochDataset`, from position `start` on in the
    first pass after it is set."""

    def __init__(self, sampler):
        self.sampler, self.epoch, self.start = sampler, 0, 0

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        start, self.start = self.start, 0
        for index in itertools.islice(self.sampler, start, None):
            yield self.epoch, index


class _EpochLoader(DataLoader):
    """A DataLoader with `set_epoch(epoch)`, which reseeds its sampler from (seed, epoch), and `start_at(batch)`.
    `loader.dataset` is an `_EpochDataset`: the data set's attributes read through it."""

    def __init__(self, dataset: Dataset, sampler, *, seed: int, world_size: int, **kwargs):
        self.seed, self.world_size = seed, world_size
        super().__init__(_EpochDataset(dataset, seed, reseed=kwargs["num_workers"] > 0),
                         sampler=_EpochSampler(sampler), generator=torch.Generator(), **kwargs)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        # Our own generator for the sampler: the loader's also draws the workers' seeds, once per run when
        # workers persist, which would make the order depend on the epochs before.
        self.generator.manual_seed(_epoch_seed(self.seed, epoch))
        self.sampler.epoch = epoch
        if isinstance(self.sampler.sampler, torch.utils.data.DistributedSampler):
            self.sampler.sampler.set_epoch(epoch)
        elif isinstance(self.sampler.sampler, torch.utils.data.RandomSampler):
            self.sampler.sampler.generator.manual_seed(_epoch_seed(self.seed, epoch))

    def start_at(self, batch: int) -> None:
        """Begin the next pass at batch `batch` of the epoch (a resume from the middle of it), without reading
        the batches before; the passes after it are whole again."""
        self.sampler.start = batch * self.batch_size


def make_loader(dataset: Dataset, batch_size: int, train: bool, workers: int | None = None, seed: int = 0,
                drop_last: bool | None = None) -> DataLoader:
    """A DataLoader for `dataset`: shuffled when `train`, with a DistributedSampler when torch.distributed
    is initialised, pinned memory when CUDA is there, `workers` processes (default: the CPU count, at most 8)
    that persist from epoch to epoch.

    Call `loader.set_epoch(epoch)` before each epoch: the order of each epoch is then a function of
    (seed, epoch), and with workers so is each image's random augmentation (a function of seed, epoch and
    image), so that a run resumes exactly; `loader.start_at(batch)` skips the epoch's first batches without
    reading them. In distributed evaluation DistributedSampler repeats a few images so that all ranks get as
    many."""
    drop_last = train if drop_last is None else drop_last
    workers = min(8, os.cpu_count() or 1) if workers is None else workers
    world_size = distributed.rank_and_world_size()[1]
    if distributed.initialized():
        sampler = torch.utils.data.DistributedSampler(dataset, shuffle=train, seed=seed, drop_last=drop_last)
    elif train:
        sampler = torch.utils.data.RandomSampler(dataset, generator=torch.Generator())
    else:
        sampler = torch.utils.data.SequentialSampler(dataset)
    return _EpochLoader(dataset, sampler, batch_size=batch_size, num_workers=workers,
                        pin_memory=torch.cuda.is_available(), drop_last=drop_last,
                        persistent_workers=workers > 0, seed=seed, world_size=world_size)
