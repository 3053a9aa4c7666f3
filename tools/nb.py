"""Write a chapter notebook from a list of cells: tools/nb.py is how the chapters' .ipynb files are made.

    from tools.nb import md, code, write
    write("notebooks/00_models_at_a_glance.ipynb", [md("# Title"), code("print(1)")])

Every chapter's first code cell is the same: the Colab install, right after the title.
Outputs come from executing the notebook afterwards (`make execute NB=...`), never from this file. When only the
prose changed (every code cell the same as in the notebook on disk), `write` keeps the stored outputs, which
are then still those of the code beside them; when any code changed, it drops them all.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

REPO_URL = re.search(r"^\s*url:\s*(\S+)", Path(__file__).resolve().parents[1].joinpath("_config.yml").read_text(),
                     re.M).group(1)

COLAB_INSTALL = f'''# In Colab, install resnet_lib from the book's repository (elsewhere `make book` or `pip install -e .` did).
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "git+{REPO_URL}"], check=True)'''


def md(text: str):
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(source: str, *tags: str):
    cell = nbformat.v4.new_code_cell(source.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def setup_cells():
    # Collapsed in the rendered book (it only matters in Colab), run first everywhere.
    return [code(COLAB_INSTALL, "hide-input")]


def write(path: str, cells: list) -> None:
    nb = nbformat.v4.new_notebook()
    # The title cell first, then the Colab install, then the chapter.
    nb.cells = cells[:1] + setup_cells() + cells[1:]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["accelerator"] = "GPU"  # Colab: ask for a GPU runtime
    if Path(path).is_file():
        old = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        new = [c for c in nb.cells if c.cell_type == "code"]
        if [c.source for c in old] == [c.source for c in new]:
            for before, now in zip(old, new):
                now.outputs, now.execution_count = before.outputs, before.execution_count
            print(f"{path}: only the prose changed, the stored outputs are kept")
        elif any(c.outputs for c in old):
            print(f"{path}: the code changed, outputs dropped: run `make execute NB={path}`")
    nbformat.write(nb, path)
