"""The book's figures: training curves, confusion matrices, grids of images. Each function returns a
matplotlib Figure (nothing is shown: a notebook displays the returned figure, a script saves it)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .train import History

__all__ = ["plot_history", "plot_confusion", "image_grid"]

# metric name -> (axis label, how to get it from a record with a "train_" or "val_" prefix)
_METRICS = {
    "loss": ("loss", lambda r, p: r.get(f"{p}loss")),
    "top1": ("top-1 accuracy (%)", lambda r, p: _pct(r.get(f"{p}top1"))),
    "top5": ("top-5 accuracy (%)", lambda r, p: _pct(r.get(f"{p}top5"))),
    "error": ("top-1 error (%)", lambda r, p: None if r.get(f"{p}top1") is None else 100 * (1 - r[f"{p}top1"])),
}
_SINGLE = {"lr": "learning rate", "images_per_s": "images / s", "seconds": "seconds per epoch"}


def _pct(v):
    return None if v is None else 100 * v


def _as_history(h) -> History:
    if isinstance(h, History):
        return h
    if isinstance(h, (str, Path)):
        return History.load(h)
    if isinstance(h, dict):
        return History.from_dict(h)
    if isinstance(h, list):  # a list of per-epoch records
        return History(records=h)
    raise TypeError(f"expected a History, a history.json path, or a list of epoch records, got {type(h).__name__}")


def plot_history(history_or_list, metrics: Sequence[str] = ("loss", "top1"), labels: Sequence[str] | None = None,
                 x: str = "epoch") -> Figure:
    """One panel per metric; for each run the training curve (dashed) and the validation curve (solid) in
    one colour. `history_or_list`: a History (or history.json path), or a list of them to overlay.
    `metrics`: "loss", "top1", "top5", "error" (top-1 error %, the paper's Figures 4 and 6), "lr",
    "images_per_s", "seconds". `x`: "epoch" or "iteration"."""
    if x not in ("epoch", "iteration"):
        raise ValueError(f"x must be 'epoch' or 'iteration', got {x!r}")
    unknown = [m for m in metrics if m not in _METRICS and m not in _SINGLE]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {', '.join([*_METRICS, *_SINGLE])}")
    runs = history_or_list if isinstance(history_or_list, (list, tuple)) and history_or_list \
        and not isinstance(history_or_list[0], dict) else [history_or_list]
    runs = [_as_history(h) for h in runs]
    if labels is None:
        labels = [h.meta.get("config", {}).get("model") or f"run {i + 1}" for i, h in enumerate(runs)]
    if len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for i, (h, label) in enumerate(zip(runs, labels)):
            color = f"C{i % 10}"
            if metric in _SINGLE:
                parts = [("", lambda r, p: r.get(metric), "-")]
            else:
                get = _METRICS[metric][1]
                parts = [("train ", lambda r, p="train_": get(r, p), "--"), ("val ", lambda r, p="val_": get(r, p), "-")]
            for prefix, value, style in parts:
                pts = [(r[x], v) for r in h.records if (v := value(r, None)) is not None]
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, style, color=color, label=f"{prefix}{label}".strip())
        ax.set_xlabel(x)
        ax.set_ylabel(_SINGLE.get(metric) or _METRICS[metric][0])
        if metric == "lr":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_confusion(matrix, classes: Sequence[str], normalize: bool = True) -> Figure:
    """The confusion matrix (rows: true class, columns: predicted), each row divided by its count when
    `normalize`; counts written in the cells for up to 15 classes."""
    m = torch.as_tensor(matrix).double().cpu()
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(classes):
        raise ValueError(f"expected a {len(classes)} x {len(classes)} matrix for {len(classes)} classes, "
                         f"got shape {tuple(m.shape)}")
    shown = m / m.sum(1, keepdim=True).clamp_min(1) if normalize else m
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.45 * n, 0.8 + 0.45 * n))
    im = ax.imshow(shown.numpy(), cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(n), classes, rotation=60, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 15:
        top = float(shown.max()) or 1.0
        for i in range(n):
            for j in range(n):
                v = float(shown[i, j])
                ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.6 * top else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def image_grid(images, titles: Sequence[str] | None = None, ncols: int = 8, mean=None, std=None) -> Figure:
    """A grid of images: uint8 (0-255) or float N x C x H x W; normalised floats are brought back with
    `mean` and `std` (per channel, e.g. data.CIFAR10_MEAN / CIFAR10_STD)."""
    x = torch.stack(list(images)) if isinstance(images, (list, tuple)) else torch.as_tensor(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape N x C x H x W with C = 1 or 3, got {tuple(x.shape)}")
    x = x.detach().cpu()
    if x.dtype == torch.uint8:
        x = x.float() / 255
    else:
        x = x.float()
        if mean is not None or std is not None:
            if mean is None or std is None:
                raise ValueError("give both mean and std to unnormalise, or neither")
            x = x * torch.tensor(std).view(1, -1, 1, 1) + torch.tensor(mean).view(1, -1, 1, 1)
    x = x.clamp(0, 1)
    if titles is not None and len(titles) != len(x):
        raise ValueError(f"{len(titles)} titles for {len(x)} images")
    ncols = max(1, min(ncols, len(x)))
    nrows = math.ceil(len(x) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.3 * nrows + (0.25 * nrows if titles else 0)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(x):
            img = x[k].permute(1, 2, 0).numpy()
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None,
                      vmin=0, vmax=1, interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=8)
    fig.tight_layout()
    return fig
