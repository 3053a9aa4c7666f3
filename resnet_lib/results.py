"""The book's stored runs: `results/NAME.json` (history, test metrics, provenance) beside the notebooks.

    from resnet_lib.results import load_result
    run = load_result("cifar10-resnet20-cpu")      # or "cifar10-resnet20-cpu.json"
    run["provenance"]["hardware"], run["test"]["error_pct"]

In a clone of the repository the files are read from its results/ folder; in Colab, where the library is
installed without them, from the repository on GitHub.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from .runsize import in_colab

__all__ = ["RESULTS", "REPOSITORY_URL", "load_result"]

RESULTS = Path(__file__).resolve().parents[1] / "results"  # a clone's results/ folder
# The book's repository; _config.yml's `repository: url:` is the one to edit (a test checks they agree).
REPOSITORY_URL = "https://github.com/resnet-book/resnet-book"


def _raw_url(name: str) -> str:
    return REPOSITORY_URL.replace("https://github.com/", "https://raw.githubusercontent.com/") + \
        f"/main/results/{name}"


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
