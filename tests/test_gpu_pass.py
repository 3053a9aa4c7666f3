"""benchmarks/gpu_pass.py --dry-run: every item of the GPU pass for a few iterations on the CPU, writing the
files the pass writes on a GPU, so that the command waiting for a GPU cannot rot."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from resnet_lib import models

REPO = Path(__file__).resolve().parent.parent
RUNS = ["cifar10-resnet20", "cifar10-resnet56", "cifar10-plain20", "cifar10-plain56", "cifar10-resnet32",
        "cifar10-resnet44", "cifar10-resnet110"]


def gpu_pass(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "benchmarks/gpu_pass.py", "--dry-run", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def out(data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gpu-pass")
    gpu_pass("--out", str(out), "--data", str(data_dir))
    return out


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_every_item_is_done_in_priority_order_and_written(out):
    report = read(out / "pass.json")
    assert [(item["item"], item["status"]) for item in report["items"]] == [
        ("bench cifar_resnet20", "done"), ("bench cifar_resnet56", "done"), ("bench resnet50", "done"),
        *((f"run {name}", "done") for name in RUNS), ("chapter 00_models_at_a_glance", "done")]
    assert report["dry_run"] is True and report["runs_at_once"] == 2
    assert report["provenance"]["command"].startswith("python benchmarks/gpu_pass.py --dry-run --out ")
    assert {"hardware", "torch", "git_commit", "date"} <= set(report["provenance"])
    assert sorted(p.name for p in out.iterdir()) == sorted(["pass.json", "benchmark.json", "chapters.json", "runs",
                                                            *(f"{n}.json" for n in RUNS), *(f"{n}.pt" for n in RUNS)])


def test_the_benchmark_table_gives_each_model_its_ratio_to_the_ceiling(out):
    bench = read(out / "benchmark.json")
    assert [(r["model"], r["image_size"], r["batch_size"]) for r in bench["rows"]] == [
        ("cifar_resnet20", 32, 32), ("cifar_resnet56", 32, 32), ("resnet50", 224, 1)]
    for r in bench["rows"]:
        assert r["b_over_c"] == r["b"] / r["c"] and [len(v) for v in r["rounds"].values()] == [1, 1, 1]
        assert bench["b_over_c"][f"{r['model']}, {r['library']}"] == round(r["b_over_c"], 3)
    assert {"hardware", "torch", "git_commit", "command", "date"} <= set(bench)


def test_each_run_keeps_its_history_test_error_and_weights(out):
    for name in RUNS:
        run = read(out / f"{name}.json")
        assert (run["recipe"], run["run_size"], run["iterations"], run["epochs"]) == (name, "dry-run", 2, 1)
        assert [r["iteration"] for r in run["history"]] == [2] and "val_top1" in run["history"][0]
        assert (run["test"]["split"], run["test"]["count"]) == ("test", 100)
        assert run["test"]["error_pct"] == pytest.approx(100 * (1 - run["test"]["top1"]))
        assert (run["provenance"]["train_images"], run["provenance"]["val_images"]) == (256, 256)
        assert {"hardware", "torch", "git_commit", "command", "date", "wall_seconds"} <= set(run["provenance"])
        model = models.build(run["model"])
        model.load_state_dict(torch.load(out / run["weights"], weights_only=True))  # strict: every key fits
        assert (out / "runs" / name / "last.pt").is_file()  # a pass cut short continues from these


def test_the_chapter_is_timed(out):
    timed = read(out / "chapters.json")["chapters"]
    assert [(c["chapter"], c["run_size"], c["status"]) for c in timed] == [("00_models_at_a_glance", "smoke", "done")]
    assert timed[0]["wall_seconds"] > 0


def test_what_does_not_fit_the_budget_is_skipped_and_says_so(data_dir, tmp_path):
    gpu_pass("--out", str(tmp_path), "--data", str(data_dir), "--budget", "1")
    items = read(tmp_path / "pass.json")["items"]
    assert [item["item"] for item in items] == [
        "bench cifar_resnet20", "bench cifar_resnet56", "bench resnet50", *(f"run {n}" for n in RUNS),
        "chapter 00_models_at_a_glance"]
    assert {item["status"] for item in items} == {"skipped: does not fit"}
    assert all(item["estimate_s"] > item["left_s"] for item in items)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pass.json"]
