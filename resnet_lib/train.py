"""Training, evaluation and checkpoints: one loop to read top to bottom.

    config = TrainConfig(model="cifar_resnet20", iterations=64_000, batch_size=128, lr=0.1,
                         milestones=(32_000, 48_000))             # Section 4.2 of the paper
    model = build(config.model, **config.model_kwargs)
    history = fit(model, train_loader, val_loader, config, out_dir="runs/resnet20")
    history = fit(model, train_loader, val_loader, config, out_dir="runs/resnet20", resume=True)  # continue

`fit` is SGD with momentum, a learning rate set per iteration (torch's LambdaLR over `lr_factor`), optional
mixed precision, channels-last and torch.compile, a checkpoint after every epoch (`last.pt`, and `best.pt`
by validation top-1) and `history.json`. Resuming from `last.pt` continues exactly where the run stopped:
on a CPU the weights come out bit for bit equal to a run that was never interrupted.

Under `torchrun`, call `setup_distributed()` first: `fit` then trains with DistributedDataParallel, averages
its metrics over the processes, and only rank 0 prints and writes files.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

with warnings.catch_warnings():  # in a notebook without ipywidgets tqdm.auto warns, then draws text bars: fine
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm

from . import models

__all__ = [
    "TrainConfig", "History", "Checkpoint", "TrainingError", "CheckpointError", "fit", "evaluate", "predict",
    "save_checkpoint", "load_checkpoint", "load_weights", "lr_factor", "make_scheduler", "param_groups",
    "pick_device", "uses_channels_last", "autocast_dtype", "Stopwatch", "setup_distributed", "cleanup_distributed",
    "DistInfo",
]

SCHEDULES = ("step", "cosine", "constant")
WARMUPS = ("constant", "linear")
AMP_MODES = ("auto", "bf16", "fp16", "off")
CHECKPOINT_FORMAT = "resnet_lib.checkpoint/1"
CHECK_EVERY = 20  # iterations between looks at the loss (each look waits for the GPU)


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss). `iteration` is the step that failed, counted from 1."""

    def __init__(self, message: str, iteration: int):
        super().__init__(message)
        self.iteration = iteration


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, or made for another model or optimizer."""


# ---------------------------------------------------------------------------------------------- config

@dataclass
class TrainConfig:
    """Everything a run needs. Stored, as a dict, in every checkpoint and in history.json.

    The paper counts in iterations (CIFAR-10: lr 0.1, divided by 10 at 32k and 48k, stopped at 64k);
    give `iterations` to do the same, or `epochs`. Either way the learning rate is set per iteration and
    `milestones` / `warmup_iters` are iterations.
    """

    model: str | None = None          # a name `models.build` accepts: lets a checkpoint rebuild its model
    model_kwargs: dict = field(default_factory=dict)
    epochs: int | None = None         # give epochs or iterations, not both
    iterations: int | None = None
    batch_size: int | None = None     # global batch (all processes); None: taken from the train loader
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    no_decay_bn_bias: bool = False    # no weight decay on BatchNorm weights and biases, nor on any bias
    schedule: str = "step"            # "step" | "cosine" | "constant"
    milestones: tuple[int, ...] = ()  # iterations where "step" multiplies the lr by gamma
    gamma: float = 0.1
    warmup_iters: int = 0             # the paper's ResNet-110: 0.01 for ~400 iterations, then 0.1
    warmup: str = "constant"          # "constant": warmup_lr throughout; "linear": warmup_lr -> lr
    warmup_lr: float | None = None    # None: lr / 10
    label_smoothing: float = 0.0
    backbone_lr_mult: float = 1.0     # fine-tuning: lr x this for every parameter outside `fc`
    amp: str = "auto"                 # "auto" | "bf16" | "fp16" | "off"; auto: see `autocast_dtype`
    channels_last: bool | None = None  # None: on for CUDA and CPU, see `uses_channels_last`
    compile: bool = False
    seed: int = 0                     # seeds torch, random and numpy when a run starts (not when it resumes)
    device: str | None = None         # None: cuda, then mps, then cpu
    eval_every: int = 1               # epochs between validations (the last epoch is always validated)
    progress: bool | None = None      # None: bars in a terminal or Jupyter, not under CI or RESNET_PROGRESS=0
    sync_bn: bool = False             # SyncBatchNorm across processes (CUDA only)

    def __post_init__(self):
        self.milestones = tuple(int(m) for m in self.milestones)
        self.model_kwargs = dict(self.model_kwargs)
        if (self.epochs is None) == (self.iterations is None):
            raise ValueError("TrainConfig needs exactly one of epochs or iterations, e.g. TrainConfig(epochs=10) "
                             f"or TrainConfig(iterations=64_000); got epochs={self.epochs}, "
                             f"iterations={self.iterations}")
        for name in ("epochs", "iterations"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        for name, value, choices in (("schedule", self.schedule, SCHEDULES), ("warmup", self.warmup, WARMUPS),
                                     ("amp", self.amp, AMP_MODES)):
            if value not in choices:
                raise ValueError(f"TrainConfig.{name} must be one of {', '.join(choices)}, got {value!r}")
        if list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"TrainConfig.milestones must be increasing iterations, got {self.milestones}")
        if self.warmup_iters < 0 or self.eval_every < 1:
            raise ValueError("TrainConfig.warmup_iters must be >= 0 and eval_every >= 1, got "
                             f"{self.warmup_iters} and {self.eval_every}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s): {', '.join(sorted(unknown))}")
        return cls(**d)


# ---------------------------------------------------------------------------------------------- devices

def pick_device(preferred: str | torch.device | None = None) -> torch.device:
    """`preferred` if it is usable, else (None) the best there is: cuda, then mps, then cpu."""
    if preferred is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(preferred)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {str(device)!r} asked for, but this torch sees no CUDA GPU; use device='cpu'")
    if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise RuntimeError(f"device 'mps' asked for, but no Apple GPU is available; use device='cpu'")
    return device


def uses_channels_last(config: TrainConfig, device: torch.device) -> bool:
    """The memory format `fit` trains in: `config.channels_last`, else N x H x W x C on CUDA (what tensor-core
    convolutions read) and on CPU (oneDNN's convolutions: 1.3x faster for our CIFAR ResNets in
    benchmarks/throughput.py), N x C x H x W elsewhere."""
    if config.channels_last is not None:
        return config.channels_last
    return torch.device(device).type in ("cuda", "cpu")


def autocast_dtype(device: str | torch.device) -> torch.dtype | None:
    """What amp="auto" uses on `device`: bfloat16 on CUDA GPUs that support it, else float16 (with a
    GradScaler); None (full float32) on CPU and mps."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}, got {amp!r}")
    return {"auto": autocast_dtype(device), "bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[amp]


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (mps)"
    from .runsize import cpu_name
    threads = torch.get_num_threads()
    return f"CPU ({cpu_name()}, {platform.machine()}), {threads} thread{'s' if threads > 1 else ''}"


# ---------------------------------------------------------------------------------------------- schedule

def lr_factor(config: TrainConfig, iteration: int, total_iters: int) -> float:
    """The multiple of `config.lr` used for step `iteration` (0-based) of a run of `total_iters` steps."""
    if iteration < config.warmup_iters:
        start = (config.warmup_lr if config.warmup_lr is not None else config.lr / 10) / config.lr
        if config.warmup == "constant":
            return start
        return start + (1 - start) * iteration / config.warmup_iters
    if config.schedule == "step":
        return config.gamma ** sum(iteration >= m for m in config.milestones)
    if config.schedule == "cosine":
        t = (iteration - config.warmup_iters) / max(1, total_iters - config.warmup_iters)
        return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    return 1.0


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig,
                   total_iters: int) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR over `lr_factor`: step it once per iteration."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: lr_factor(config, it, total_iters))


_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


def param_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """SGD parameter groups. With backbone_lr_mult != 1: the backbone (everything outside `model.fc`) at
    lr x backbone_lr_mult and the head at lr ("backbone", "head"), else one group ("all"). With
    no_decay_bn_bias, normalisation weights and every bias go to a twin group without weight decay
    ("..._no_decay"). Frozen parameters (requires_grad=False) are left out."""
    split = config.backbone_lr_mult != 1
    head = {id(p) for p in model.fc.parameters()} if isinstance(getattr(model, "fc", None), nn.Module) else set()
    if split and not head:
        raise ValueError("backbone_lr_mult needs a model whose head is `model.fc`; this model has none")
    groups: dict[str, list[nn.Parameter]] = {}
    seen: set[int] = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            part = ("head" if id(p) in head else "backbone") if split else "all"
            no_decay = config.no_decay_bn_bias and (isinstance(module, _NORMS) or name == "bias")
            groups.setdefault(part + ("_no_decay" if no_decay else ""), []).append(p)
    order = ["all", "all_no_decay", "backbone", "backbone_no_decay", "head", "head_no_decay"]
    return [{"params": groups[name], "name": name,
             "lr": config.lr * (config.backbone_lr_mult if name.startswith("backbone") else 1),
             "weight_decay": 0.0 if name.endswith("no_decay") else config.weight_decay}
            for name in order if name in groups]


# ---------------------------------------------------------------------------------------------- history

@dataclass
class History:
    """One dict per epoch (`records`) and where the run came from (`meta`: config, torch version, device,
    start time, wall time, data source). `history.series("val_top1")` gives one column."""

    records: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

    def __iter__(self):
        return iter(self.records)

    def series(self, key: str) -> list:
        """The values of `key`, one per epoch (None where an epoch has none, e.g. no validation)."""
        return [r.get(key) for r in self.records]

    def to_dict(self) -> dict:
        return {"meta": self.meta, "records": self.records}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def save(self, path: str | Path) -> Path:
        return _atomic_write(Path(path), lambda f: f.write(self.to_json().encode()))

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(records=list(d.get("records", [])), meta=dict(d.get("meta", {})))

    @classmethod
    def load(cls, path: str | Path) -> History:
        return cls.from_dict(json.loads(Path(path).read_text()))


# ---------------------------------------------------------------------------------------------- checkpoints

def _atomic_write(path: Path, write) -> Path:
    """Write through a temporary file in the same folder, then os.replace it over `path`: a reader (or a
    crash, or Ctrl-C) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _unwrap(model: nn.Module) -> nn.Module:
    """The model itself, out of DistributedDataParallel and torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def _rng_state() -> dict:
    """Every random generator a run draws from, as tensors and numbers (what weights_only loading allows)."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64),
                        "gauss": py_gauss},
             "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                       "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][:torch.cuda.device_count()])


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler=None, scaler=None, *, epoch: int = 0, iteration: int = 0,
                    config: TrainConfig | dict | None = None, history: History | list | None = None,
                    meta: dict | None = None) -> Path:
    """Write everything needed to continue a run (model, optimizer, scheduler, scaler, epoch, iteration,
    random generators, config, history) to `path`, atomically. Loads with torch.load(weights_only=True)."""
    if isinstance(config, TrainConfig):
        config = config.to_dict()
    if isinstance(history, History):
        history = history.records
    ckpt = {"format": CHECKPOINT_FORMAT, "model": _unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
            "epoch": epoch, "iteration": iteration, "rng": _rng_state(), "config": config,
            "history": list(history or []), "meta": dict(meta or {})}
    return _atomic_write(Path(path), lambda f: torch.save(ckpt, f))


def _read(path: str | Path) -> dict:
    """torch.load(weights_only=True) with errors that say what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: check the path (fit(..., out_dir=DIR) writes "
                                f"DIR/last.pt and DIR/best.pt)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises RuntimeError, EOFError, UnpicklingError... for a damaged file
        lines = str(e).strip().splitlines() or [type(e).__name__]
        if "weights only load failed" in str(e).lower():
            what = next((ln.strip() for ln in lines if "Unsupported global" in ln), lines[0])
            raise CheckpointError(f"{path} holds Python objects that torch.load(weights_only=True) refuses "
                                  f"(load only files you trust): {what}") from e
        first_line = lines[0]
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt): "
                              f"{type(e).__name__}: {first_line}") from e
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint or a state dict")
    return ckpt


def _state_dict_of(ckpt: dict, path: Path) -> dict:
    """The model's state dict in a checkpoint of ours, or the file itself if it is a bare state dict
    (keys of DistributedDataParallel or torch.compile wrappers are unwrapped)."""
    sd = ckpt["model"] if ckpt.get("format") == CHECKPOINT_FORMAT else ckpt
    if not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f"{path} is neither a resnet_lib checkpoint nor a state dict of tensors")
    for prefix in ("module.", "_orig_mod."):
        if all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def _check_fits(model: nn.Module, sd: dict, path: Path, ckpt: dict) -> None:
    """Raise, naming the first key that differs, unless `sd` loads into `model` exactly."""
    mine = _unwrap(model).state_dict()
    problem = None
    for key, t in mine.items():
        if key not in sd:
            problem = f"key {key!r} of the model is not in the file"
        elif sd[key].shape != t.shape:
            problem = (f"key {key!r} has shape {tuple(sd[key].shape)} in the file but {tuple(t.shape)} "
                       f"in the model")
        if problem:
            break
    else:
        extra = [k for k in sd if k not in mine]
        if extra:
            problem = f"key {extra[0]!r} of the file is not in the model"
    if problem:
        config = ckpt.get("config") or {}
        made_by = (f" (it was saved from {config['model']!r} with {config.get('model_kwargs') or {}})"
                   if config.get("model") else "")
        raise CheckpointError(f"{path} does not fit this model{made_by}: {problem}")


def _check_optimizer_fits(optimizer: torch.optim.Optimizer, saved: dict, path: Path) -> None:
    have = [len(g["params"]) for g in optimizer.param_groups]
    saved_sizes = [len(g["params"]) for g in saved["param_groups"]]
    if have != saved_sizes:
        raise CheckpointError(f"{path}: its optimizer has parameter groups of sizes {saved_sizes}, this one "
                              f"{have}; resume with the config it was trained with (no_decay_bn_bias, "
                              f"backbone_lr_mult, frozen layers)")


@dataclass
class Checkpoint:
    """What `load_checkpoint` read. `state` is the file's dict as loaded."""

    path: Path
    model: nn.Module
    config: TrainConfig | None
    epoch: int
    iteration: int
    history: History
    state: dict


def load_checkpoint(path: str | Path, model: nn.Module | None = None, optimizer=None, scheduler=None,
                    scaler=None, restore_rng: bool = False) -> Checkpoint:
    """Load a checkpoint written by `save_checkpoint` / `fit` into `model` (built from the checkpoint's
    config if None) and into whichever of optimizer, scheduler and scaler are given.

    Everything is checked before anything is loaded: on an error nothing has been changed.
    """
    path = Path(path)
    return _load(_read(path), path, model, optimizer, scheduler, scaler, restore_rng)


def _load(ckpt: dict, path: Path, model, optimizer, scheduler, scaler, restore_rng: bool) -> Checkpoint:
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a resnet_lib checkpoint (for a bare state dict use load_weights)")
    config = TrainConfig.from_dict(ckpt["config"]) if ckpt.get("config") else None
    if model is None:
        if config is None or config.model is None:
            raise CheckpointError(f"{path} does not name its model in its config; pass model=...")
        model = models.build(config.model, **config.model_kwargs)
    sd = _state_dict_of(ckpt, path)
    _check_fits(model, sd, path, ckpt)
    if optimizer is not None and ckpt["optimizer"] is not None:
        _check_optimizer_fits(optimizer, ckpt["optimizer"], path)
    _unwrap(model).load_state_dict(sd)
    if optimizer is not None and ckpt["optimizer"] is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt["scheduler"] is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if scaler is not None and ckpt["scaler"] is not None:
        scaler.load_state_dict(ckpt["scaler"])
    if restore_rng:
        _set_rng_state(ckpt["rng"])
    return Checkpoint(path, model, config, ckpt["epoch"], ckpt["iteration"],
                      History(list(ckpt["history"]), dict(ckpt.get("meta") or {})), ckpt)


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load only the model's weights from a checkpoint of ours or a bare state dict; returns the model."""
    path = Path(path)
    ckpt = _read(path)
    sd = _state_dict_of(ckpt, path)
    _check_fits(model, sd, path, ckpt)
    _unwrap(model).load_state_dict(sd)
    return model


# ---------------------------------------------------------------------------------------------- distributed

class DistInfo(NamedTuple):
    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def _dist_on() -> bool:
    return dist.is_available() and dist.is_initialized()


def setup_distributed(backend: str | None = None) -> DistInfo:
    """Join the process group that torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK): nccl on CUDA (one GPU
    per process, cuda:LOCAL_RANK), gloo on CPU. Without torchrun: rank 0 of 1, nothing initialised."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistInfo(0, 1, 0, pick_device())
    rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if not _dist_on():
        dist.init_process_group(backend or ("nccl" if device.type == "cuda" else "gloo"), rank=rank,
                                world_size=world)
    return DistInfo(rank, world, local, device)


def cleanup_distributed() -> None:
    """Leave the process group (call at the end of a torchrun script)."""
    if _dist_on():
        dist.destroy_process_group()


def _is_sharded(loader) -> bool:
    """Does each process see only its own part of this loader's data?"""
    sampler = getattr(loader, "sampler", None)
    return (getattr(loader, "world_size", 1) > 1
            or isinstance(sampler, torch.utils.data.distributed.DistributedSampler))


# ---------------------------------------------------------------------------------------------- evaluate

def _check_classes(num_classes: int | None, logits: torch.Tensor, y: torch.Tensor) -> int:
    c = logits.shape[-1]
    if num_classes is not None and num_classes != c:
        raise ValueError(f"num_classes={num_classes}, but the model gives {c} outputs")
    if y.numel() and (y.min() < 0 or y.max() >= c):
        raise ValueError(f"labels must lie in 0..{c - 1} for a {c}-way model, got {int(y.min())}..{int(y.max())}")
    return c


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: str | torch.device | None = None, amp: str = "auto",
             topk: tuple[int, ...] = (1, 5), num_classes: int | None = None, ten_crop: bool = False,
             channels_last: bool = False) -> dict:
    """Loss and top-k accuracy (fractions of 1) of `model` over `loader`, per-class accuracy and the
    confusion matrix (rows: true class, columns: predicted; int64).

    `top{k}` is reported for k < number of classes only (top-5 of 5 classes is always 1). `device`: where
    to run, None = where the model is. `ten_crop`: batches of shape (B, crops, C, H, W), scored by the
    softmax averaged over the crops (the paper's 10-crop testing). Under torch.distributed with a sharded
    loader, the counts are summed over the processes.
    """
    device = torch.device(device) if device is not None else next(model.parameters(), torch.empty(0)).device
    model.to(device)
    amp_dtype = _amp_dtype(amp, device)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64 if device.type != "mps" else torch.float32, device=device)
    correct, confusion, ks = None, None, ()
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if ten_crop != (x.ndim == 5):
            raise ValueError(f"batches of shape {tuple(x.shape)} with ten_crop={ten_crop}: "
                             + ("pass ten_crop=True for (B, crops, C, H, W) batches" if x.ndim == 5 else
                                "ten_crop=True needs batches of shape (B, crops, C, H, W)"))
        b = x.shape[0]
        if ten_crop:
            x = x.flatten(0, 1)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(x)
        logits = logits.float()
        c = _check_classes(num_classes, logits, y)
        if ten_crop:
            log_p = logits.view(b, -1, c).softmax(-1).mean(1).clamp_min(1e-12).log()
        else:
            log_p = logits.log_softmax(-1)
        if confusion is None:
            ks = tuple(k for k in topk if k == 1 or k < c)
            correct = torch.zeros(len(ks), dtype=torch.int64, device=device)
            confusion = torch.zeros(c, c, dtype=torch.int64, device=device)
        loss_sum += F.nll_loss(log_p, y, reduction="sum")
        top = log_p.topk(max(ks), dim=1).indices
        hits = top == y[:, None]
        correct += torch.stack([hits[:, :k].any(1).sum() for k in ks])
        confusion += torch.bincount(y * c + top[:, 0], minlength=c * c).view(c, c)
    model.train(was_training)
    if confusion is None:
        raise ValueError("the loader gave no batches to evaluate")
    if _dist_on() and _is_sharded(loader):
        for t in (loss_sum, correct, confusion):
            dist.all_reduce(t)
    confusion = confusion.cpu()
    n = int(confusion.sum())
    per_class = confusion.diag().double() / confusion.sum(1).double()  # nan for a class never seen
    result = {"loss": float(loss_sum) / n}
    result.update({f"top{k}": int(hit) / n for k, hit in zip(ks, correct.tolist())})
    result.update(per_class=per_class, confusion=confusion, count=n)
    return result



@torch.no_grad()
def predict(model: nn.Module, loader, device: str | torch.device | None = None) -> torch.Tensor:
    """The predicted class of every image `loader` gives, in order (a CPU tensor of int64): the arg-max
    of the logits, with the model in eval mode (and put back as it was). `device`: None = where the model is."""
    device = torch.device(device) if device is not None else next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(x.to(device)).argmax(1).cpu() for x, _ in loader])
    finally:
        model.train(was_training)

# ---------------------------------------------------------------------------------------------- fit

def _progress_on(setting: bool | None) -> bool:
    if setting is not None:
        return setting
    if os.environ.get("CI", "").lower() not in ("", "0", "false") or os.environ.get("RESNET_PROGRESS") == "0":
        return False
    try:
        from IPython import get_ipython
        if get_ipython() is not None and "IPKernelApp" in get_ipython().config:
            return True
    except ImportError:
        pass
    return sys.stderr.isatty()


def _data_source(loader) -> str | None:
    for obj in (loader, getattr(loader, "data", None), getattr(loader, "dataset", None)):
        source = getattr(obj, "source", None)
        if isinstance(source, str):
            return source
    return None


def _set_epoch(loader, epoch: int) -> None:
    for obj in (loader, getattr(loader, "sampler", None)):
        if hasattr(obj, "set_epoch"):
            obj.set_epoch(epoch)
            return


class Stopwatch:
    """Seconds between start and stop: CUDA events on a GPU (nothing in the loop waits to time it), the
    wall clock elsewhere."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self.start.record()
        else:
            self.t0 = time.perf_counter()

    def stop(self) -> float:
        if self.cuda:
            self.end.record()
            self.end.synchronize()
            return self.start.elapsed_time(self.end) / 1000
        return time.perf_counter() - self.t0


def _first_nonfinite(losses: torch.Tensor, start: int, stop: int) -> int | None:
    """Index of the first non-finite loss in losses[start:stop] on any process, or None."""
    idx = torch.arange(start, stop, device=losses.device)
    first = torch.where(torch.isfinite(losses[start:stop]), len(losses), idx).min()
    if _dist_on():
        dist.all_reduce(first, op=dist.ReduceOp.MIN)
    return None if int(first) == len(losses) else int(first)


def _config_differences(old: dict, new: TrainConfig) -> list[str]:
    ignore = {"epochs", "iterations", "progress", "device", "eval_every"}
    return [k for k, v in new.to_dict().items() if k not in ignore and k in old and old[k] != v]


def fit(model: nn.Module, train_loader, val_loader=None, config: TrainConfig | None = None,
        out_dir: str | Path | None = None, resume: str | Path | bool | None = None) -> History:
    """Train `model` as `config` says; returns the History (also in out_dir/history.json).

    Loaders: any iterable of (images, labels) batches with a length; `set_epoch(epoch)` is called on the
    loader (or its sampler) before each epoch where it has one. `out_dir`: where last.pt, best.pt and
    history.json go (None: nowhere). `resume`: a checkpoint to continue from, or True for out_dir/last.pt
    if there is one. Ctrl-C stops with last.pt holding the last completed epoch.
    """
    if config is None:
        raise TypeError("fit needs a TrainConfig, e.g. fit(model, train_loader, val_loader, TrainConfig(epochs=10))")
    if not hasattr(train_loader, "__len__") or len(train_loader) == 0:
        raise ValueError("the train loader must have a length (batches per epoch) greater than 0")
    started, wall0 = datetime.datetime.now(datetime.timezone.utc), time.perf_counter()
    distributed = _dist_on()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    main = rank == 0
    device = pick_device(config.device)
    if distributed and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    amp_dtype = _amp_dtype(config.amp, device)
    channels_last = uses_channels_last(config, device)
    per_process = getattr(train_loader, "batch_size", None)
    if config.batch_size is None and per_process is not None:
        config = dataclasses.replace(config, batch_size=per_process * world)
    elif config.batch_size is not None and per_process is not None and per_process * world != config.batch_size:
        raise ValueError(f"the train loader gives batches of {per_process} per process x {world} process(es), "
                         f"but config.batch_size is {config.batch_size}: build the loader with "
                         f"batch_size={config.batch_size // world}")
    iters_per_epoch = len(train_loader)
    total_iters = config.iterations or config.epochs * iters_per_epoch
    epochs = math.ceil(total_iters / iters_per_epoch)
    out_dir = Path(out_dir) if out_dir is not None else None
    if resume is True:
        if out_dir is None:
            raise ValueError("resume=True looks for out_dir/last.pt: give out_dir too")
        resume = out_dir / "last.pt" if (out_dir / "last.pt").is_file() else None
    ckpt = _read(resume) if resume else None  # read (and fail) before anything is changed or written
    if ckpt is not None:
        old = ckpt.get("config") or {}
        if config.model and old.get("model") and old["model"] != config.model:
            raise CheckpointError(f"{resume} is a checkpoint of {old['model']!r}, but config.model is "
                                  f"{config.model!r}")
        _check_fits(model, _state_dict_of(ckpt, Path(resume)), Path(resume), ckpt)
        if diff := _config_differences(old, config):
            warnings.warn(f"resuming {resume} with a config that differs in {', '.join(diff)}", stacklevel=2)
    if config.sync_bn and distributed and device.type != "cuda":
        raise ValueError("sync_bn needs CUDA GPUs (torch's SyncBatchNorm does not run on CPU); set sync_bn=False")

    # The model, optimizer, schedule and gradient scaler.
    if ckpt is None:
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        np.random.seed(config.seed)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if config.sync_bn and distributed:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = torch.optim.SGD(param_groups(model, config), lr=config.lr, momentum=config.momentum,
                                nesterov=config.nesterov, weight_decay=config.weight_decay)
    scheduler = make_scheduler(optimizer, config, total_iters)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    records, start_epoch, iteration = [], 0, 0
    if ckpt is not None:
        loaded = _load(ckpt, Path(resume), model, optimizer, scheduler, scaler, restore_rng=True)
        records, start_epoch, iteration = loaded.history.records, loaded.epoch, loaded.iteration
    net = torch.compile(model) if config.compile else model
    train_net = nn.parallel.DistributedDataParallel(
        net, device_ids=[device.index] if device.type == "cuda" else None) if distributed else net
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    history = History(records, meta={
        "config": config.to_dict(), "torch": str(torch.__version__), "device": _device_name(device),
        "world_size": world, "amp": str(amp_dtype).removeprefix("torch.") if amp_dtype else "off",
        "channels_last": channels_last, "data": _data_source(train_loader), "val_data": _data_source(val_loader),
        "iterations_per_epoch": iters_per_epoch, "total_iterations": total_iters,
        "started": started.isoformat(timespec="seconds"), "wall_seconds": 0.0, "status": "running",
        "resumed_from": {"file": Path(resume).name, "epoch": start_epoch} if ckpt is not None else None,
        # every resume of this run, oldest first: a long run carried over interruptions lists them all
        "resumes": [*((ckpt.get("meta") or {}).get("resumes") or []),
                    {"epoch": start_epoch, "iteration": iteration, "at": started.isoformat(timespec="seconds")}]
        if ckpt is not None else []})
    best = max((r["val_top1"] for r in records if r.get("val_top1") is not None), default=-1.0)
    show = main and _progress_on(config.progress)
    last_pt = out_dir / "last.pt" if out_dir is not None else None

    def write_history(status: str) -> None:
        history.meta.update(status=status, wall_seconds=round(time.perf_counter() - wall0, 3))
        if main and out_dir is not None:
            history.save(out_dir / "history.json")

    epoch = start_epoch
    try:
        for epoch in range(start_epoch, epochs):
            _set_epoch(train_loader, epoch)
            model.train()
            steps = min(iters_per_epoch, total_iters - iteration)
            losses = torch.zeros(steps, device=device)          # per-iteration losses, kept on the device
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.int64, device=device)
            seen, checked = 0, 0
            bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", disable=not show, leave=False)
            clock = Stopwatch(device)
            for i, (x, y) in enumerate(train_loader):
                if i == steps:
                    break
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
                if channels_last and x.ndim == 4:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    logits = train_net(x)
                    loss = criterion(logits, y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                iteration += 1
                losses[i] = loss.detach()
                loss_sum += loss.detach() * len(y)
                correct += (logits.argmax(1) == y).sum()
                seen += len(y)
                bar.update(1)
                if i + 1 - checked == CHECK_EVERY or i + 1 == steps:  # the only places the loop waits
                    bad = _first_nonfinite(losses, checked, i + 1)
                    if bad is not None:
                        at = iteration - (i + 1) + bad + 1
                        kept = (f"{last_pt} keeps epoch {records[-1]['epoch']}" if last_pt is not None and records
                                else "no checkpoint of this run was written")
                        raise TrainingError(f"the loss became {losses[bad].item()} at iteration {at} (epoch "
                                            f"{epoch + 1}); training stopped, {kept}. Try a lower lr, a warm-up "
                                            f"(warmup_iters) or amp='off'", iteration=at)
                    checked = i + 1
                    lr_now = config.lr * lr_factor(config, iteration - 1, total_iters)
                    bar.set_postfix(loss=f"{losses[i].item():.3f}", lr=f"{lr_now:.3g}")
            seconds = clock.stop()
            bar.close()
            if distributed:  # BatchNorm statistics: rank 0's everywhere (as DDP does before each forward)
                for buffer in model.buffers():
                    dist.broadcast(buffer, 0)

            totals = torch.stack([loss_sum, correct.to(loss_sum.dtype), torch.tensor(float(seen), device=device)])
            if distributed:
                dist.all_reduce(totals)
            loss_total, correct_total, seen_total = totals.tolist()
            record = {"epoch": epoch + 1, "iteration": iteration,
                      "lr": config.lr * lr_factor(config, iteration - 1, total_iters),
                      "train_loss": loss_total / seen_total, "train_top1": correct_total / seen_total,
                      "seconds": seconds, "images_per_s": seen_total / seconds}
            if val_loader is not None and ((epoch + 1) % config.eval_every == 0 or epoch + 1 == epochs):
                clock = Stopwatch(device)
                metrics = evaluate(net, val_loader, device=device, amp=config.amp, channels_last=channels_last)
                record.update({f"val_{k}": metrics[k] for k in ("loss", "top1", "top5") if k in metrics})
                record["eval_seconds"] = clock.stop()
            records.append(record)

            if main and out_dir is not None:
                save_checkpoint(last_pt, model, optimizer, scheduler, scaler, epoch=epoch + 1, iteration=iteration,
                                config=config, history=records, meta=history.meta)
                if record.get("val_top1", -1.0) > best:
                    best = record["val_top1"]
                    with open(last_pt, "rb") as src:
                        _atomic_write(out_dir / "best.pt", lambda f: shutil.copyfileobj(src, f))
            write_history("running")
            if show:
                tqdm.write(_summary(record, epochs))
    except KeyboardInterrupt:
        write_history(f"interrupted in epoch {epoch + 1}")
        if main:
            where = (f"{last_pt} holds epoch {records[-1]['epoch']}; fit(..., resume=True) continues from it"
                     if last_pt is not None and records else "nothing was saved")
            print(f"interrupted in epoch {epoch + 1}: {where}", file=sys.stderr)
        raise
    except TrainingError as e:
        write_history(f"failed: {e}")
        raise
    write_history("finished")
    return history


def _summary(r: dict, epochs: int) -> str:
    line = (f"epoch {r['epoch']}/{epochs}  train loss {r['train_loss']:.4f} top-1 {100 * r['train_top1']:.2f}%")
    if "val_top1" in r:
        line += f"  val loss {r['val_loss']:.4f} top-1 {100 * r['val_top1']:.2f}%"
    return line + f"  lr {r['lr']:.3g}  {r['seconds']:.1f} s  {r['images_per_s']:.0f} img/s"


if __name__ == "__main__":  # python -m resnet_lib.train RECIPE ... (the command line of resnet_lib.cli)
    from .cli import main
    main()
