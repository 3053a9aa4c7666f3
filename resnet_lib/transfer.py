"""Starting from ImageNet: torchvision's pretrained weights in our models, and freezing the backbone.

    model = models.resnet50(num_classes=37)       # a new 37-way head
    load_pretrained(model, "IMAGENET1K_V1")       # everything but the head from torchvision's file
    freeze_backbone(model)                        # train the head alone ...
    unfreeze(model)                               # ... then everything

Or from a network of our own, trained at 32 px on CIFAR-10 (chapter 6's cats and dogs):

    model = new_network("cifar_resnet20", 2, backbone="fig6-cifar10-resnet20")  # stored weights, new head
    history, test = train_at_32px(model, train, test, epochs=30, lr=0.02)

Our ImageNet ResNets have torchvision's module names, so its files load key for key. The file is looked for
where torch.hub keeps downloads, `torch.hub.get_dir()/checkpoints/` (`$TORCH_HOME/hub/checkpoints`), and
downloaded there only with `download=True`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision import models as tv_models

from .data import CifarLoader, ImageTensors
from .models import DEPTHS, Bottleneck, ResNet
from .train import History, TrainConfig, evaluate, fit

__all__ = ["torchvision_name", "pretrained_weights", "weights_file", "load_pretrained", "freeze_backbone",
           "unfreeze", "new_network", "train_at_32px"]

_ARCHITECTURES = {architecture: f"resnet{depth}" for depth, architecture in DEPTHS.items()}


def torchvision_name(model: nn.Module) -> str:
    """torchvision's name for the architecture of `model` ("resnet50"); ValueError if torchvision has no
    ImageNet weights for it."""
    name = _ARCHITECTURES.get((getattr(model, "block", None), tuple(getattr(model, "layers", ()))))
    if not isinstance(model, ResNet) or not model.residual or name is None:
        raise ValueError(f"torchvision has ImageNet weights for resnet18, 34, 50, 101 and 152 only, not for "
                         f"this {type(model).__name__}")
    if model.block is Bottleneck and model.layer2[0].conv1.stride != (1, 1):
        raise ValueError(f"torchvision's {name} weights are for variant 'v1.5' (stride in the 3x3 convolution); "
                         f"this model is the paper's 'v1': build it with variant='v1.5'")
    return name


def pretrained_weights(model: nn.Module, name_or_weights="IMAGENET1K_V1") -> tv_models.WeightsEnum:
    """torchvision's weights entry for `model`: by name ("IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT") or an
    entry such as `torchvision.models.ResNet50_Weights.IMAGENET1K_V2`."""
    arch = torchvision_name(model)
    enum = tv_models.get_model_weights(arch)
    if isinstance(name_or_weights, tv_models.WeightsEnum):
        if not isinstance(name_or_weights, enum):
            raise ValueError(f"{name_or_weights} are not weights for {arch}: use {enum.__name__}")
        return name_or_weights
    names = list(enum.__members__)
    if name_or_weights not in names:
        raise ValueError(f"torchvision has no {arch} weights {name_or_weights!r}; valid names: {', '.join(names)}")
    return enum[name_or_weights]


def weights_file(weights: tv_models.WeightsEnum) -> Path:
    """Where torch.hub keeps the file of `weights` (the URL's file name in torch.hub.get_dir()/checkpoints)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def _read(weights: tv_models.WeightsEnum, download: bool) -> dict:
    file = weights_file(weights)
    if not file.is_file():
        if not download:
            raise FileNotFoundError(f"no pretrained weights {file.name} in {file.parent}: download {weights.url} "
                                    f"into that folder, or pass download=True")
        try:
            return torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", check_hash=True,
                                                      weights_only=True)
        except Exception as e:  # URLError, HTTPError, a failed hash check...
            raise RuntimeError(f"could not download {weights.url} into {file.parent} ({type(e).__name__}: "
                               f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}): download it "
                               f"by hand into that folder") from e
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{file} is not a readable state dict (truncated or corrupt?): delete it and download "
                         f"{weights.url} again") from e


def load_pretrained(model: nn.Module, name_or_weights="IMAGENET1K_V1", download: bool = False) -> nn.Module:
    """Load torchvision's pretrained weights into `model` (one of our ResNets); returns the model.

    The file is read from torch.hub's cache; if it is not there, FileNotFoundError names the file, its URL
    and the folder to put it in (or pass `download=True`). A model whose head has another number of
    classes than the weights' (e.g. `resnet50(num_classes=37)`) gets everything but the head, and keeps
    its own freshly initialised `fc`.
    """
    weights = pretrained_weights(model, name_or_weights)
    state = _read(weights, download)
    mine = model.state_dict()
    same_head = all(k in state and state[k].shape == mine[k].shape for k in ("fc.weight", "fc.bias"))
    wanted = {k: t for k, t in mine.items() if same_head or not k.startswith("fc.")}
    given = {k: t for k, t in state.items() if same_head or not k.startswith("fc.")}
    for key, t in wanted.items():
        if key not in given or given[key].shape != t.shape:
            found = "missing" if key not in given else f"of shape {tuple(given[key].shape)}"
            raise ValueError(f"{weights_file(weights).name} does not fit this model: {key!r} is {found} in the "
                             f"file, {tuple(t.shape)} in the model")
    if extra := [k for k in given if k not in wanted]:
        raise ValueError(f"{weights_file(weights).name} does not fit this model: {extra[0]!r} of the file is "
                         f"not in the model")
    model.load_state_dict(given, strict=same_head)
    return model


# ---------------------------------------------------------------------------------------------- freezing

def _backbone(model: nn.Module) -> list[nn.Module]:
    head = set(model.fc.modules())
    return [m for m in model.modules() if m not in head]


def _stay_in_eval(module: nn.Module, args) -> None:
    module.training = False


def freeze_backbone(model: nn.Module) -> nn.Module:
    """Train only the head `model.fc`: every other parameter gets requires_grad=False (so `param_groups`
    and the optimizer leave it out), and every BatchNorm outside the head stays in eval mode, even
    after `model.train()`. Returns the model."""
    if not isinstance(getattr(model, "fc", None), nn.Module):
        raise ValueError("freeze_backbone needs a model whose head is `model.fc`")
    head = {id(p) for p in model.fc.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in head)
    for m in _backbone(model):
        # A frozen backbone should compute the features it was trained to compute. In train mode BatchNorm
        # would normalise each batch by that batch's own statistics and move its running averages towards
        # the new data: the features under the head would change at every step (noisily, with small
        # batches) although no weight does. In eval mode it uses the pretrained statistics, fixed.
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not hasattr(m, "_frozen_hook"):
            m.eval()
            m._frozen_hook = m.register_forward_pre_hook(_stay_in_eval)  # model.train() turns it back on
    return model


def unfreeze(model: nn.Module) -> nn.Module:
    """Undo `freeze_backbone`: every parameter trainable, BatchNorm back in the model's mode."""
    for p in model.parameters():
        p.requires_grad_(True)
    for m in model.modules():
        if hasattr(m, "_frozen_hook"):
            m._frozen_hook.remove()
            del m._frozen_hook
            m.train(model.training)
    return model


# ------------------------------------------------------------------------------------------- 32 px runs

def new_network(arch: str, num_classes: int, backbone: str | None = None, seed: int = 0) -> nn.Module:
    """`arch` (a name `models.build` knows) with a fresh `num_classes`-way head, in train mode: with random
    weights, or with every other weight from `backbone`, the name of a stored run of the book
    (`results.load_model`). torch is seeded with `seed` first: a seed gives the same network every time."""
    from . import models, results

    torch.manual_seed(seed)
    if backbone is None:
        return models.build(arch, num_classes=num_classes).train()
    stored = results.load_result(backbone)["model"]
    if stored != arch:
        raise ValueError(f"the stored run {backbone} is a {stored}, not a {arch}")
    model = results.load_model(backbone)
    model.reset_classifier(num_classes)
    return model.train()


def train_at_32px(model: nn.Module, train: ImageTensors, test: ImageTensors, epochs: int, lr: float,
                  seed: int = 0, batch_size: int = 64, weight_decay: float = 5e-4, device=None,
                  progress: bool | None = False) -> tuple[History, dict]:
    """Train `model` on 32 x 32 uint8 images (e.g. `pretrain.in_memory(dataset, 32)`) the way CIFAR-10 is
    trained here: `CifarLoader`'s normalisation with CIFAR-10's mean and std (what a backbone trained on
    CIFAR-10 expects), pad-4 crops and flips, SGD with momentum 0.9, a cosine schedule from `lr`, weight decay.
    Every parameter learns at the same rate, pretrained or not, so that a fine-tuned and a from-scratch run
    differ in their start only. `seed` draws the batches and augmentation (the new head's initialisation is
    the caller's). Returns the History and `evaluate`'s metrics on all of `test`."""
    config = TrainConfig(model=None, epochs=epochs, batch_size=batch_size, lr=lr, momentum=0.9,
                         weight_decay=weight_decay, schedule="cosine", seed=seed, device=device,
                         eval_every=epochs, progress=progress)
    train_loader = CifarLoader(train, batch_size, train=True, seed=seed)
    test_loader = CifarLoader(test, 500, train=False)
    history = fit(model, train_loader, test_loader, config)
    return history, evaluate(model, test_loader)
