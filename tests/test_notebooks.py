"""The chapters' sources: every notebook has its py:percent pair (jupytext.toml) with the same cells, its
test markers are cell tags, and it imports the library's helpers instead of retyping them."""

import ast
import inspect
import pkgutil
from pathlib import Path

import jupytext
import nbformat
import pytest

import resnet_lib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def cells(nb):
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]


def test_there_are_eight_chapters():
    assert [p.name[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_text_pair_has_the_same_cells(path):
    pair = path.with_suffix(".py")
    assert pair.is_file(), f"{pair.name} is missing: run `jupytext --sync {path.relative_to(ROOT)}`"
    mismatch = [i for i, (a, b) in enumerate(zip(cells(nbformat.read(path, as_version=4)),
                                                 cells(jupytext.read(pair)))) if a != b]
    assert len(nbformat.read(path, as_version=4).cells) == len(jupytext.read(pair).cells) and not mismatch, (
        f"{path.name} and {pair.name} differ (first at cell {mismatch[:1]}): run "
        f"`jupytext --sync notebooks/{path.name}`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_test_markers_are_tags_not_comments(path):
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert not [s for s in code if "NBVAL_" in s or "# nbval" in s.lower()]


def library_functions() -> set[str]:
    """Public functions and classes defined in resnet_lib's modules."""
    names = set()
    for info in pkgutil.iter_modules(resnet_lib.__path__):
        module = __import__(f"resnet_lib.{info.name}", fromlist=["_"])
        names |= {n for n, obj in vars(module).items() if not n.startswith("_")
                  and (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__}
    return names


# Code the chapters once retyped, now in the library (where it lives now).
RETYPED = {'with torch.device("meta")': "complexity.on_meta", '"|:--|"': "show.show_table",
           "torch.cuda.synchronize()": "speed.TrainingStep / train.Stopwatch",
           "argmax(1) for x": "train.predict", "urllib.request.urlopen": "results.load_result"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapters_import_the_library_instead_of_retyping_it(path):
    script = path.with_suffix(".py").read_text()  # py:percent: magics are comments, the prose too
    defined = {node.name for node in ast.walk(ast.parse(script)) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert not defined & library_functions(), f"{path.name} redefines {sorted(defined & library_functions())}"
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert not [f"{snippet} (use {where})" for snippet, where in RETYPED.items() if snippet in code]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_chapter_is_left_with_a_placeholder(path):
    text = path.with_suffix(".py").read_text()
    assert not [word for word in ("FIXME", "TODO", "XXX") if word in text]
