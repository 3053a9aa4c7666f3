"""The book's figures: training curves, confusion matrices, grids of images. Each function returns a
matplotlib Figure, made without pyplot: nothing is shown twice or kept open; a notebook displays the
returned figure, a script saves it with `fig.savefig(...)`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .train import History

__all__ = ["plot_history", "plot_error_curves", "plot_confusion", "image_grid"]

_LABELS = {"loss": "loss", "top1": "top-1 accuracy (%)", "top5": "top-5 accuracy (%)",
           "error": "top-1 error (%)", "lr": "learning rate", "images_per_s": "images / s",
           "seconds": "seconds per epoch"}
_PER_EPOCH = ("lr", "images_per_s", "seconds")  # one curve per run (no train / val pair)


def _value(record: dict, metric: str, split: str | None):
    """`metric` of `record`, for split "train" or "val"; accuracies in %; None where the record has none."""
    if metric in _PER_EPOCH:
        return record.get(metric)
    v = record.get(f"{split}_{'top1' if metric == 'error' else metric}")
    if v is None or metric == "loss":
        return v
    return 100 * (1 - v) if metric == "error" else 100 * v


_X = {"epoch": "epoch", "iteration": "iteration", "hours": "hours of training"}  # x-axis choices, their labels


def _check_x(x: str) -> None:
    if x not in _X:
        raise ValueError(f"x must be one of {', '.join(map(repr, _X))}, got {x!r}")


def _thousands(value: float, _position=None) -> str:
    """An iteration tick: 16000 as "16k", so that the labels of a narrow panel do not run together."""
    return f"{value / 1000:g}k" if abs(value) >= 1000 else f"{value:g}"


def _set_x_axis(ax, x: str) -> None:
    """The x label, and whole-number ticks for epochs and iterations (no tick at 2.5)."""
    ax.set_xlabel(_X[x])
    if x != "hours":
        ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))
    if x == "iteration":
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))


def _points(records: Sequence[dict], metric: str, split: str | None, x: str) -> list[tuple[float, float]]:
    """(x, value) for each record that has `metric` for `split`. x "hours": the training time up to the end of
    that epoch, its own seconds and its evaluations' summed, so that runs of different speeds line up."""
    _check_x(x)
    pts, seconds = [], 0.0
    for r in records:
        seconds += r.get("seconds", 0.0) + r.get("eval_seconds", 0.0)
        if (v := _value(r, metric, split)) is not None:
            pts.append((seconds / 3600 if x == "hours" else r[x], v))
    return pts


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


def _runs(obj) -> list[History]:
    """One run (a History, a path, a list of records) or several (a list of those)."""
    if isinstance(obj, (list, tuple)) and obj and not all(isinstance(r, dict) and "epoch" in r for r in obj):
        return [_as_history(h) for h in obj]
    return [_as_history(obj)]


def plot_history(history_or_list, metrics: Sequence[str] = ("loss", "top1"), labels: Sequence[str] | None = None,
                 x: str = "epoch", legend: str = "inside", val_name: str = "val") -> Figure:
    """One panel per metric; for each run the training curve (dashed) and the validation curve (solid) in
    one colour. `history_or_list`: a History (or history.json path), or a list of them to overlay.
    `metrics`: "loss", "top1", "top5", "error" (top-1 error %, the paper's Figures 4 and 6), "lr",
    "images_per_s", "seconds" ("lr" drawn as steps). `x`: "epoch", "iteration" or "hours" (of training,
    to compare runs of different speeds). Only curves with points
    are drawn and named in the legend; a curve of one point (a run evaluated once, after its last epoch) is
    drawn as a dot.
    `legend`: "inside" (one in each panel) or "outside" (one for the figure, right of the panels, for many
    runs). `val_name`: how the legend names the evaluation split ("test" where it is the test set)."""
    _check_x(x)
    if legend not in ("inside", "outside"):
        raise ValueError(f"legend must be 'inside' or 'outside', got {legend!r}")
    unknown = [m for m in metrics if m not in _LABELS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {', '.join(_LABELS)}")
    runs = _runs(history_or_list)
    if labels is None:
        labels = [h.meta.get("config", {}).get("model") or f"run {i + 1}" for i, h in enumerate(runs)]
    if len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs")
    fig = Figure(figsize=(4.5 * len(metrics), 3.4), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)
    named = {}  # legend label -> handle, over all panels, for legend="outside"
    for ax, metric in zip(axes[0], metrics):
        for i, (h, label) in enumerate(zip(runs, labels)):
            curves = [(None, "-", label)] if metric in _PER_EPOCH else [("train", "--", f"train {label}"),
                                                                        ("val", "-", f"{val_name} {label}")]
            for split, style, name in curves:
                pts = _points(h.records, metric, split, x)
                if pts:
                    xs, ys = zip(*pts)
                    # the learning rate holds through each epoch: steps ending at the epoch's point
                    line, = ax.plot(xs, ys, style, color=f"C{i % 10}", label=name,
                                    marker="o" if len(pts) == 1 else None,
                                    drawstyle="steps-pre" if metric == "lr" else "default")
                    named.setdefault(name, line)
        _set_x_axis(ax, x)
        ax.set_ylabel(_LABELS[metric])
        if metric == "lr":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if legend == "inside" and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    if legend == "outside" and named:
        fig.legend(list(named.values()), list(named), loc="outside right upper", fontsize="small")
    return fig


def plot_error_curves(panels: dict[str, dict[str, object]], x: str = "iteration") -> Figure:
    """The layout of the paper's Figures 4 and 6: one panel per group of runs, e.g. {"plain networks":
    {"plain-20": h20, "plain-56": h56}, "ResNets": {...}}, and in it each run's top-1 training error dashed
    and its validation error bold ("Dashed lines denote training error, and bold lines denote testing
    error"), in percent, one colour a run. A run is a History, a history.json path or a list of records.
    `x`: "iteration" (the paper's), "epoch" or "hours"."""
    _check_x(x)
    fig = Figure(figsize=(5.5 * len(panels), 4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, (title, runs) in zip(axes, panels.items()):
        for i, (label, run) in enumerate(runs.items()):
            records = _as_history(run).records
            for split, style, width in (("train", "--", 1.0), ("val", "-", 2.2)):
                pts = _points(records, "error", split, x)
                if pts:
                    ax.plot(*zip(*pts), style, lw=width, color=f"C{i % 10}",
                            label=f"{label}, {'training' if split == 'train' else 'validation'}")
        ax.set_title(title)
        _set_x_axis(ax, x)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    axes[0].set_ylabel(_LABELS["error"])
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
    fig = Figure(figsize=(1.0 + 0.45 * n, 0.8 + 0.45 * n), layout="constrained")
    ax = fig.subplots()
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
    fig = Figure(figsize=(1.3 * ncols, 1.3 * nrows + (0.25 * nrows if titles else 0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(x):
            img = x[k].permute(1, 2, 0).numpy()
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None,
                      vmin=0, vmax=1, interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=8)
    return fig
