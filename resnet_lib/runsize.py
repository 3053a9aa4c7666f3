"""Run sizes: every chapter runs at one of three sizes and says which.

* ``smoke``: seconds; what CI and ``pytest --nbval`` run.
* ``cpu``:   minutes on a laptop CPU; real models on real data, few epochs.
* ``gpu``:   the full recipe of the paper.

The size comes from the environment variable ``RESNET_RUN_SIZE`` if it is set, else from the hardware
(a CUDA or Apple GPU gives ``gpu``, anything else ``cpu``).
"""

from __future__ import annotations

import os

import torch

RUN_SIZES = ("smoke", "cpu", "gpu")
ENV_VAR = "RESNET_RUN_SIZE"


def run_size(default: str | None = None) -> str:
    """The run size for this process: $RESNET_RUN_SIZE, else `default`, else from the hardware."""
    size = os.environ.get(ENV_VAR, "").strip().lower() or default
    if size is None:
        size = "cpu" if pick_device().type == "cpu" else "gpu"
    if size not in RUN_SIZES:
        raise ValueError(f"{ENV_VAR} must be one of {', '.join(RUN_SIZES)}, got {size!r}")
    return size


def pick(size: str, **choices):
    """`pick(size, smoke=1, cpu=5, gpu=180)`: the value for this run size."""
    if size not in choices:
        raise KeyError(f"no value given for run size {size!r} (have {', '.join(choices)})")
    return choices[size]


def _mps_available() -> bool:
    return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()


def pick_device(preferred: str | torch.device | None = None) -> torch.device:
    """`preferred` if it is usable, else (None) the best there is: cuda, then mps, then cpu."""
    if preferred is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    device = torch.device(preferred)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {str(device)!r} asked for, but this torch sees no CUDA GPU; use device='cpu'")
    if device.type == "mps" and not _mps_available():
        raise RuntimeError("device 'mps' asked for, but no Apple GPU is available; use device='cpu'")
    return device


def hardware(device: str | torch.device | None = None) -> str:
    """What `device` (default: the best there is, see `pick_device`) is, in words: the GPUs, or the CPU and
    the threads torch uses."""
    kind = pick_device(device).type
    if kind == "cuda":
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    if kind == "mps":
        return "Apple GPU (mps)"
    threads = torch.get_num_threads()
    return f"CPU ({cpu_name()}), {threads} thread{'s' if threads > 1 else ''}"


def describe(size: str) -> str:
    """Two lines for a chapter to print: the run size, and the hardware and torch it runs on (two short lines
    fit the book's column where one long one wraps)."""
    return (f"run size: {size} (set {ENV_VAR}=smoke|cpu|gpu to change)\n"
            f"hardware: {hardware()}; torch {torch.__version__}")


def cpu_name() -> str:
    """The processor's model name where the system tells it (Linux), else what `platform` knows."""
    import platform
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def cpu_flags(names, cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """Which of the instruction-set `names` (as Linux spells them, e.g. "avx512_bf16", "amx_bf16") the
    processor reports; none where the system does not say (not Linux)."""
    try:
        with open(cpuinfo) as f:
            flags = next(line.split(":", 1)[1].split() for line in f if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    return [name for name in names if name in flags]


def in_colab() -> bool:
    """True inside Google Colab."""
    import sys
    return "google.colab" in sys.modules


def download_for(size: str) -> bool:
    """Whether a chapter at run size `size` downloads the data sets and weights it does not find: at the cpu
    and gpu sizes, and anywhere in Colab. At the smoke size the library reads its own sample instead."""
    if size not in RUN_SIZES:
        raise ValueError(f"size must be one of {', '.join(RUN_SIZES)}, got {size!r}")
    return size != "smoke" or in_colab()
