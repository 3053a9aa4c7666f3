"""The first cell of every chapter installs resnet_lib in Colab. Test that cell for real: run its code as
Colab would (with `google.colab` imported), and install what it asks for from a clone of this repository."""

import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPO_URL = re.search(r"^\s*url:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M).group(1)


def first_cell(path):
    """The first code cell (after the title)."""
    return next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_starts_with_the_colab_install(path):
    cell = first_cell(path)
    assert cell.cell_type == "code" and f'"git+{REPO_URL}"' in cell.source
    assert nbformat.read(path, as_version=4).metadata.get("accelerator") == "GPU"


def test_every_mention_of_the_repository_is_the_one_in_config():
    # _config.yml's repository url is the book's address; the files that must quote it (the install cells,
    # which run before the library is there) agree with it. README.md says how a fork changes them all.
    name = REPO_URL.rstrip("/").rsplit("/", 1)[1]
    texts = {p: p.read_text() for pattern in ("README.md", "book/*.md", "resnet_lib/*.py", "notebooks/*.py")
             for p in ROOT.glob(pattern)}
    texts |= {p: "\n".join(c.source for c in nbformat.read(p, as_version=4).cells) for p in NOTEBOOKS}
    mentions = {p.relative_to(ROOT).as_posix(): set(re.findall(rf"https://github\.com/[\w.-]+/{re.escape(name)}\b", t))
                for p, t in texts.items()}
    assert {p: m for p, m in mentions.items() if m - {REPO_URL}} == {}
    assert all(REPO_URL in mentions[f"notebooks/{p.name}"] for p in NOTEBOOKS)


def run_as_colab(source):
    """Execute a cell's code with `google.colab` present, capturing the commands it runs."""
    commands = []
    fake_subprocess = types.SimpleNamespace(run=lambda cmd, check: commands.append(cmd))
    saved = {k: sys.modules.get(k) for k in ("google.colab", "subprocess")}
    sys.modules["google.colab"] = types.ModuleType("google.colab")
    sys.modules["subprocess"] = fake_subprocess
    try:
        exec(compile(source, "<colab cell>", "exec"), {})
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return commands


def test_the_install_cell_installs_an_importable_library(tmp_path):
    commands = run_as_colab(first_cell(NOTEBOOKS[0]).source)
    assert len(commands) == 1 and commands[0][1:4] == ["-m", "pip", "install"]
    assert run_as_colab("print('not in Colab')") == []
    # The same command, pointed at a clone of this repository instead of its public address.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    if not (clone / "resnet_lib" / "models.py").exists():
        pytest.skip("the repository has no commit with resnet_lib yet")
    command = [arg.replace(f"git+{REPO_URL}", f"git+file://{clone}") for arg in commands[0]]
    site = tmp_path / "site"
    # No build isolation and no dependencies: Colab has torch already; this checks the package itself.
    command += ["--no-deps", "--no-build-isolation", "--target", str(site)]
    subprocess.run(command, check=True, capture_output=True)
    probe = subprocess.run(
        [sys.executable, "-c", "import resnet_lib, sys; from resnet_lib import models, complexity;"
         "print(resnet_lib.__file__); print(complexity.count_params(models.cifar_resnet(20)))"],
        cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        check=True)
    module_file, params = probe.stdout.split()
    assert Path(module_file).is_relative_to(site) and params == "269722"
