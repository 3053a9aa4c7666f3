# ---
# jupyter:
#   accelerator: GPU
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The models at a glance
#
# This first chapter meets the networks of the book before any of them is trained. Every number below is
# computed by `resnet_lib` from the models themselves, and printed beside the number the paper
# {cite}`he2016deep` gives.
#
# **You will see**
# - the five ImageNet ResNets of the paper's Table 1, its plain baseline and VGG, with their parameters and
#   multiply-adds;
# - the six CIFAR-10 ResNets of the paper's Section 4.2 and their parameters;
# - that our ImageNet models are torchvision's, weight for weight.

# %% tags=["hide-input"]
# In Colab, install resnet_lib from the book's repository (elsewhere `make book` or `pip install -e .` did).
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "git+https://github.com/resnet-book/resnet-book"], check=True)

# %% tags=["nbval-ignore-output"]
import torch
import torchvision
import resnet_lib
from resnet_lib import complexity, models, paper
from resnet_lib.complexity import on_meta
from resnet_lib.runsize import describe, run_size

SIZE = run_size()
print(describe(SIZE))


# %% [markdown]
# ## Parameters and multiply-adds
#
# The paper counts the cost of a network in "FLOPs", which are *multiply-adds* (MACs): one multiplication
# and one addition, $2$ floating-point operations. `resnet_lib.complexity` counts them with PyTorch's
# `FlopCounterMode` over one forward pass on a $224 \times 224$ image. The models are built on PyTorch's
# `meta` device: counting needs the shapes of the tensors, not their values, so nothing is allocated.
#
# The paper's bottleneck networks put a downsampling block's stride in its first $1\times1$ convolution
# ("v1"); torchvision moved it to the $3\times3$ convolution ("v1.5"), which costs more. We print both.

# %%
print(f"{'model':<10} {'params (M)':>10} {'GMACs v1':>9} {'paper':>6} {'GMACs v1.5':>10}")
for name in ["vgg16", "vgg19", "plain34", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]:
    params = complexity.count_params(on_meta(name))
    if name.startswith("resnet"):
        v1 = complexity.count_macs(on_meta(name, variant="v1")) / 1e9
        v15 = complexity.count_macs(on_meta(name, variant="v1.5")) / 1e9
        quoted = paper.TABLE1_GMACS[name]
    else:
        v1 = v15 = complexity.count_macs(on_meta(name)) / 1e9
        quoted = {"vgg19": paper.VGG19_GMACS, "plain34": paper.PLAIN34_GMACS}.get(name)
    print(f"{name:<10} {params / 1e6:>10.2f} {v1:>9.2f} {quoted or '':>6} {v15:>10.2f}")

# %% [markdown]
# Our counts agree with the paper's to its last printed digit. The paper is not consistent in how it rounds
# (3.66 is printed "3.6", 7.57 is printed "7.6"), so the test suite checks the exact counts above and that
# each lies within 0.07 of the paper's figure. VGG-16 has no figure in the paper's text, only VGG-19.
#
# ResNet-34 does about a fifth of VGG-19's multiply-adds with less than a sixth of its parameters. Chapter 4
# looks at what these numbers do and do not say about speed.
#
# ## The CIFAR-10 networks
#
# On CIFAR-10 the paper uses narrow networks of $6n+2$ layers (16, 32 and 64 filters) with parameter-free
# identity shortcuts (option A). Their parameters, beside the paper's Table 6:

# %%
print(f"{'depth':>5} {'n':>3} {'params':>10} {'ours (M)':>9} {'paper (M)':>9}")
for depth, quoted in paper.TABLE6_PARAMS_M.items():
    params = complexity.count_params(on_meta(f"cifar_resnet{depth}"))
    print(f"{depth:>5} {(depth - 2) // 6:>3} {params:>10,} {params / 1e6:>9.2f} {quoted:>9}")

# %% [markdown]
# ## ResNet-50, stage by stage
#
# `stage_table` groups the modules as the paper's Table 1 does: the $7 \times 7$ stem, the four stages
# `conv2_x` to `conv5_x` (torchvision calls them `layer1` to `layer4`), and the classifier. Each stage halves
# the feature map and doubles the width, which keeps the multiply-adds of each stage of the same order.

# %%
print(complexity.format_table(complexity.stage_table(on_meta("resnet50", variant="v1"))))

# %% [markdown]
# ## Our models are torchvision's
#
# Our ImageNet ResNets use torchvision's module names, so a state dict saved from `torchvision.models.resnet50`
# (pretrained weights included) loads into ours with `load_state_dict`, key for key, and the two networks
# compute the same function. We check it with the random initial weights of a torchvision model, since this
# page is built without downloading anything:

# %%
torch.manual_seed(0)
theirs = torchvision.models.resnet18(weights=None).eval()
ours = models.resnet18().eval()
result = ours.load_state_dict(theirs.state_dict())  # strict: every key and every shape must match
print(result)
x = torch.randn(4, 3, 224, 224)
with torch.no_grad():
    print("largest difference between the outputs:", (ours(x) - theirs(x)).abs().max().item())

# %% [markdown]
# The test suite (`tests/test_models.py`) does the same for all five depths, and checks every count on this
# page to the unit.
#
# ## What comes next
#
# - Chapter 1 asks why depth is hard: gradients that vanish, and plain networks whose *training* error grows
#   with depth.
# - Chapter 2 adds the shortcut, $\mathcal{H}(\mathbf{x}) = \mathcal{F}(\mathbf{x}) + \mathbf{x}$, and
#   trains plain and residual networks side by side.
# - Chapters 3 and 4 open the blocks and compare the cost of ResNet with VGG's.
