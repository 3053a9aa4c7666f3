"""Training and evaluation: TrainConfig, then fit, then evaluate, one loop to read top to bottom.

    config = TrainConfig(model="cifar_resnet20", iterations=64_000, batch_size=128, lr=0.1,
                         milestones=(32_000, 48_000))             # Section 4.2 of the paper
    model = build(config.model, **config.model_kwargs)
    history = fit(model, train_loader, val_loader, config, out_dir="runs/resnet20")
    history = fit(model, train_loader, val_loader, config, out_dir="runs/resnet20", resume=True)  # continue

`fit` is SGD with momentum, a learning rate set per iteration (torch's LambdaLR over `lr_factor`), optional
mixed precision, channels-last and torch.compile, a checkpoint after every epoch (`last.pt`, and `best.pt`
by validation top-1; `resnet_lib.checkpoint`), also every `checkpoint_every` iterations if asked, and
`history.json`. Resuming from `last.pt` continues exactly where the run stopped, at an epoch's end or inside
one: on a CPU the weights come out bit for bit equal to a run that was never interrupted.

Under `torchrun`, call `distributed.setup_distributed()` first: `fit` then trains with DistributedDataParallel,
averages its metrics over the processes, and only rank 0 prints and writes files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

with warnings.catch_warnings():  # in a notebook without ipywidgets tqdm.auto warns, then draws text bars: fine
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm

from . import checkpoint, distributed
from .checkpoint import CheckpointError, atomic_write, rng_state, save_checkpoint, set_rng_state
from .provenance import timestamp
from .runsize import hardware, pick_device

__all__ = [
    "TrainConfig", "History", "TrainingError", "Interrupted", "fit", "evaluate", "predict", "lr_factor",
    "make_scheduler", "param_groups", "pick_device", "uses_channels_last", "autocast_dtype", "amp_dtype",
    "Stopwatch", "data_source", "summary_line",
]

SCHEDULES = ("step", "cosine", "linear", "constant")
WARMUPS = ("constant", "linear")
AMP_MODES = ("auto", "bf16", "fp16", "off")
CHECK_EVERY = 20  # iterations between looks at the loss (each look waits for the GPU)
RUN_FILES = ("last.pt", "best.pt", "history.json")  # what fit writes into out_dir


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss). `iteration` is the step that failed, counted from 1."""

    def __init__(self, message: str, iteration: int):
        super().__init__(message)
        self.iteration = iteration


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped `fit` in epoch `epoch`. `checkpoint`: the file to resume from (None: nothing was
    saved), `saved`: what it holds, in words ("epoch 3")."""

    def __init__(self, epoch: int, checkpoint: Path | None, saved: str | None):
        where = (f"{checkpoint} holds {saved}; fit(..., resume=True) continues from it" if checkpoint
                 else "nothing was saved")
        super().__init__(f"interrupted in epoch {epoch}: {where}")
        self.epoch, self.checkpoint, self.saved = epoch, checkpoint, saved


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
    schedule: str = "step"            # "step" | "cosine" | "linear" (to 0 at the end) | "constant"
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
    checkpoint_every: int | None = None  # also write last.pt every N iterations, inside epochs (None: at their end)

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
        if self.checkpoint_every is not None and (isinstance(self.checkpoint_every, bool)
                                                  or not isinstance(self.checkpoint_every, int)
                                                  or self.checkpoint_every < 1):
            raise ValueError(f"TrainConfig.checkpoint_every must be None or a positive integer (iterations), "
                             f"got {self.checkpoint_every!r}")
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


def amp_dtype(amp: str, device: str | torch.device) -> torch.dtype | None:
    """The autocast dtype of the `amp` setting ("auto", "bf16", "fp16", "off") on `device`; None: float32."""
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}, got {amp!r}")
    return {"auto": autocast_dtype(device), "bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[amp]


class Stopwatch:
    """Seconds since it was made, at each `stop()`: CUDA events on a GPU (nothing in the loop waits to time
    it), the wall clock elsewhere."""

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
    t = min(1.0, (iteration - config.warmup_iters) / max(1, total_iters - config.warmup_iters))
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    if config.schedule == "linear":
        return 1.0 - t
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
        return atomic_write(path, lambda f: f.write(self.to_json().encode()))

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(records=list(d.get("records", [])), meta=dict(d.get("meta", {})))

    @classmethod
    def load(cls, path: str | Path) -> History:
        return cls.from_dict(json.loads(Path(path).read_text()))


# ---------------------------------------------------------------------------------------------- fit

def fit(model: nn.Module, train_loader, val_loader=None, config: TrainConfig | None = None,
        out_dir: str | Path | None = None, resume: str | Path | bool | None = None) -> History:
    """Train `model` as `config` says; returns the History (also in out_dir/history.json).

    Loaders: any iterable of (images, labels) batches with a length; `set_epoch(epoch)` is called on the
    loader (or its sampler) before each epoch where it has one. `out_dir`: where last.pt, best.pt and
    history.json go (None: nowhere). `resume`: a checkpoint to continue from, or True for out_dir/last.pt
    if there is one. A checkpoint from inside an epoch (`config.checkpoint_every`) continues at its batch:
    the library's loaders go there directly (`start_at`), any other loader gives its first batches again.
    Ctrl-C raises `Interrupted`, with last.pt holding the last checkpoint.
    """
    if config is None:
        raise TypeError("fit needs a TrainConfig, e.g. fit(model, train_loader, val_loader, TrainConfig(epochs=10))")
    if not hasattr(train_loader, "__len__") or len(train_loader) == 0:
        raise ValueError("the train loader must have a length (batches per epoch) greater than 0")
    started, wall0 = timestamp(), time.perf_counter()
    is_distributed = distributed.initialized()
    rank, world = distributed.rank_and_world_size()
    main = rank == 0
    device = pick_device(config.device)
    if is_distributed and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    dtype = amp_dtype(config.amp, device)
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
    ckpt = checkpoint.read(resume) if resume else None  # read (and fail) before anything is changed or written
    if ckpt is not None:
        _check_resumable(ckpt, Path(resume), model, config, total_iters, epochs, world)
    if config.sync_bn and is_distributed and device.type != "cuda":
        raise ValueError("sync_bn needs CUDA GPUs (torch's SyncBatchNorm does not run on CPU); set sync_bn=False")
    if main and out_dir is not None:
        _prepare_out_dir(out_dir)

    # The model, optimizer, schedule and gradient scaler.
    if ckpt is None:
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        np.random.seed(config.seed)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if config.sync_bn and is_distributed:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = torch.optim.SGD(param_groups(model, config), lr=config.lr, momentum=config.momentum,
                                nesterov=config.nesterov, weight_decay=config.weight_decay)
    scheduler = make_scheduler(optimizer, config, total_iters)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    records, start_epoch, iteration, mid_epoch = [], 0, 0, None
    last_pt = out_dir / "last.pt" if out_dir is not None else None
    saved = None  # what last.pt holds, in words, once this run has written it
    if ckpt is not None:
        loaded = checkpoint.restore(ckpt, resume, model, optimizer, scheduler, scaler, restore_rng=True)
        records, start_epoch, iteration, mid_epoch = loaded.history, loaded.epoch, loaded.iteration, loaded.mid_epoch
        if last_pt is not None and Path(resume).resolve() == last_pt.resolve():
            saved = _position(start_epoch, iteration, mid_epoch)
        if main and out_dir is not None and mid_epoch is None and _is_best(records, len(records) - 1):
            # A kill between writing last.pt and copying it to best.pt left best.pt an epoch behind.
            _copy(Path(resume), out_dir / "best.pt")
    net = torch.compile(model) if config.compile else model
    train_net = nn.parallel.DistributedDataParallel(
        net, device_ids=[device.index] if device.type == "cuda" else None) if is_distributed else net
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    here = hardware(device)
    before = (ckpt.get("meta") or {}) if ckpt is not None else {}  # the meta of the run this one continues
    history = History(records, meta={
        "config": config.to_dict(), "torch": str(torch.__version__), "device": here,
        "world_size": world, "amp": str(dtype).removeprefix("torch.") if dtype else "off",
        "channels_last": channels_last, "data": data_source(train_loader), "val_data": data_source(val_loader),
        "iterations_per_epoch": iters_per_epoch, "total_iterations": total_iters,
        "started": started, "wall_seconds": 0.0, "status": "running",
        "resumed_from": {"file": Path(resume).name, "epoch": start_epoch} if ckpt is not None else None,
        # where the run began; "device" above is where this part of it runs
        "first_device": before.get("first_device") if ckpt is not None else here,
        # every resume of this run, oldest first, and on what: a long run carried over interruptions (and
        # perhaps machines) lists them all
        "resumes": [*(before.get("resumes") or []),
                    {"epoch": start_epoch, "iteration": iteration, "at": started, "device": here}]
        if ckpt is not None else []})
    best = max((r["val_top1"] for r in records if r.get("val_top1") is not None), default=-1.0)
    show = main and _progress_on(config.progress)
    every = config.checkpoint_every if out_dir is not None else None

    def write_history(status: str) -> None:
        history.meta.update(status=status, wall_seconds=round(time.perf_counter() - wall0, 3))
        if main and out_dir is not None:
            history.save(out_dir / "history.json")

    def stopped(what: str, at: int) -> TrainingError:
        kept = f"{last_pt} keeps {saved}" if saved else "no checkpoint of this run was written"
        return TrainingError(f"{what}; training stopped, {kept}. Try a lower lr, a warm-up (warmup_iters) or "
                             f"amp='off'", iteration=at)

    epoch = start_epoch
    try:
        for epoch in range(start_epoch, epochs):
            first = mid_epoch["batch"] if mid_epoch is not None and epoch == start_epoch else 0
            steps = min(iters_per_epoch, total_iters - (iteration - first))
            losses = torch.zeros(steps, device=device)          # per-iteration losses, kept on the device
            if first:  # the sums of the epoch's batches before the checkpoint, this process's share
                loss_sum = mid_epoch["loss_sum"][rank].to(device, copy=True)
                correct = mid_epoch["correct"][rank].to(device, copy=True)
                seen, seconds_before = int(mid_epoch["seen"][rank]), mid_epoch["seconds"]
            else:
                loss_sum = torch.zeros((), device=device)
                correct = torch.zeros((), dtype=torch.int64, device=device)
                seen, seconds_before = 0, 0.0
            checked = first
            epoch_rng = mid_epoch["epoch_rng"] if first else rng_state() if every else None  # for mid-epoch resumes
            model.train()
            bar = tqdm(total=steps, initial=first, desc=f"epoch {epoch + 1}/{epochs}", disable=not show, leave=False)
            clock = Stopwatch(device)
            for i, (x, y) in enumerate(_batches(train_loader, epoch, first, epoch_rng), start=first):
                if i == steps:
                    break
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
                if channels_last and x.ndim == 4:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
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
                save_now = every is not None and iteration % every == 0 and i + 1 < steps
                if i + 1 - checked == CHECK_EVERY or i + 1 == steps or save_now:  # the only places the loop waits
                    bad = _first_nonfinite(losses, checked, i + 1)
                    if bad is not None:
                        at = iteration - (i + 1) + bad + 1
                        raise stopped(f"the loss became {losses[bad].item()} at iteration {at} (epoch {epoch + 1})",
                                      at)
                    checked = i + 1
                    lr_now = config.lr * lr_factor(config, iteration - 1, total_iters)
                    bar.set_postfix(loss=f"{losses[i].item():.3f}", lr=f"{lr_now:.3g}")
                if save_now:
                    position = {"batch": i + 1, "loss_sum": _gathered(loss_sum), "correct": _gathered(correct),
                                "seen": _gathered(torch.tensor(seen, device=device)),
                                "seconds": seconds_before + clock.stop(), "epoch_rng": epoch_rng,
                                "world_size": world}
                    if main:
                        save_checkpoint(last_pt, model, optimizer, scheduler, scaler, epoch=epoch,
                                        iteration=iteration, config=config, history=records, meta=history.meta,
                                        mid_epoch=position)
                        saved = _position(epoch, iteration, position)
            seconds = seconds_before + clock.stop()
            bar.close()
            if is_distributed:  # BatchNorm statistics: rank 0's everywhere (as DDP does before each forward)
                for buffer in model.buffers():
                    dist.broadcast(buffer, 0)

            totals = torch.stack([loss_sum, correct.to(loss_sum.dtype), torch.tensor(float(seen), device=device)])
            if is_distributed:
                dist.all_reduce(totals)
            loss_total, correct_total, seen_total = totals.tolist()
            record = {"epoch": epoch + 1, "iteration": iteration,
                      "lr": config.lr * lr_factor(config, iteration - 1, total_iters),
                      "train_loss": loss_total / seen_total, "train_top1": correct_total / seen_total,
                      "seconds": seconds, "images_per_s": seen_total / seconds}
            if val_loader is not None and ((epoch + 1) % config.eval_every == 0 or epoch + 1 == epochs):
                clock = Stopwatch(device)
                # The model itself, not `net`: compiled, evaluation (no_grad) needs a second graph, and
                # torch._dynamo compiles one forward (all CIFAR networks share theirs) at most 8 times
                # (config.recompile_limit): the fifth network fit in a process would train uncompiled.
                metrics = evaluate(model, val_loader, device=device, amp=config.amp, channels_last=channels_last)
                if not math.isfinite(metrics["loss"]):
                    raise stopped(f"the validation loss became {metrics['loss']} after epoch {epoch + 1} "
                                  f"(iteration {iteration})", iteration)
                record.update({f"val_{k}": metrics[k] for k in ("loss", "top1", "top5") if k in metrics})
                record["eval_seconds"] = clock.stop()
            records.append(record)

            if main and out_dir is not None:
                save_checkpoint(last_pt, model, optimizer, scheduler, scaler, epoch=epoch + 1, iteration=iteration,
                                config=config, history=records, meta=history.meta)
                saved = _position(epoch + 1, iteration, None)
                if record.get("val_top1", -1.0) > best:
                    best = record["val_top1"]
                    _copy(last_pt, out_dir / "best.pt")
            write_history("running")
            if show:
                tqdm.write(summary_line(record, epochs))
    except KeyboardInterrupt:
        write_history(f"interrupted in epoch {epoch + 1}")
        raise Interrupted(epoch + 1, last_pt if saved else None, saved) from None
    except TrainingError as e:
        write_history(f"failed: {e}")
        raise
    write_history("finished")
    return history


def _check_resumable(ckpt: dict, path: Path, model: nn.Module, config: TrainConfig, total_iters: int,
                     epochs: int, world: int) -> None:
    """Raise unless the checkpoint `ckpt` (read from `path`) can continue into this run; warn where its
    config differs in what changes the numbers."""
    checkpoint.check_format(ckpt, path)
    old = ckpt.get("config") or {}
    if config.model and old.get("model") and old["model"] != config.model:
        raise CheckpointError(f"{path} is a checkpoint of {old['model']!r}, but config.model is {config.model!r}")
    checkpoint.check_fits(model, ckpt, path)
    if ckpt["iteration"] > total_iters:
        raise ValueError(f"{path} holds {ckpt['epoch']} epochs ({ckpt['iteration']} iterations), more than this "
                         f"run's {epochs} ({total_iters} iterations): a resumed run must be at least as long as "
                         f"the run so far")
    mid_epoch = ckpt.get("mid_epoch")
    if mid_epoch is not None and mid_epoch["world_size"] != world:
        raise CheckpointError(f"{path} was written inside an epoch by {mid_epoch['world_size']} process(es): "
                              f"resume it with as many (this run has {world})")
    if diff := _config_differences(old, config):
        warnings.warn(f"resuming {path} with a config that differs in {', '.join(diff)}", stacklevel=3)


def _config_differences(old: dict, new: TrainConfig) -> list[str]:
    ignore = {"epochs", "iterations", "progress", "device", "eval_every", "checkpoint_every"}
    return [k for k, v in new.to_dict().items() if k not in ignore and k in old and old[k] != v]


def _prepare_out_dir(out_dir: Path) -> None:
    """Fail now, not after an epoch, where out_dir cannot be written; delete what a killed run left half
    written there."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir {out_dir} is a file, not a folder: choose another out_dir")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot make the folder {out_dir} ({e.strerror}): choose another out_dir") from None
    if not os.access(out_dir, os.W_OK):
        raise PermissionError(f"cannot write in {out_dir}: choose another out_dir")
    checkpoint.remove_temporaries(out_dir, RUN_FILES)


def _position(epochs_done: int, iteration: int, mid_epoch: dict | None) -> str:
    """Where a checkpoint stands, in words: "epoch 3", or "iteration 1200 (batch 150 of epoch 4)"."""
    if mid_epoch is None:
        return f"epoch {epochs_done}"
    return f"iteration {iteration} (batch {mid_epoch['batch']} of epoch {epochs_done + 1})"


def _is_best(records: list[dict], i: int) -> bool:
    """Is epoch record `i` the first to reach the best validation top-1 of records[:i + 1]?"""
    score = records[i].get("val_top1") if records else None
    return score is not None and all(r.get("val_top1") is None or r["val_top1"] < score for r in records[:i])


def _copy(source: Path, target: Path) -> None:
    with open(source, "rb") as f:
        atomic_write(target, lambda out: shutil.copyfileobj(f, out))


def _gathered(t: torch.Tensor) -> torch.Tensor:
    """`t` of every process, stacked in rank order, on the CPU (under torch.distributed a collective call)."""
    if not distributed.initialized():
        return t.detach().cpu()[None]
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.detach())
    return torch.stack(parts).cpu()


def _set_epoch(loader, epoch: int) -> None:
    for obj in (loader, getattr(loader, "sampler", None)):
        if hasattr(obj, "set_epoch"):
            obj.set_epoch(epoch)
            return


def _batches(loader, epoch: int, first: int, rng_at_start: dict | None):
    """The batches of epoch `epoch` of `loader`, from batch `first` on (0: all of them)."""
    _set_epoch(loader, epoch)
    if first == 0:
        return iter(loader)
    if hasattr(loader, "start_at"):  # the library's loaders go straight there
        loader.start_at(first)
        return iter(loader)
    # Any other loader gives its first batches again, drawn from the random state the epoch began with; then
    # the checkpoint's state goes on. A loader whose randomness is torch's, Python's or numpy's global
    # generator so repeats its epoch exactly.
    resumed = rng_state()
    set_rng_state(rng_at_start)
    batches = iter(loader)
    for _ in range(first):
        next(batches)
    set_rng_state(resumed)
    return batches


def _first_nonfinite(losses: torch.Tensor, start: int, stop: int) -> int | None:
    """Index of the first non-finite loss in losses[start:stop] on any process, or None."""
    idx = torch.arange(start, stop, device=losses.device)
    first = torch.where(torch.isfinite(losses[start:stop]), len(losses), idx).min()
    if distributed.initialized():
        dist.all_reduce(first, op=dist.ReduceOp.MIN)
    return None if int(first) == len(losses) else int(first)


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


def data_source(loader) -> str | None:
    """The `source` line of a loader (or of its data set): which copy of which data, as the data sets of
    `resnet_lib.data` name it; None if it has none."""
    for obj in (loader, getattr(loader, "data", None), getattr(loader, "dataset", None)):
        source = getattr(obj, "source", None)
        if isinstance(source, str):
            return source
    return None


def summary_line(r: dict, epochs: int) -> str:
    """One line for an epoch's record: its losses, accuracies, learning rate and speed."""
    line = (f"epoch {r['epoch']}/{epochs}  train loss {r['train_loss']:.4f} top-1 {100 * r['train_top1']:.2f}%")
    if "val_top1" in r:
        line += f"  val loss {r['val_loss']:.4f} top-1 {100 * r['val_top1']:.2f}%"
    return line + f"  lr {r['lr']:.3g}  {r['seconds']:.1f} s  {r['images_per_s']:.0f} img/s"


# ---------------------------------------------------------------------------------------------- evaluate

def _is_sharded(loader) -> bool:
    """Does each process see only its own part of this loader's data?"""
    sampler = getattr(loader, "sampler", None)
    return (getattr(loader, "world_size", 1) > 1
            or isinstance(sampler, torch.utils.data.distributed.DistributedSampler))


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
             flip: bool = False, channels_last: bool = False) -> dict:
    """Loss and top-k accuracy (fractions of 1) of `model` over `loader`, per-class accuracy and the
    confusion matrix (rows: true class, columns: predicted; int64).

    `top{k}` is reported for k < number of classes only (top-5 of 5 classes is always 1). `device`: where
    to run, None = where the model is. `ten_crop`: batches of shape (B, crops, C, H, W), scored by the
    softmax averaged over the crops (the paper's 10-crop testing). `flip`: each image (or crop) also scored
    mirrored left-right, the two softmaxes averaged (test-time augmentation). Under torch.distributed with a
    sharded loader, the counts are summed over the processes.
    """
    device = torch.device(device) if device is not None else next(model.parameters(), torch.empty(0)).device
    model.to(device)
    dtype = amp_dtype(amp, device)
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
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(x).float()
            mirrored = model(x.flip(-1)).float() if flip else None
        c = _check_classes(num_classes, logits, y)
        if ten_crop or flip:  # average probabilities, not logits: each view votes with its confidence
            p = logits.softmax(-1) if mirrored is None else (logits.softmax(-1) + mirrored.softmax(-1)) / 2
            log_p = p.view(b, -1, c).mean(1).clamp_min(1e-12).log()
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
    if distributed.initialized() and _is_sharded(loader):
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
