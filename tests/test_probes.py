"""resnet_lib.probes: the deep plain perceptrons and the gradient measurements of chapters 1 and 2."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_lib.models import build
from resnet_lib.probes import (gradient_norms, input_gradient_norms, plain_stack, spread, weighted_layers)


def batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def ratio(norms: dict) -> float:
    """First layer's gradient norm over the last's."""
    values = list(norms.values())
    return values[0] / values[-1]


# ------------------------------------------------------------------------------------------ plain_stack

def test_plain_stack_layers():
    m = plain_stack(5, width=32, activation="sigmoid")
    assert [type(l) for l in m] == [nn.Flatten] + [nn.Linear, nn.Sigmoid] * 4 + [nn.Linear]
    assert [l.out_features for l in m if isinstance(l, nn.Linear)] == [32, 32, 32, 32, 10]
    assert m[1].in_features == 3 * 32 * 32
    bn = plain_stack(5, width=32, batchnorm=True)
    assert [type(l) for l in bn][1:4] == [nn.Linear, nn.BatchNorm1d, nn.ReLU]
    assert sum(isinstance(l, nn.BatchNorm1d) for l in bn) == 4
    # a bias before a BatchNorm would be cancelled by it; the last layer keeps its bias
    linears = [l for l in bn if isinstance(l, nn.Linear)]
    assert [l.bias is None for l in linears] == [True, True, True, True, False]
    assert plain_stack(2)(torch.zeros(3, 3, 32, 32)).shape == (3, 10)


@pytest.mark.parametrize("kwargs", [dict(depth=1), dict(depth=3.0), dict(depth=True), dict(depth=4, activation="gelu"),
                                    dict(depth=4, init="orthogonal")])
def test_plain_stack_rejects(kwargs):
    with pytest.raises(ValueError):
        plain_stack(**kwargs)


def test_plain_stack_inits():
    torch.manual_seed(0)
    he = plain_stack(3, width=512, init="he")
    w = he[1].weight  # 512 x 3072
    assert abs(w.std().item() / math.sqrt(2 / 3072) - 1) < 0.01
    assert torch.count_nonzero(he[1].bias) == 0
    xavier = plain_stack(3, width=512, init="xavier")
    assert abs(xavier[3].weight.std().item() / math.sqrt(2 / (512 + 512)) - 1) < 0.01
    default = plain_stack(3, width=512)  # PyTorch's: uniform in +-1/sqrt(fan_in)
    bound = 1 / math.sqrt(3072)
    assert default[1].weight.abs().max().item() <= bound
    assert abs(default[1].weight.std().item() / (bound / math.sqrt(3)) - 1) < 0.01


# ------------------------------------------------------------------------------------------ gradient_norms

def norms_of(depth, activation, init, batchnorm, seed=0):
    torch.manual_seed(seed)
    x, y = batch(64)
    return gradient_norms(plain_stack(depth, 128, activation, init, batchnorm), x, y)


def test_sigmoid_gradients_vanish():
    # sigmoid' <= 1/4: twenty layers shrink the first layer's gradient by many orders of magnitude
    n = norms_of(20, "sigmoid", "default", False)
    assert len(n) == 20
    assert ratio(n) < 1e-8
    v = list(n.values())  # layer 1 (3,072 inputs) and layer 2 (128) differ in fan-in; from layer 2 on:
    assert all(a < b for a, b in zip(v[1:-1], v[2:]))  # it shrinks layer after layer on the way down


def test_relu_default_init_vanishes_he_does_not():
    # PyTorch's default Linear init has variance 1/(3 fan_in): a ReLU layer keeps 1/6 of the variance
    assert ratio(norms_of(20, "relu", "default", False)) < 1e-3
    # He init, 2/fan_in, keeps it: all twenty layers within a factor of 10 of each other
    he = norms_of(20, "relu", "he", False)
    assert spread(he) < 10


def test_batchnorm_gradients_grow_toward_the_input():
    # with BatchNorm nothing vanishes; in a deep ReLU stack the first layers get the larger gradients
    for init in ("default", "he"):
        n = norms_of(20, "relu", init, True)
        assert ratio(n) > 10
        assert min(n.values()) > 0.1
    # a sigmoid stack with BatchNorm: every layer within a factor of 30
    assert spread(norms_of(20, "sigmoid", "default", True)) < 30


def test_gradient_norms_match_autograd_and_leave_model_alone():
    torch.manual_seed(0)
    m = plain_stack(4, 16, batchnorm=True).eval()
    x, y = batch(8)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    n = gradient_norms(m, x, y)
    assert list(n) == ["1", "4", "7", "10"]
    # the same measurement by hand, in training mode
    m2 = plain_stack(4, 16, batchnorm=True)
    m2.load_state_dict(before)
    F.cross_entropy(m2(x), y).backward()
    assert [n[k] for k in n] == pytest.approx([m2[int(k)].weight.grad.norm().item() for k in n], rel=1e-6)
    # the model is as it was: eval mode, no gradients, running statistics untouched
    assert not m.training
    assert all(p.grad is None for p in m.parameters())
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_weighted_layers_of_cifar_nets():
    for shortcut in ("A", "B", "C"):
        m = build("cifar_resnet20", shortcut=shortcut)
        names = [n for n, _ in weighted_layers(m)]
        assert len(names) == 20 and names[0] == "conv1" and names[-1] == "fc"
        assert names[1:3] == ["layer1.0.conv1", "layer1.0.conv2"]
        with_shortcuts = weighted_layers(m, shortcuts=True)
        projections = {"A": 0, "B": 2, "C": 9}[shortcut]  # C: a projection in each of the 9 blocks
        assert len(with_shortcuts) == 20 + projections
    assert len(gradient_norms(build("cifar_plain20"), *batch(4))) == 20


def test_resnet_gradients_spread_less_than_plain():
    # at initialisation, the weight gradients of the 56-layer plain net spread over orders of magnitude,
    # those of ResNet-56 much less
    x, y = batch(8)
    torch.manual_seed(0)
    plain = gradient_norms(build("cifar_plain56"), x, y)
    torch.manual_seed(0)
    res = gradient_norms(build("cifar_resnet56"), x, y)
    assert len(plain) == len(res) == 56
    assert spread(plain) > 10 * spread(res)


# ------------------------------------------------------------------------------------------ input_gradient_norms

def test_input_gradient_norms_by_hand():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    x, y = batch(16)
    got = input_gradient_norms(m, x, y, ["1"])
    # d(mean cross-entropy)/d(features) = (softmax - onehot) W / batch
    feats = x.flatten(1)
    p = (feats @ m[1].weight.T + m[1].bias).softmax(1)
    grad = (p - F.one_hot(y, 10).float()) @ m[1].weight / len(x)
    assert got["1"] == pytest.approx(grad.norm().item() / math.sqrt(len(x)), rel=1e-5)
    assert all(p.grad is None for p in m.parameters())


def test_input_gradient_norms_of_blocks():
    torch.manual_seed(0)
    m = build("cifar_resnet20")
    blocks = [f"layer{s}.{b}" for s in (1, 2, 3) for b in range(3)]
    n = input_gradient_norms(m, *batch(8), blocks)
    assert list(n) == blocks and all(v > 0 for v in n.values())
    with pytest.raises(ValueError, match="no module named"):
        input_gradient_norms(m, *batch(8), ["layer9"])
    # the first module's input is the image batch itself
    x, y = batch(8)
    x.requires_grad_(True)
    F.cross_entropy(m(x), y).backward()
    m.zero_grad()
    assert input_gradient_norms(m, x, y, ["conv1"])["conv1"] == pytest.approx(
        x.grad.norm().item() / math.sqrt(8), rel=1e-5)


def test_spread():
    assert spread({"a": 2.0, "b": 8.0}) == 4.0
    assert spread([1.0, 0.0]) == math.inf
