"""What the chapters print: Markdown tables, the book's names for networks, and the provenance of a run.

    from resnet_lib.show import show_table
    show_table(["network", "params (M)"], [["ResNet-20", "0.27"]])   # a table in the notebook's output
"""

from __future__ import annotations

__all__ = ["markdown_table", "show_table", "nowrap", "network_name", "duration", "data_copy"]

ALIGN = {"right": "--:", "center": ":-:"}


def markdown_table(header, rows, align: str = "right") -> str:
    """A GitHub-flavoured Markdown table: the first column left-aligned, the others right-aligned or centred."""
    lines = ["| " + " | ".join(header) + " |", "|:--|" + f"{ALIGN[align]}|" * (len(header) - 1)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def show_table(header, rows, align: str = "right") -> None:
    """Display `markdown_table(header, rows, align)` as a cell output (the book renders it as a table)."""
    from IPython.display import Markdown, display  # only in a notebook: the library does not need IPython

    display(Markdown(markdown_table(header, rows, align)))


def nowrap(label: str) -> str:
    """Non-breaking hyphens, so that a table keeps a label such as "ResNet-152" on one line."""
    return label.replace("-", "\u2011")


def network_name(model: str) -> str:
    """The book's name for a model name of `models.build`: cifar_resnet20 -> ResNet-20, cifar_plain56 ->
    plain-56, resnet50 -> ResNet-50, plain34 -> plain-34, vgg19 -> VGG-19."""
    for prefix, name in (("cifar_resnet", "ResNet-"), ("cifar_plain", "plain-"), ("resnet", "ResNet-"),
                         ("plain", "plain-"), ("vgg", "VGG-")):
        if model.startswith(prefix):
            return name + model[len(prefix):]
    return model


def duration(seconds: float) -> str:
    """Hours from two hours on, minutes from a minute on, seconds below: 42 -> "42 s", 95 -> "2 min",
    3600 -> "60 min", 27000 -> "7.5 h"."""
    if seconds >= 7200:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def data_copy(source: str) -> str:
    """Which copy of a data set a loader's `source` string names, in two words for a table."""
    if "JPEG" in source:
        return "JPEG copy"
    return "official" if "official" in source else source
