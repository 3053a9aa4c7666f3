"""Probes: small networks and measurements for looking at gradients, the subject of chapters 1 and 2.

* `plain_stack(depth, width, activation, init, batchnorm)`: a deep plain multilayer perceptron on
  flattened images, the simplest network in which gradients vanish or explode.
* `gradient_norms(model, x, y)`: the norm of the loss gradient for the weights of every layer, in the order
  the layers run, from one batch.
* `input_gradient_norms(model, x, y, names)`: the norm of the loss gradient for the *input* of chosen
  modules (the residual blocks), the quantity of the backward equation of chapter 2.

Both measurements leave the model as they found it: same mode, no gradients left in `.grad`, and the
BatchNorm running statistics restored (a forward pass in training mode would otherwise update them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ACTIVATIONS", "INITS", "plain_stack", "weighted_layers", "gradient_norms", "input_gradient_norms",
           "spread"]

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
# "default": PyTorch's own nn.Linear initialisation, weights and biases uniform in +-1/sqrt(fan_in)
#            (a weight variance of 1/(3 fan_in));
# "xavier":  Glorot and Bengio (2010), normal with variance 2/(fan_in + fan_out), zero biases;
# "he":      He et al. (2015), normal with variance 2/fan_in, zero biases: keeps the variance of a ReLU
#            network's signals constant from layer to layer, forward and backward.
INITS = ("default", "xavier", "he")


def plain_stack(depth: int, width: int = 256, activation: str = "relu", init: str = "default",
                batchnorm: bool = False, in_features: int = 3 * 32 * 32, num_classes: int = 10) -> nn.Sequential:
    """A plain (no shortcut) perceptron of `depth` weighted layers on flattened images:
    Flatten, then depth - 1 times [Linear(width), BatchNorm1d if `batchnorm`, activation], then a
    Linear(num_classes). BatchNorm goes between the layer and its nonlinearity, as in the paper; the linear
    layers before a BatchNorm have no bias (the BatchNorm has one)."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
        raise ValueError(f"depth must be an integer of at least 2 (weighted layers), got {depth!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = in_features
    for _ in range(depth - 1):
        layers.append(nn.Linear(fan_in, width, bias=not batchnorm))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS[activation]())
        fan_in = width
    layers.append(nn.Linear(fan_in, num_classes))
    model = nn.Sequential(*layers)
    if init != "default":
        for m in model.modules():
            if isinstance(m, nn.Linear):
                if init == "he":
                    nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                else:
                    nn.init.xavier_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    return model


def weighted_layers(model: nn.Module, shortcuts: bool = False) -> list[tuple[str, nn.Module]]:
    """The convolutions and linear layers of `model`, in the order `named_modules` gives (the order they
    run in every network of this library). Projection shortcuts (modules under a `shortcut` or
    `downsample` attribute) are left out unless `shortcuts`: they are not layers of the network's depth."""
    out = []
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            parts = name.split(".")
            if shortcuts or not ({"shortcut", "downsample"} & set(parts)):
                out.append((name, m))
    return out


class _Measuring:
    """Context: training mode, grads cleared before and after, BatchNorm running statistics restored."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.was_training = self.model.training
        self.buffers = {n: b.clone() for n, b in self.model.named_buffers()}
        self.model.train()
        self.model.zero_grad(set_to_none=True)
        return self

    def __exit__(self, *exc):
        self.model.zero_grad(set_to_none=True)
        with torch.no_grad():
            for n, b in self.model.named_buffers():
                b.copy_(self.buffers[n])
        self.model.train(self.was_training)
        return False


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shortcuts: bool = False) -> dict[str, float]:
    """{layer name: Frobenius norm of d(loss)/d(weight)} for every weighted layer (see `weighted_layers`),
    first layer first, from one forward and backward pass of the cross-entropy loss on the batch (x, y),
    in training mode (BatchNorm normalises with the batch's statistics, as in training)."""
    layers = weighted_layers(model, shortcuts)
    if not layers:
        raise ValueError("the model has no Conv2d or Linear layer to measure")
    device = _device_of(model)
    with _Measuring(model):
        loss = F.cross_entropy(model(x.to(device)), y.to(device))
        loss.backward()
        return {name: float(m.weight.grad.norm()) for name, m in layers}


def input_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                         names: Iterable[str]) -> dict[str, float]:
    """{module name: norm of d(loss)/d(input of the module)} for the modules named (e.g. the residual
    blocks "layer1.0", "layer1.1", ...), per image: the norm over the whole batch divided by sqrt(batch)."""
    names = list(names)
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(f"no module named {missing[0]!r} in the model")
    inputs: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(module, args):
            t = args[0]
            if t.requires_grad:
                t.retain_grad()
            inputs[name] = t
        return hook

    device = _device_of(model)
    hooks = [modules[n].register_forward_pre_hook(keep(n)) for n in names]
    try:
        with _Measuring(model):
            x = x.detach().to(device).requires_grad_(True)  # so that even the first module's input has a grad
            loss = F.cross_entropy(model(x), y.to(device))
            loss.backward()
            out = {}
            for n in names:
                g = inputs[n].grad
                if g is None:
                    raise ValueError(f"the input of {n!r} got no gradient: is the module on the path to the loss?")
                out[n] = float(g.norm()) / math.sqrt(len(x))
            return out
    finally:
        for h in hooks:
            h.remove()


def spread(norms: dict[str, float] | Iterable[float]) -> float:
    """Largest over smallest of a set of norms: 1 when all layers get gradients of the same size."""
    values = list(norms.values()) if isinstance(norms, dict) else list(norms)
    lo = min(values)
    return math.inf if lo == 0 else max(values) / lo
