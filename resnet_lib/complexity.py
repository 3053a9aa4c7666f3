"""What a network costs: parameters, multiply-accumulates (MACs) and activation memory; and, measured, its time.

The paper's "FLOPs" are multiply-adds: ResNet-34's "3.6 billion FLOPs" are 3.6 billion multiply-accumulates.
We count them with PyTorch's own `torch.utils.flop_counter.FlopCounterMode`, which counts 2 FLOPs per
multiply-add of convolutions and matrix products, and divide by two. Like the paper, this leaves out
BatchNorm, ReLU, pooling and the shortcut additions (they are a fraction of a percent).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["on_meta", "count_params", "count_macs", "Cost", "cost", "profile", "stage_table", "format_table",
           "forward_seconds"]


def on_meta(make, *args, **kwargs) -> nn.Module:
    """Build a network on PyTorch's meta device: tensors with shapes but no data. Counting parameters and
    multiply-adds needs only the shapes, so nothing is allocated or computed. `make`: a name that
    `models.build` knows (on_meta("resnet50", variant="v1")) or any callable (on_meta(Bottleneck, 256, 64))."""
    from .models import build

    with torch.device("meta"):
        return build(make, *args, **kwargs) if isinstance(make, str) else make(*args, **kwargs)


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _input(model: nn.Module, input_size: tuple[int, ...]) -> torch.Tensor:
    p = next(model.parameters())
    return torch.zeros(input_size, dtype=p.dtype, device=p.device)


@torch.no_grad()
def _counted_forward(model: nn.Module, input_size: tuple[int, ...]) -> FlopCounterMode:
    """One forward pass in eval mode (BatchNorm as at test time) under PyTorch's FLOP counter; the model is
    put back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(_input(model, input_size))
    finally:
        model.train(was_training)
    return counter


def count_macs(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 224, 224)) -> int:
    """Multiply-accumulates of one forward pass on an input of `input_size` (batch included)."""
    return _counted_forward(model, input_size).get_total_flops() // 2


@dataclass
class Cost:
    """One row of a cost table. `activations` counts the elements of every leaf module's output, the
    memory a training step keeps for the backward pass (times 4 bytes in fp32, per image)."""
    name: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    activations: int = 0


def profile(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 224, 224)) -> dict[str, Cost]:
    """Cost of every named module (as `model.named_modules()` names them; "" is the whole model)."""
    shapes: dict[str, tuple[int, ...]] = {}
    leaf_elements: dict[str, int] = {}
    hooks = []
    for name, module in model.named_modules():
        def hook(mod, args, out, name=name, is_leaf=not any(True for _ in module.children())):
            if isinstance(out, torch.Tensor):
                shapes[name] = tuple(out.shape)
                if is_leaf:
                    leaf_elements[name] = leaf_elements.get(name, 0) + out.numel()
        hooks.append(module.register_forward_hook(hook))
    try:
        counter = _counted_forward(model, input_size)
    finally:
        for h in hooks:
            h.remove()
    # FlopCounterMode names modules "ClassName.child.grandchild"; the root is "ClassName".
    flops = {}
    for key, per_op in counter.get_flop_counts().items():
        if key == "Global":
            continue
        flops[key.partition(".")[2]] = sum(per_op.values())
    rows = {}
    for name, module in model.named_modules():
        acts = sum(n for leaf, n in leaf_elements.items()
                   if name == "" or leaf == name or leaf.startswith(name + "."))
        rows[name] = Cost(name or type(model).__name__, shapes.get(name, ()), count_params(module),
                          flops.get(name, 0) // 2, acts)
    return rows


def cost(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 224, 224)) -> Cost:
    """The whole model's row: parameters, MACs, output shape and activation elements."""
    return profile(model, input_size)[""]


# Table 1 of the paper groups torchvision's modules into these stages.
_RESNET_STAGES = {
    "conv1": ("conv1", "bn1", "relu"),
    "conv2_x": ("maxpool", "layer1"),
    "conv3_x": ("layer2",),
    "conv4_x": ("layer3",),
    "conv5_x": ("layer4",),
    "pool, fc": ("avgpool", "fc"),
}
_CIFAR_STAGES = {
    "conv1": ("conv1", "bn1", "relu"),
    "stage 1 (32x32)": ("layer1",),
    "stage 2 (16x16)": ("layer2",),
    "stage 3 (8x8)": ("layer3",),
    "pool, fc": ("avgpool", "fc"),
}


def stage_table(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 224, 224)) -> list[Cost]:
    """Per-stage cost, grouped like the paper's Table 1 (conv1, conv2_x ... conv5_x, pool+fc) for the
    ImageNet ResNets, by stage for the CIFAR ones, and by top-level child for anything else."""
    rows = profile(model, input_size)
    children = [n for n, _ in model.named_children()]
    if all(n in children for n in ("layer1", "layer4", "maxpool")):
        groups = _RESNET_STAGES
    elif all(n in children for n in ("layer1", "layer3")):
        groups = _CIFAR_STAGES
    else:
        groups = {n: (n,) for n in children}
    table = []
    for stage, names in groups.items():
        parts = [rows[n] for n in names if n in rows]
        last = next((p for p in reversed(parts) if p.output_shape), parts[-1])
        table.append(Cost(stage, last.output_shape, sum(p.params for p in parts), sum(p.macs for p in parts),
                          sum(p.activations for p in parts)))
    total = rows[""]
    table.append(Cost("total", total.output_shape, total.params, total.macs, total.activations))
    return table


def format_table(rows: list[Cost] | dict[str, Cost], macs_unit: float = 1e9, params_unit: float = 1e6) -> str:
    """A plain-text table: name, output shape, parameters (millions) and MACs (billions by default)."""
    rows = list(rows.values()) if isinstance(rows, dict) else rows
    unit = {1e9: "GMACs", 1e6: "MMACs"}.get(macs_unit, f"MACs/{macs_unit:g}")
    punit = {1e6: "params (M)", 1e3: "params (k)", 1: "params"}.get(params_unit, f"params/{params_unit:g}")
    width = max(len(r.name) for r in rows)
    lines = [f"{'':<{width}}  {'output':>16}  {punit:>11}  {unit:>9}"]
    for r in rows:
        shape = "x".join(str(s) for s in r.output_shape[1:])
        lines.append(f"{r.name:<{width}}  {shape:>16}  {r.params / params_unit:>11.3f}  {r.macs / macs_unit:>9.3f}")
    return "\n".join(lines)


@torch.inference_mode()
def forward_seconds(model: nn.Module, x: torch.Tensor, warmup: int = 2, repeats: int = 10) -> list[float]:
    """The wall-clock seconds of `repeats` forward passes of `model` on `x`, after `warmup` untimed ones (the
    first calls allocate memory and pick algorithms). On CUDA the clock waits for the device. Callers usually
    keep the minimum: other work on the machine can only slow a pass down."""
    def sync():
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)

    for _ in range(warmup):
        model(x)
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        sync()
        times.append(time.perf_counter() - start)
    return times
