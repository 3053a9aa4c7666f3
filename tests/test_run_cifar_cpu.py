"""tools/run_cifar_cpu.py, the script behind the stored CIFAR-10 runs: --tune keeps the test set out of the
choice of hyper-parameters, --set changes a TrainConfig field, and the results file holds the test metrics
with and without flips."""

import json

import pytest
import torch

from resnet_lib.results import load_model
from tools import run_cifar_cpu


def test_a_tuning_run_trains_on_45k_validates_on_5k_and_records_what_it_changed(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_DATA", str(data_dir))
    results = tmp_path / "fast.json"
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # the script's --threads: not in this process
    run_cifar_cpu.main(["cifar10-resnet20-fast", "--tune", "--subset", "64", "--test-subset", "64", "--iterations", "2",
                        "--set", "batch_size=32", "--set", "lr=0.05", "--set", "amp='off'", "--set",
                        "schedule=cosine", "--threads", "2", "--out", str(tmp_path / "run"), "--results",
                        str(results)])
    run = json.loads(results.read_text())
    assert (run["config"]["lr"], run["config"]["schedule"], run["config"]["amp"]) == (0.05, "cosine", "off")
    assert (run["provenance"]["train_images"], run["provenance"]["val_images"]) == (64, 64)
    assert "val_top1" in run["history"][-1]  # the 5k split, validated
    assert (run["test"]["flip"], run["test_without_flips"]["flip"]) == (True, False)  # the recipe's way first
    assert run["test"]["count"] == run["test_without_flips"]["count"] == 64
    assert run["test"]["error_pct"] == pytest.approx(100 * (1 - run["test"]["top1"]))
    assert "--set lr=0.05" in run["provenance"]["command"]
    assert run["machines"] == [{"epochs": [1, 1], "hardware": run["provenance"]["hardware"]}]
    monkeypatch.setattr("resnet_lib.results.RESULTS", tmp_path)
    model = load_model("fast")
    assert sum(p.numel() for p in model.parameters()) == 269_722  # ResNet-20: the paper's 0.27M


@pytest.mark.parametrize("text, expected", [("lr=0.4", ("lr", 0.4)), ("nesterov=False", ("nesterov", False)),
                                            ("schedule=cosine", ("schedule", "cosine")),
                                            ("milestones=(10, 20)", ("milestones", (10, 20)))])
def test_settings_are_read_as_python_literals_or_text(text, expected):
    assert run_cifar_cpu.setting(text) == expected


def test_a_setting_without_a_value_is_one_clear_line(capsys):
    with pytest.raises(SystemExit):
        run_cifar_cpu.main(["cifar10-resnet20", "--set", "lr", "--out", "x"])
    assert "expected FIELD=VALUE (a TrainConfig field), got 'lr'" in capsys.readouterr().err


def test_machines_lists_the_hardware_of_each_part_of_a_run():
    meta = {"first_device": "A", "resumes": [{"epoch": 2, "device": "A"}, {"epoch": 4, "device": "B"},
                                             {"epoch": 4, "device": "B"}, {"epoch": 9, "device": None}]}
    assert run_cifar_cpu.machines(meta, 10) == [{"epochs": [1, 4], "hardware": "A"},
                                                {"epochs": [5, 9], "hardware": "B"},
                                                {"epochs": [10, 10], "hardware": None}]
    assert run_cifar_cpu.machines({"first_device": "A"}, 3) == [{"epochs": [1, 3], "hardware": "A"}]
