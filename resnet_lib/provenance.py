"""Where a stored result came from: the machine, the software, the commit of the code, the command, the date.

    result["provenance"] = provenance(ROOT, command_line(__file__, sys.argv[1:], ROOT))

The recorded runs (tools/) and the benchmark (benchmarks/) store this with every result; `fit` writes the same
machine description (`runsize.hardware`) and timestamps into every history.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess

import torch

from .runsize import hardware

__all__ = ["timestamp", "git_commit", "command_line", "provenance"]


def timestamp() -> str:
    """Now, in UTC, to the second: '2026-12-01T04:02:11+00:00'."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def git_commit(repo: str | os.PathLike) -> str | None:
    """The commit checked out in `repo`, with " (with uncommitted changes)" when tracked files differ from it;
    None where git or the repository is not there."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if commit.returncode:
        return None
    return commit.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def command_line(script: str | os.PathLike, argv: list[str], repo: str | os.PathLike) -> str:
    """How `script` was run with `argv`, from the root of `repo`: 'python tools/run_cifar_cpu.py ... --epochs 8'."""
    return shlex.join(["python", os.path.relpath(script, repo), *argv])


def provenance(repo: str | os.PathLike, command: str, device: str | torch.device | None = None) -> dict:
    """The hardware (`device`, default the best there is), torch and Python versions, the git commit of
    `repo`, the `command` and the date (now, UTC) of a result."""
    return {"hardware": hardware(device), "torch": str(torch.__version__), "python": platform.python_version(),
            "git_commit": git_commit(repo), "command": command, "date": timestamp()}
