"""The chapters' printing helpers, the stored-results loader and the training-step ceiling."""

import json
import re
from pathlib import Path

import pytest
import torch

from resnet_lib import models, results
from resnet_lib.show import data_copy, duration, markdown_table, network_name, nowrap
from resnet_lib.speed import TrainingStep

ROOT = Path(__file__).resolve().parents[1]


def test_markdown_table_aligns_the_first_column_left():
    assert markdown_table(["net", "params"], [["ResNet-20", 269_722]]) == (
        "| net | params |\n|:--|--:|\n| ResNet-20 | 269722 |")
    assert markdown_table(["a", "b", "c"], [], align="center") == "| a | b | c |\n|:--|:-:|:-:|"


def test_names_durations_and_data_copies():
    assert [network_name(n) for n in ("cifar_resnet110", "cifar_plain20", "resnet152", "plain34", "vgg16")] == [
        "ResNet-110", "plain-20", "ResNet-152", "plain-34", "VGG-16"]
    assert nowrap("ResNet-50") == "ResNet\u201150"
    assert (duration(42), duration(95), duration(3600)) == ("42 s", "2 min", "60 min")
    assert (duration(7199), duration(7200), duration(27_000)) == ("120 min", "2.0 h", "7.5 h")
    assert data_copy("CIFAR-10, JPEG copy (cifar10-jpeg): ...") == "JPEG copy"
    assert data_copy("CIFAR-10, official release") == "official"


def test_stored_results_load_by_name():
    run = results.load_result("cifar10-resnet20-paper")
    assert run["recipe"] == "cifar10-resnet20" and run["test"]["count"] == 10_000
    assert run["iterations"] == 64_000 and run["config"]["milestones"] == [32_000, 48_000]
    assert {flip: f"{e:.2f}" for flip, e in results.test_errors(run).items()} == {False: "12.65", True: "10.93"}
    fast = results.test_errors(results.load_result("cifar10-resnet20-fast"))  # flips are its own way
    assert {flip: f"{e:.2f}" for flip, e in fast.items()} == {True: "10.98", False: "12.01"}
    with pytest.raises(FileNotFoundError, match="no nothing-here.json in"):
        results.load_result("nothing-here")


def test_every_stored_network_loads_by_name():
    """The model zoo: each results/NAME.json that names weights has them, and load_model builds its network
    with them (weights_only); its provenance says where and how it was trained."""
    stored = [path.stem for path in results.RESULTS.glob("*.json") if "weights" in json.loads(path.read_text())]
    assert {"cifar10-resnet20-paper", "cifar10-resnet20-fast", "fig6-cifar10-resnet56"} <= set(stored)
    for name in stored:
        run = results.load_result(name)
        model = results.load_model(name)
        assert not model.training and run["test"]["count"] == 10_000
        assert {"hardware", "torch", "git_commit", "command", "data"} <= set(run["provenance"])


def test_the_repository_url_is_the_one_in_config():
    config_url = re.search(r"^\s*url:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M).group(1)
    assert results.REPOSITORY_URL == config_url


def test_training_step_trains_and_counts_images():
    torch.manual_seed(0)
    model = models.build("cifar_resnet20")
    before = model.fc.weight.detach().clone()
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    step = TrainingStep(model, [(x, y), (x[:2], y[:2])], channels_last=True)
    assert step.run(3) > 0 and step.steps_done == 3
    assert not torch.equal(model.fc.weight, before)
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_a_stored_network_loads_by_name(tmp_path, monkeypatch):
    torch.manual_seed(0)
    trained = models.build("cifar_resnet20")
    torch.save(trained.state_dict(), tmp_path / "tiny-run.pt")
    (tmp_path / "tiny-run.json").write_text('{"model": "cifar_resnet20", "config": {"model_kwargs": {}}}')
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    model = results.load_model("tiny-run")
    assert not model.training
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), trained.state_dict().values()))
    (tmp_path / "no-weights.json").write_text('{"model": "cifar_resnet20"}')
    with pytest.raises(FileNotFoundError, match="no no-weights.pt in .*stored without weights"):
        results.load_model("no-weights")
