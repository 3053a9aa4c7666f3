"""The networks of He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition" (2015).

Everything here reads like the paper:

* `BasicBlock` and `Bottleneck` are its Figure 5 (left and right),
  computing y = F(x, {W_i}) + x (Eq. 1), or y = F(x, {W_i}) + W_s x (Eq. 2) where the shapes change.
* `ResNet` is its Table 1 (ImageNet, 18 to 152 layers) and `plain18` / `plain34` the plain baselines of
  Section 3.3: the same layers without shortcuts.
* `CifarResNet` is its Section 4.2: 6n+2 layers on 32x32 images, shortcut options A and B (and C).

The ImageNet models use torchvision's module names, so their state dicts load torchvision's weights key for
key. VGG comes from torchvision itself (`build("vgg19")`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models as tv_models

__all__ = [
    "ResidualBlock", "BasicBlock", "Bottleneck", "ResNet", "DEPTHS", "CifarBlock", "CifarResNet",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "plain18", "plain34",
    "cifar_resnet", "build", "model_names",
]


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False)


def _check_num_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer (e.g. 10 for CIFAR-10, 37 for Pets), "
                         f"got {num_classes!r}")
    return num_classes


class ResidualBlock(nn.Module):
    """What every block of the paper computes: y = F(x, {W_i}) + x (Eq. 1), with W_s x for x where the shape
    changes (Eq. 2), then a ReLU. A block builds F (`residual_function`) and the module on its shortcut,
    named by `shortcut_name` (None for the identity); `residual=False` drops the shortcut (plain nets)."""

    shortcut_name = "downsample"  # torchvision's name, so that its state dicts load key for key
    residual: bool
    relu: nn.ReLU

    def residual_function(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual_function(x)
        if self.residual:
            shortcut = getattr(self, self.shortcut_name)  # a module, or None: the identity
            out = out + (x if shortcut is None else shortcut(x))  # Eq. 1: y = F(x) + x (Eq. 2: W_s x)
        return self.relu(out)  # "the second nonlinearity after the addition"


class BasicBlock(ResidualBlock):
    """Figure 5 (left): two 3x3 convolutions. Used by ResNet-18/34.

    `downsample` is the projection W_s of Eq. 2 (1x1 conv + BN), present only where the shape changes.
    `residual=False` drops the shortcut: the block of the plain baseline.
    """

    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int = 1, downsample: nn.Module | None = None,
                 residual: bool = True):
        super().__init__()
        self.conv1 = conv3x3(in_ch, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample
        self.residual = residual

    def residual_function(self, x: torch.Tensor) -> torch.Tensor:
        """F(x, {W_1, W_2}) = W_2 relu(W_1 x), with BN after each convolution."""
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))


class Bottleneck(ResidualBlock):
    """Figure 5 (right): 1x1 reduces the width, 3x3 works at the reduced width, 1x1 restores it (x4).
    Used by ResNet-50/101/152.

    `stride_in_1x1=True` is the paper (v1: the first 1x1 convolution downsamples);
    False is torchvision's "v1.5" (the 3x3 downsamples: more multiply-adds, better accuracy).
    """

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1, downsample: nn.Module | None = None,
                 residual: bool = True, stride_in_1x1: bool = False):
        super().__init__()
        out_ch = width * self.expansion
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(in_ch, width, stride_1x1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride_3x3)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_ch)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.residual = residual

    def residual_function(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))


class _Classifier(nn.Module):
    """The end of every network here: global average pooling and a fully connected layer to the classes
    (the last row of Table 1). A network computes its feature map in `features` and adds the head last."""

    def _add_head(self, num_features: int, num_classes: int) -> None:
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.num_features = num_features
        self.fc = nn.Linear(num_features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled features, what the head `fc` classifies."""
        return torch.flatten(self.avgpool(self.features(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> nn.Linear:
        """Replace the head with a fresh `num_classes`-way linear layer (fine-tuning)."""
        self.fc = nn.Linear(self.num_features, _check_num_classes(num_classes))
        return self.fc


class ResNet(_Classifier):
    """Table 1 of the paper: conv1 (7x7, 64, /2), 3x3 max pool /2, four stages conv2_x..conv5_x of
    widths 64, 128, 256, 512 (x4 for bottlenecks), global average pool, a 1000-way fc.

    Stages are named `layer1`..`layer4` (torchvision's names, the paper's conv2_x..conv5_x).
    `forward_features` returns the pooled features; `fc` is the head; `reset_classifier` replaces it.
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: list[int], num_classes: int = 1000,
                 residual: bool = True, stride_in_1x1: bool = False, zero_init_residual: bool = False):
        super().__init__()
        _check_num_classes(num_classes)
        self.block, self.layers, self.residual = block, list(layers), residual
        kwargs = {"residual": residual, **({"stride_in_1x1": stride_in_1x1} if block is Bottleneck else {})}
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1, in_ch = _stage(block, 64, 64, layers[0], stride=1, **kwargs)        # conv2_x
        self.layer2, in_ch = _stage(block, in_ch, 128, layers[1], stride=2, **kwargs)    # conv3_x
        self.layer3, in_ch = _stage(block, in_ch, 256, layers[2], stride=2, **kwargs)    # conv4_x
        self.layer4, in_ch = _stage(block, in_ch, 512, layers[3], stride=2, **kwargs)    # conv5_x
        self._add_head(in_ch, num_classes)
        _init_weights(self, zero_init_residual)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def _stage(block, in_ch: int, width: int, n_blocks: int, stride: int, **block_kwargs) -> tuple[nn.Sequential, int]:
    """`n_blocks` blocks of `width`, the first one striding; and the stage's output channels."""
    out_ch = width * block.expansion
    downsample = None
    if block_kwargs["residual"] and (stride != 1 or in_ch != out_ch):
        # Projection shortcut (option B): only where the shape changes.
        downsample = nn.Sequential(conv1x1(in_ch, out_ch, stride), nn.BatchNorm2d(out_ch))
    blocks = [block(in_ch, width, stride, downsample, **block_kwargs)]
    blocks += [block(out_ch, width, **block_kwargs) for _ in range(1, n_blocks)]
    return nn.Sequential(*blocks), out_ch


def _init_weights(model: nn.Module, zero_init_residual: bool) -> None:
    """He (Kaiming) normal initialisation for convolutions, as the paper (its ref. [13]); BN to identity.
    `zero_init_residual` zeroes the last BN of each residual branch so every block starts as the identity
    (Goyal et al. 2017), which helps large-batch training."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, Bottleneck) and m.residual:
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, ResidualBlock) and m.residual:
                nn.init.zeros_(m.bn2.weight)


# Table 1: the block of each depth and how many of them each of the four stages stacks.
DEPTHS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)), 50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)), 152: (Bottleneck, (3, 8, 36, 3)),
}
_VARIANTS = ("v1", "v1.5")


def _resnet(depth: int, num_classes: int, variant: str, zero_init_residual: bool, residual: bool = True) -> ResNet:
    if variant not in _VARIANTS:
        raise ValueError(f"variant must be one of {_VARIANTS} ('v1' = the paper, 'v1.5' = torchvision), "
                         f"got {variant!r}")
    block, layers = DEPTHS[depth]
    return ResNet(block, layers, num_classes, residual=residual, stride_in_1x1=(variant == "v1"),
                  zero_init_residual=zero_init_residual)


def resnet18(num_classes: int = 1000, variant: str = "v1.5", zero_init_residual: bool = False) -> ResNet:
    """18 layers: [2, 2, 2, 2] basic blocks. (Basic blocks have no v1/v1.5 difference.)"""
    return _resnet(18, num_classes, variant, zero_init_residual)


def resnet34(num_classes: int = 1000, variant: str = "v1.5", zero_init_residual: bool = False) -> ResNet:
    """34 layers: [3, 4, 6, 3] basic blocks."""
    return _resnet(34, num_classes, variant, zero_init_residual)


def resnet50(num_classes: int = 1000, variant: str = "v1.5", zero_init_residual: bool = False) -> ResNet:
    """50 layers: [3, 4, 6, 3] bottleneck blocks."""
    return _resnet(50, num_classes, variant, zero_init_residual)


def resnet101(num_classes: int = 1000, variant: str = "v1.5", zero_init_residual: bool = False) -> ResNet:
    """101 layers: [3, 4, 23, 3] bottleneck blocks."""
    return _resnet(101, num_classes, variant, zero_init_residual)


def resnet152(num_classes: int = 1000, variant: str = "v1.5", zero_init_residual: bool = False) -> ResNet:
    """152 layers: [3, 8, 36, 3] bottleneck blocks."""
    return _resnet(152, num_classes, variant, zero_init_residual)


def plain18(num_classes: int = 1000) -> ResNet:
    """The plain baseline of Section 3.3: ResNet-18's layers without any shortcut."""
    return _resnet(18, num_classes, "v1", False, residual=False)


def plain34(num_classes: int = 1000) -> ResNet:
    """The plain baseline of Figure 3 (middle): ResNet-34's layers without any shortcut."""
    return _resnet(34, num_classes, "v1", False, residual=False)


# ---------------------------------------------------------------------------------------------- CIFAR-10

SHORTCUTS = ("A", "B", "C")


class PadShortcut(nn.Module):
    """Option A: the identity, subsampled by `stride` and zero-padded to `out_ch` channels. No parameters."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.stride, self.pad = stride, out_ch - in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.pad))  # pad the channel dimension with zeros


class CifarBlock(BasicBlock):
    """The basic block of Section 4.2 (BasicBlock's two 3x3 convolutions), with the shortcut option of
    Section 3.3: A zero-padding identity, B projection where the shape changes, C projection everywhere."""

    shortcut_name = "shortcut"

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, shortcut: str = "A", residual: bool = True):
        super().__init__(in_ch, out_ch, stride, residual=residual)
        changes_shape = stride != 1 or in_ch != out_ch
        if not residual or (not changes_shape and shortcut != "C"):
            self.shortcut = None  # identity (or none at all, for the plain net)
        elif shortcut == "A":
            self.shortcut = PadShortcut(in_ch, out_ch, stride)
        else:  # "B" where the shape changes, "C" everywhere
            self.shortcut = nn.Sequential(conv1x1(in_ch, out_ch, stride), nn.BatchNorm2d(out_ch))


class CifarResNet(_Classifier):
    """Section 4.2: a 3x3 conv with 16 filters, then 3 stages of n blocks on 32x32, 16x16, 8x8 maps with
    16, 32, 64 filters, global average pooling and a 10-way fc: 6n+2 weighted layers."""

    def __init__(self, depth: int, num_classes: int = 10, shortcut: str = "A", residual: bool = True):
        super().__init__()
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet has 6n+2 layers (20, 32, 44, 56, 110, 1202), got depth={depth!r}")
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS} (A zero-padding, B projection where the "
                             f"shape changes, C projection everywhere), got {shortcut!r}")
        _check_num_classes(num_classes)
        n = (depth - 2) // 6
        self.depth = depth
        self.conv1 = conv3x3(3, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _cifar_stage(16, 16, n, 1, shortcut, residual)  # 32x32 maps
        self.layer2 = _cifar_stage(16, 32, n, 2, shortcut, residual)  # 16x16
        self.layer3 = _cifar_stage(32, 64, n, 2, shortcut, residual)  # 8x8
        self._add_head(64, num_classes)
        _init_weights(self, zero_init_residual=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        return self.layer3(self.layer2(self.layer1(x)))


def _cifar_stage(in_ch: int, width: int, n: int, stride: int, shortcut: str, residual: bool) -> nn.Sequential:
    """`n` blocks of `width` filters, the first one striding."""
    return nn.Sequential(*(CifarBlock(in_ch if j == 0 else width, width, stride if j == 0 else 1, shortcut, residual)
                           for j in range(n)))


def cifar_resnet(depth: int, num_classes: int = 10, shortcut: str = "A", residual: bool = True) -> CifarResNet:
    """ResNet-{depth} of Section 4.2 (depth = 6n+2); `residual=False` gives its plain twin."""
    return CifarResNet(depth, num_classes, shortcut, residual)


# ---------------------------------------------------------------------------------------------- by name

_IMAGENET: dict[str, Callable[..., nn.Module]] = {
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50,
    "resnet101": resnet101, "resnet152": resnet152, "plain18": plain18, "plain34": plain34,
}
_VGG = ("vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn")
_CIFAR_DEPTHS = (20, 32, 44, 56, 110, 1202)


def model_names() -> list[str]:
    """Every name `build` accepts."""
    cifar = [f"cifar_{kind}{d}" for kind in ("resnet", "plain") for d in _CIFAR_DEPTHS]
    return list(_IMAGENET) + cifar + list(_VGG)


def build(name: str, **kwargs) -> nn.Module:
    """Build a model by name, e.g. build("resnet50", num_classes=37), build("cifar_resnet56"),
    build("cifar_plain20"), build("vgg19"). Keyword arguments go to the model's constructor."""
    if name in _IMAGENET:
        return _IMAGENET[name](**kwargs)
    if name in _VGG:
        _check_num_classes(kwargs.get("num_classes", 1000))
        return getattr(tv_models, name)(weights=None, **kwargs)
    for kind in ("resnet", "plain"):
        prefix = f"cifar_{kind}"
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            if kind == "plain":
                kwargs["residual"] = False
            return cifar_resnet(int(name[len(prefix):]), **kwargs)
    raise ValueError(f"unknown model {name!r}; valid names: {', '.join(model_names())}")
