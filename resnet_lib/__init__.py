"""resnet_lib: the models, cost accounting, data and training loop behind resnet-book.

The submodules load on first use (`resnet_lib.train`, `resnet_lib.data`, ...), so that importing the package
stays cheap. `python -m resnet_lib RECIPE` is the command line (`resnet_lib/__main__.py`).
"""

import importlib

__version__ = "0.1.0"
SUBMODULES = ("models", "complexity", "data", "train", "checkpoint", "distributed", "provenance", "plots", "runsize",
              "recipes", "transfer", "probes", "pretrain", "paper", "cli")
_SHORTCUTS = {"build": "models", "model_names": "models", "count_params": "complexity", "count_macs": "complexity",
              "profile": "complexity", "stage_table": "complexity"}
__all__ = [*SUBMODULES, *_SHORTCUTS, "__version__"]


def __getattr__(name):  # PEP 562: resnet_lib.train imports resnet_lib/train.py the first time it is asked for
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _SHORTCUTS:
        return getattr(importlib.import_module(f".{_SHORTCUTS[name]}", __name__), name)
    raise AttributeError(f"module 'resnet_lib' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
