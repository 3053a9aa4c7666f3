"""fit with compile=True compiles one graph for a whole run: not again at each epoch, nor for evaluation, nor
for a last batch of another size. torch._dynamo compiles one forward at most 8 times a process
(config.recompile_limit) and then runs it uncompiled, so each compilation a run adds costs networks later."""

import functools

import pytest
import torch
from torch._dynamo.utils import counters

from resnet_lib import models
from resnet_lib.data import CifarLoader, load_cifar10
from resnet_lib.train import TrainConfig, fit


@pytest.fixture
def compilations(monkeypatch):
    """torch.compile with the "eager" backend: Dynamo traces, guards and recompiles as with inductor, in a
    second instead of a minute. Yields its counters, from zero."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    torch._dynamo.reset()
    counters.clear()
    yield counters
    torch._dynamo.reset()


def test_a_compiled_run_compiles_its_forward_once(compilations, data_dir):
    cifar = load_cifar10("train", root=data_dir)
    train = CifarLoader(cifar, 32, train=True, subset=96)   # 3 batches of 32 an epoch
    val = CifarLoader(cifar, 64, train=False, subset=96)    # a batch of 64, then one of 32
    config = TrainConfig(model="cifar_resnet8", epochs=3, lr=0.05, compile=True, progress=False, device="cpu")
    history = fit(models.build("cifar_resnet8"), train, val, config)
    assert [r["iteration"] for r in history] == [3, 6, 9] and all("val_top1" in r for r in history)
    assert (compilations["frames"]["ok"], compilations["stats"]["unique_graphs"]) == (1, 1)

    # Another network in the same process (its forward is the same function) adds one more.
    fit(models.build("cifar_plain8"), train, val, config)
    assert (compilations["frames"]["ok"], compilations["stats"]["unique_graphs"]) == (2, 2)
