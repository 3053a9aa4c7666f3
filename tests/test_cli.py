"""`resnet-train` / `python -m resnet_lib`: lists the recipes, trains one on real data (history.json,
checkpoints, the final test numbers), resumes, and answers mistakes with one line and exit status 2."""

import json
import subprocess
import sys

import pytest

from resnet_lib.cli import main
from resnet_lib.recipes import get_recipe, recipe_names


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_list(capsys):
    code, out, err = run(capsys, "--list")
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == recipe_names()
    assert max(map(len, lines)) <= 80  # not a terminal: argparse's default width, 80 columns
    indent = " " * (len("cifar10-resnet20-fast") + 2)  # the longest name, then two spaces
    first, second = lines[:2]  # the first summary, wrapped under itself
    assert first.startswith("cifar10-resnet20       ResNet-20 on CIFAR-10") and second.startswith(indent + "1")
    assert " ".join([first[len(indent):], second.strip()]) == get_recipe("cifar10-resnet20").summary


@pytest.mark.parametrize("argv, message", [
    ([], "give a recipe name; resnet-train --list shows them"),
    (["cifar10-resnet8"], "unknown recipe 'cifar10-resnet8'; valid recipes: " + ", ".join(recipe_names())),
    (["cifar10-resnet20", "--epochs", "0"], "argument --epochs: expected a positive int, got '0' "
                                            "(see resnet-train --help)"),
    (["cifar10-resnet20", "--lr", "fast"], "argument --lr: expected a positive float, got 'fast' "
                                           "(see resnet-train --help)"),
    (["cifar10-resnet20", "--epochs", "1", "--iterations", "1"], "give --epochs or --iterations, not both"),
    (["cifar10-resnet20", "--data", "no/such/folder"], "--data no/such/folder: no such folder"),
    (["cifar10-resnet20", "--resume", "no/such/last.pt"], "--resume no/such/last.pt: no such file"),
])
def test_mistakes_are_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", f"resnet-train: error: {message}\n")


def test_a_bad_choice(capsys):
    code, out, err = run(capsys, "cifar10-resnet20", "--amp", "fp8")  # argparse's words, which vary a little
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("resnet-train: error: argument --amp: invalid choice: 'fp8' (choose from ")


def test_missing_data(capsys, tmp_path):
    code, out, err = run(capsys, "cifar10-resnet20", "--data", tmp_path, "--out", tmp_path / "run")
    assert code == 2 and err == (f"resnet-train: error: no CIFAR-10 in {tmp_path}: pass --download, or set "
                                 f"RESNET_DATA to a folder holding cifar-10-batches-py/ or cifar10-jpeg.tar.gz\n")
    assert not (tmp_path / "run").exists()


def test_download_with_no_network_is_one_line(capsys, tmp_path, monkeypatch):
    import socket
    import urllib.error
    import urllib.request

    def fail(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
    monkeypatch.setattr(urllib.request, "urlopen", fail)  # no network
    code, out, err = run(capsys, "imagenette-resnet18", "--download", "--data", tmp_path, "--out", tmp_path / "run")
    assert (code, out) == (2, "") and err == (
        f"resnet-train: error: could not download Imagenette from "
        f"https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz ([Errno -2] Name or service not known): "
        f"put imagenette2-160/{{train,val}}/<wnid>/ in {tmp_path} yourself, or set RESNET_DATA to a folder holding "
        f"it\n")


def test_a_tiny_real_run_then_resume(capsys, data_dir, tmp_path):
    out_dir = tmp_path / "run"
    args = ["cifar10-resnet20", "--data", data_dir, "--subset", "64", "--batch-size", "32", "--out", out_dir]
    code, out, err = run(capsys, *args, "--iterations", "4")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[5:7] == [
        "training  4 iterations (2 per epoch, 2 epochs) of batch 32; SGD lr 0.1, momentum 0.9, weight decay",
        "          0.0001; lr x0.1 at iterations 2, 3"]
    assert "images    train 64, val 64, test 64 (--subset 64)" in lines
    assert lines[-1] == f"wrote     {out_dir / 'history.json'}, {out_dir / 'last.pt'}, {out_dir / 'best.pt'}"
    saved = json.loads((out_dir / "history.json").read_text())
    meta, records = saved["meta"], saved["records"]
    assert (meta["config"]["model"], meta["config"]["iterations"], meta["config"]["batch_size"],
            meta["config"]["milestones"]) == ("cifar_resnet20", 4, 32, [2, 3])
    assert [r["iteration"] for r in records] == [2, 4]
    assert [r["lr"] for r in records] == pytest.approx([0.1, 0.001])  # the last iteration of each epoch
    test = meta["test"]
    assert (test["split"], test["count"]) == ("test", 64) and test["top1"] * 64 == round(test["top1"] * 64)
    assert f"final     test loss {test['loss']:.4f} top-1 {100 * test['top1']:.2f}%" in out
    assert f"final     val loss {records[-1]['val_loss']:.4f}" in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["best.pt", "history.json", "last.pt"]

    code, _, err = run(capsys, *args, "--iterations", "4")  # a second run would overwrite the first
    assert code == 2 and err == (f"resnet-train: error: {out_dir} already holds a run (last.pt): continue it with "
                                 f"--resume {out_dir / 'last.pt'}, or choose another --out\n")

    code, out, err = run(capsys, *args, "--iterations", "6", "--resume", out_dir / "last.pt")
    assert code == 0
    assert err == (f"resnet-train: warning: resuming {out_dir / 'last.pt'} with a config that differs in "
                   f"milestones\n")  # 3 and 4 of 6 now
    resumed = json.loads((out_dir / "history.json").read_text())
    assert [r["iteration"] for r in resumed["records"]] == [2, 4, 6]
    assert resumed["records"][:2] == records
    assert resumed["meta"]["resumed_from"] == {"file": "last.pt", "epoch": 2}


def test_a_recipe_without_validation_tests_with_flips(capsys, data_dir, tmp_path):
    out_dir = tmp_path / "fast"
    code, out, err = run(capsys, "cifar10-resnet20-fast", "--data", data_dir, "--subset", "64", "--batch-size",
                         "32", "--iterations", "2", "--amp", "off", "--out", out_dir)
    assert (code, err) == (0, "")
    assert "images    train+val 64, test 64 (--subset 64)" in out.splitlines()
    test = json.loads((out_dir / "history.json").read_text())["meta"]["test"]
    assert (test["split"], test["flip"], test["count"]) == ("test", True, 64)
    assert f"final     test (with flips) loss {test['loss']:.4f} top-1 {100 * test['top1']:.2f}%" in out
    assert "final     val" not in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["history.json", "last.pt"]  # no val, no best.pt


def test_unreadable_checkpoint(capsys, data_dir, tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"PK\x03\x04 half a file")
    code, out, err = run(capsys, "cifar10-resnet20", "--data", data_dir, "--subset", "64", "--batch-size", "32",
                         "--resume", bad, "--out", tmp_path)
    assert (code, err) == (2, f"resnet-train: error: {bad} is not a checkpoint (truncated or corrupt, or not a "
                              f"torch file)\n")


def test_python_dash_m(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "resnet_lib", "--list"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert listed.returncode == 0 and listed.stderr == ""
    assert [line.split()[0] for line in listed.stdout.splitlines() if not line.startswith(" ")] == recipe_names()
