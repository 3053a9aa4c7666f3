"""The book's stored runs: `results/NAME.json` (history, test metrics, provenance) beside the notebooks.

    from resnet_lib.results import load_result
    run = load_result("cifar10-resnet20-paper")    # or "cifar10-resnet20-paper.json"
    run["provenance"]["hardware"], run["test"]["error_pct"]
    test_errors(run)                               # {False: single view, True: with flips}, in %
    model = load_model("cifar10-resnet20-paper")   # a trained network: results/NAME.pt into its model

In a clone of the repository the files are read from its results/ folder; in Colab, where the library is
installed without them, from the repository on GitHub.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import torch
from torch import nn

from .runsize import in_colab

__all__ = ["RESULTS", "REPOSITORY_URL", "load_result", "load_model", "test_errors"]

RESULTS = Path(__file__).resolve().parents[1] / "results"  # a clone's results/ folder
# The book's repository; _config.yml's `repository: url:` is the one to edit (a test checks they agree).
REPOSITORY_URL = "https://github.com/resnet-book/resnet-book"


def _raw_url(name: str) -> str:
    return REPOSITORY_URL.replace("https://github.com/", "https://raw.githubusercontent.com/") + \
        f"/main/results/{name}"


def _fetch(name: str) -> Path:
    """results/NAME from the repository online, cached beside the data (Colab only)."""
    from .data import cache_dir

    path = cache_dir() / "results" / name
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(_raw_url(name)) as f:
            path.write_bytes(f.read())
    return path


def load_result(name: str) -> dict:
    """A stored run by name, from the repository's results/ folder (in Colab, from the repository online)."""
    name = name if name.endswith(".json") else f"{name}.json"
    if (RESULTS / name).is_file():
        return json.loads((RESULTS / name).read_text())
    if in_colab():
        with urllib.request.urlopen(_raw_url(name)) as f:
            return json.load(f)
    raise FileNotFoundError(f"no {name} in {RESULTS}: the stored runs are in the repository's results/ folder "
                            f"(clone it, or open the chapter in Colab)")


def load_model(name: str) -> nn.Module:
    """The trained network of a stored run: the model its results file names (`model`, and the config's
    `model_kwargs`), with the weights of results/NAME.pt (a state dict, read with weights_only=True), in
    eval mode. No network is needed in a clone of the repository."""
    name = name.removesuffix(".json").removesuffix(".pt")
    run = load_result(name)
    weights = RESULTS / f"{name}.pt"
    if not weights.is_file():
        if not in_colab():
            raise FileNotFoundError(f"no {weights.name} in {RESULTS}: {name} was stored without weights")
        weights = _fetch(f"{name}.pt")
    from .models import build

    model = build(run["model"], **(run.get("config") or {}).get("model_kwargs", {}))
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def test_errors(run: dict) -> dict[bool, float]:
    """A stored run's test error in %, by whether each test image was averaged with its mirror image:
    {False: single view, True: with flips}. `test` is the recipe's own way; a run that measured the
    other way too keeps it as `test_with_flips` or `test_without_flips`."""
    views = [run[key] for key in ("test", "test_with_flips", "test_without_flips") if run.get(key)]
    return {view.get("flip", False): view["error_pct"] for view in views}
