"""Checkpoints: everything a run needs to continue exactly where it stopped, in files no crash leaves half written.

    save_checkpoint("runs/r20/last.pt", model, optimizer, scheduler, scaler, epoch=3, iteration=1053,
                    config=config, history=records)
    ckpt = load_checkpoint("runs/r20/last.pt")       # builds the model its config names
    load_weights(model, "runs/r20/best.pt")          # the weights alone (also from a bare state dict)

A checkpoint is one dict in one `torch.save` file: the state dicts of the model, the optimizer, the scheduler
and the gradient scaler; the epochs and iterations done; the state of every random generator; the run's
config (a dict) and history. Written in the middle of an epoch, it also says where (`mid_epoch`). It holds
only tensors, numbers, strings, lists and dicts, so that `torch.load(weights_only=True)` reads it: loading a
checkpoint runs no code from the file.

`atomic_write` writes every file of a run, and the decoded-data cache: into a temporary file beside the
target, flushed to the disk, then renamed over it. A reader, a crash or kill -9 finds the old file or the new
one, never part of one. A kill can leave the temporary file behind; `remove_temporaries` deletes such files.
"""

from __future__ import annotations

import glob
import os
import random
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import models

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "Checkpoint", "atomic_write", "remove_temporaries",
           "rng_state", "set_rng_state", "save_checkpoint", "read", "check_format", "check_fits", "restore",
           "load_checkpoint",
           "load_weights", "unwrap"]

CHECKPOINT_FORMAT = "resnet_lib.checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, or made for another model or optimizer."""


# ---------------------------------------------------------------------------------------------- files

def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call `write(f)` on a new binary file that then replaces `path` at once: the file is written as
    `.NAME.<random>.tmp` in the same folder, flushed and fsync'ed, and renamed over `path`. Like open(), it
    gets the permissions 0o666 less the umask (tempfile.mkstemp's 0o600 would hide it from the group)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)  # the rename itself survives a power cut only once the folder is on the disk
    return path


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":  # elsewhere a folder cannot be opened to be flushed
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_temporaries(folder: str | os.PathLike, names) -> list[Path]:
    """Delete the temporary files a killed `atomic_write` left in `folder` for the files `names` (e.g.
    "last.pt"); returns them. Only a writer that died leaves one: call this before writing there."""
    found = [p for name in names for p in Path(folder).glob(f".{glob.escape(name)}.*.tmp")]
    for p in found:
        p.unlink(missing_ok=True)
    return found


# ---------------------------------------------------------------------------------------------- random state

def rng_state() -> dict:
    """Every random generator a run draws from (torch's, CUDA's, Python's, numpy's), as tensors and numbers:
    what a weights-only load accepts."""
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


def set_rng_state(state: dict) -> None:
    """Put every generator back as `rng_state()` found it."""
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][:torch.cuda.device_count()])


# ---------------------------------------------------------------------------------------------- save

def unwrap(model: nn.Module) -> nn.Module:
    """The model itself, out of DistributedDataParallel and torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler=None, scaler=None, *, epoch: int = 0, iteration: int = 0, config=None,
                    history=None, meta: dict | None = None, mid_epoch: dict | None = None) -> Path:
    """Write everything needed to continue a run to `path`, atomically: the model, optimizer, scheduler and
    scaler, `epoch` (epochs completed), `iteration`, the random generators, `config` (a dict, or a TrainConfig),
    `history` (the epochs' records, or a History) and `meta`. `mid_epoch`, for a checkpoint inside an epoch:
    where in it the run is, as `fit` needs it to go on."""
    ckpt = {"format": CHECKPOINT_FORMAT, "model": unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
            "epoch": epoch, "iteration": iteration, "rng": rng_state(),
            "config": config.to_dict() if hasattr(config, "to_dict") else config,
            "history": list(getattr(history, "records", history) or []), "meta": dict(meta or {})}
    if mid_epoch is not None:
        ckpt["mid_epoch"] = mid_epoch
    return atomic_write(path, lambda f: torch.save(ckpt, f))


# ---------------------------------------------------------------------------------------------- load

def read(path: str | Path) -> dict:
    """The dict in a checkpoint or state-dict file, loaded with torch.load(weights_only=True); an error that
    says what is wrong with the file otherwise (CheckpointError)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: check the path (fit(..., out_dir=DIR) writes "
                                f"DIR/last.pt and DIR/best.pt)")
    try:
        with warnings.catch_warnings():  # torch warns about a plain pickle's protocol before refusing it
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from e
    except Exception as e:  # RuntimeError, EOFError, UnpicklingError, KeyError...: a damaged or foreign file
        blocked = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if blocked:  # a pickle of other Python objects: torch's advice to load it unsafely is not repeated
            raise CheckpointError(f"{path} holds a {blocked.group(1)} object, which a weights-only load does not "
                                  f"build: it is not a checkpoint or state dict of tensors") from e
        raise CheckpointError(f"{path} is not a checkpoint (truncated or corrupt, or not a torch file)") from e
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


def check_fits(model: nn.Module, ckpt: dict, path: str | Path) -> dict:
    """The model's state dict in `ckpt` (read from `path`), if it loads into `model` exactly; else
    CheckpointError naming the first key that differs."""
    path = Path(path)
    sd = _state_dict_of(ckpt, path)
    mine = unwrap(model).state_dict()
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
    return sd


def _check_optimizer_fits(optimizer: torch.optim.Optimizer, saved: dict, path: Path) -> None:
    have = [len(g["params"]) for g in optimizer.param_groups]
    saved_sizes = [len(g["params"]) for g in saved["param_groups"]]
    if have != saved_sizes:
        raise CheckpointError(f"{path}: its optimizer has parameter groups of sizes {saved_sizes}, this one "
                              f"{have}; resume with the config it was trained with (no_decay_bn_bias, "
                              f"backbone_lr_mult, frozen layers)")


def check_format(ckpt: dict, path: str | Path) -> None:
    """CheckpointError unless `ckpt` (read from `path`) is a checkpoint of ours, not a bare state dict."""
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a resnet_lib checkpoint (for a bare state dict use load_weights)")


@dataclass
class Checkpoint:
    """What `load_checkpoint` read: the model (loaded), the run's config as saved (a dict:
    `TrainConfig.from_dict(ckpt.config)`), the epochs and iterations done, the epochs' records (`history`)
    and the run's `meta`; `mid_epoch` where the run stood inside an epoch (None at an epoch's end);
    `state` the file's whole dict."""

    path: Path
    model: nn.Module
    config: dict | None
    epoch: int
    iteration: int
    history: list[dict]
    meta: dict
    mid_epoch: dict | None
    state: dict


def restore(ckpt: dict, path: str | Path, model: nn.Module | None = None, optimizer=None, scheduler=None,
            scaler=None, restore_rng: bool = False) -> Checkpoint:
    """Load the checkpoint `ckpt` (read from `path`) into `model` (built from its config if None) and into
    whichever of optimizer, scheduler and scaler are given, and the random generators if `restore_rng`.
    Everything is checked before anything is loaded: on an error nothing has changed."""
    path = Path(path)
    check_format(ckpt, path)
    config = ckpt.get("config") or None
    if model is None:
        if config is None or config.get("model") is None:
            raise CheckpointError(f"{path} does not name its model in its config; pass model=...")
        model = models.build(config["model"], **config.get("model_kwargs", {}))
    sd = check_fits(model, ckpt, path)
    if optimizer is not None and ckpt["optimizer"] is not None:
        _check_optimizer_fits(optimizer, ckpt["optimizer"], path)
    unwrap(model).load_state_dict(sd)
    if optimizer is not None and ckpt["optimizer"] is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt["scheduler"] is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if scaler is not None and ckpt["scaler"] is not None:
        scaler.load_state_dict(ckpt["scaler"])
    if restore_rng:
        set_rng_state(ckpt["rng"])
    return Checkpoint(path, model, config, ckpt["epoch"], ckpt["iteration"], list(ckpt["history"]),
                      dict(ckpt.get("meta") or {}), ckpt.get("mid_epoch"), ckpt)


def load_checkpoint(path: str | Path, model: nn.Module | None = None, optimizer=None, scheduler=None,
                    scaler=None, restore_rng: bool = False) -> Checkpoint:
    """Load a checkpoint written by `save_checkpoint` / `fit` into `model` (built from the checkpoint's
    config if None) and into whichever of optimizer, scheduler and scaler are given.

    Everything is checked before anything is loaded: on an error nothing has been changed.
    """
    return restore(read(path), path, model, optimizer, scheduler, scaler, restore_rng)


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load only the model's weights from a checkpoint of ours or a bare state dict; returns the model."""
    unwrap(model).load_state_dict(check_fits(model, read(path), path))
    return model
