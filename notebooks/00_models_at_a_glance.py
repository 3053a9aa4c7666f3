# ---
# jupyter:
#   accelerator: GPU
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 0. The models at a glance
#
# This first chapter meets the networks of the book before any of them is trained. Every number below is
# computed by `resnet_lib` from the models themselves, and printed beside the number the paper
# {cite}`he2016deep` gives.
#
# **Learning goals.** After this chapter you can
# - name the five ImageNet ResNets of the paper's Table 1, its plain baseline and VGG, and say what each
#   costs in parameters and multiply-adds, and why the paper's "FLOPs" are multiply-adds;
# - explain the one place where our exact counts and the paper's printed figures part, and why;
# - follow an image through the stages of ResNet-18 and ResNet-50, shape by shape;
# - name the six CIFAR-10 ResNets of the paper's Section 4.2 and their parameters;
# - check that our ImageNet models are torchvision's, weight for weight.

# %% tags=["hide-input"]
# In Colab, install resnet_lib from the book's repository (elsewhere `make book` or
# `pip install -e .` did).
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
rounds_to_paper = {}
for name in ["vgg16", "vgg19", "plain34", "resnet18", "resnet34", "resnet50", "resnet101",
             "resnet152"]:
    params = complexity.count_params(on_meta(name))
    if name.startswith("resnet"):
        v1 = complexity.count_macs(on_meta(name, variant="v1")) / 1e9
        v15 = complexity.count_macs(on_meta(name, variant="v1.5")) / 1e9
        quoted = paper.TABLE1_GMACS[name]
    else:
        v1 = v15 = complexity.count_macs(on_meta(name)) / 1e9
        quoted = {"vgg19": paper.VGG19_GMACS, "plain34": paper.PLAIN34_GMACS}.get(name)
    print(f"{name:<10} {params / 1e6:>10.2f} {v1:>9.2f} {quoted or '':>6} {v15:>10.2f}")
    if quoted:
        rounds_to_paper[name] = round(v1, 1) == quoted
assert [n for n, same in rounds_to_paper.items() if not same] == ["resnet34", "resnet50"]

# %% [markdown]
# Rounded to the paper's one decimal, five of our seven counts print as the paper does: VGG-19 (19.63, the
# paper's 19.6), plain-34 (3.64, 3.6), ResNet-18 (1.81, 1.8), ResNet-101 (7.57, 7.6) and ResNet-152
# (11.28, 11.3). Two do not: ResNet-34 (3.66, printed 3.6) and ResNet-50 (3.86, printed 3.8). VGG-16 has no
# FLOPs figure in the paper's text (its Table 3 lists only its error), VGG-19 has one.
#
# ### Where our counts and the paper's differ
#
# The paper's ResNet-34 comes in three versions, by the shortcut used where a block changes shape (its
# Section 4.1): **A**, the identity with zero-padded extra channels, which costs nothing; **B**, a $1\times1$
# projection there; **C**, projections everywhere. Its first comparison, the one of Table 2 and Figure 4,
# uses option A "so they have no extra parameter compared to the plain counterparts". Our (and
# torchvision's) ResNets use option B. The next cell subtracts the projections' multiply-adds, giving what
# the same network costs with option A:

# %%
print(f"{'model':<10} {'GMACs, B':>9} {'projections':>12} {'GMACs, A':>9} {'paper':>6}")
without = {}
for name in ["resnet18", "resnet34", "resnet50"]:
    net = on_meta(name, variant="v1")
    costs = complexity.profile(net)
    projections = sum(costs[n].macs for n, m in net.named_modules() if n.endswith("downsample"))
    without[name] = costs[""].macs - projections
    print(f"{name:<10} {costs[''].macs / 1e9:>9.3f} {projections / 1e9:>12.3f} "
          f"{without[name] / 1e9:>9.3f} {paper.TABLE1_GMACS[name]:>6}")

# Option A adds no multiply-adds: ResNet-34 with it costs exactly what plain-34 costs.
assert without["resnet34"] == complexity.count_macs(on_meta("plain34"))
assert round(without["resnet34"] / 1e9, 1) == paper.TABLE1_GMACS["resnet34"]  # 3.64 -> 3.6
assert round(without["resnet18"] / 1e9, 1) == paper.TABLE1_GMACS["resnet18"]  # 1.79 -> 1.8
# 3.50: not the paper's 3.8
assert round(without["resnet50"] / 1e9, 1) != paper.TABLE1_GMACS["resnet50"]

# %% [markdown]
# With option A, ResNet-34 costs exactly what plain-34 costs, 3.64 billion multiply-adds, which the paper
# prints as 3.6: the likelier reading is that Table 1 counts the 34-layer network of its first comparison.
# ResNet-18 prints 1.8 either way. ResNet-50 stays open: the paper builds its bottleneck networks with
# projection shortcuts (option B, 3.86), option A would give 3.50, and neither rounds to the printed 3.8.
# The test suite checks every count on this page to the unit, and that each lies within 0.07 of the paper's
# figure. Chapter 3 comes back to these totals, stage by stage.
#
# ResNet-34 does about a fifth of VGG-19's multiply-adds with less than a sixth of its parameters. The
# paper's Figure 3 draws the three networks side by side, aligned by the size of the feature map each layer
# outputs; this drawing is made from our models themselves (`tools/draw_figure3.py` reads every layer's
# kernel, filters and stride off them):
#
# ![Three columns of layers, aligned by output size from 224x224 to 1x1. VGG-19: sixteen 3x3 convolutions in five groups separated by pooling, then three fully connected layers. The 34-layer plain network: a 7x7 convolution, pooling, then thirty-two 3x3 convolutions in four stages of 64, 128, 256 and 512 filters, average pooling and one fully connected layer. The 34-layer residual network: the same layers, with a shortcut around every pair of 3x3 convolutions, dashed where the shape changes.](../images/figure3_vgg_plain_resnet.svg)
#
# Chapter 4 looks at what these numbers do and do not say about speed.
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
# ## An image through ResNet-18 and ResNet-50, stage by stage
#
# `stage_table` groups the modules as the paper's Table 1 does: the $7 \times 7$ stem, the four stages
# `conv2_x` to `conv5_x` (torchvision calls them `layer1` to `layer4`), and the classifier. The `output`
# column traces the shape of one $3 \times 224 \times 224$ image (channels x height x width) through them.
# The stem and its pooling take the image to $56 \times 56$; conv2_x keeps that size, and each of the three
# stages after it halves the feature map and doubles the width, which keeps the multiply-adds of each stage
# of the same order. ResNet-18's basic blocks end with 64 to 512 channels;
# ResNet-50's bottleneck blocks widen them four times, to 256 to 2048, before the same pooling and `fc`:

# %%
for name in ("resnet18", "resnet50"):
    print(name)
    print(complexity.format_table(complexity.stage_table(on_meta(name, variant="v1"))),
          end="\n\n")

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
# The test suite (`tests/test_models.py`) does the same for all five depths.
#
# ## Summary
#
# - The paper's "FLOPs" are multiply-adds. ResNet-18 to ResNet-152 cost 1.8 to 11.3 billion of them on a
#   $224 \times 224$ image; VGG-19 costs 19.6 billion with 144 million parameters.
# - Exact counting reproduces the paper's figures once rounded, except ResNet-34 (3.66 with projection
#   shortcuts; 3.64, printed 3.6, with the parameter-free option A) and ResNet-50 (3.86 against 3.8, open).
# - Every ImageNet ResNet runs the same plan: a stem that takes the image to $56 \times 56$, four stages (each
#   after the first halving the map and doubling the width, down to $7 \times 7$), global average pooling
#   and one `fc` layer.
# - The CIFAR-10 networks are much smaller: $6n+2$ layers of 16 to 64 filters, 0.27M parameters for
#   ResNet-20.
# - Our ImageNet models load torchvision's state dicts key for key and compute the same outputs.
#
# ## Exercises
#
# 1. Count the parameters of ResNet-34's first block in `layer2` by hand (two $3 \times 3$ convolutions, a
#    projection, three batch norms) and check your sum with
#    `complexity.count_params(on_meta("resnet34").layer2[0])`.
#
#    :::{admonition} Hint
#    :class: dropdown
#    $3 \cdot 3 \cdot 64 \cdot 128 + 3 \cdot 3 \cdot 128 \cdot 128 + 64 \cdot 128$ convolution weights,
#    and $2 \times 128$ per batch norm (its weight and bias): 230,144 in all.
#    :::
# 2. Why does the $7 \times 7$ stem of ResNet-50 cost more multiply-adds than its `fc` layer, though it has
#    far fewer weights? Check with `complexity.profile(on_meta("resnet50"))`.
#
#    :::{admonition} Hint
#    :class: dropdown
#    A convolution's weights are used once at every output position ($112 \times 112$ of them for the
#    stem); the `fc` layer's once per image.
#    :::
# 3. Build `on_meta("resnet50", variant="v1.5")` and find, with `profile`, which modules cost more than in
#    "v1". Why does moving a stride from a $1 \times 1$ to a $3 \times 3$ convolution cost 0.23 billion
#    multiply-adds?
#
#    :::{admonition} Hint
#    :class: dropdown
#    With the stride in the $3 \times 3$ convolution, the first $1 \times 1$ convolution of each downsampling
#    block (`layer2.0`, `layer3.0`, `layer4.0`) writes its output at the full resolution: four times its
#    multiply-adds in "v1", 77 million more in each of the three. The $3 \times 3$ convolution's output stays
#    at the half resolution and costs the same. Chapter 3 has the table.
#    :::
# 4. Count the multiply-adds of the CIFAR ResNet-56 on a $32 \times 32$ image with
#    `complexity.count_macs(on_meta("cifar_resnet56"), (1, 3, 32, 32))`. How does it compare with ResNet-18
#    on ImageNet, and why are the CIFAR networks so much cheaper?
#
#    :::{admonition} Hint
#    :class: dropdown
#    0.125 billion, 14 times fewer than ResNet-18's 1.81. Compare one $3 \times 3$ convolution of each: the
#    CIFAR network's first stage runs at $32 \times 32$ where ResNet-18's runs at $56 \times 56$ (3 times
#    fewer positions), with 16 filters instead of 64 (a convolution's cost goes with the product of its input
#    and output widths: 16 times fewer). But ResNet-56 has 27 blocks where ResNet-18 has 8.
#    :::
# 5. Change the input to $1 \times 3 \times 448 \times 448$ in `count_macs`. By what factor do the
#    multiply-adds of ResNet-50 grow, and why does the network still run on an image of that size?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Almost exactly four times (every feature map has four times the positions; only `fc` stays the same);
#    the global average pooling before `fc` turns any map size into one vector of 2048 numbers.
#    :::
#
# ## What comes next
#
# - Chapter 1 asks why depth is hard: gradients that vanish, and plain networks whose *training* error grows
#   with depth.
# - Chapter 2 adds the shortcut, $\mathcal{H}(\mathbf{x}) = \mathcal{F}(\mathbf{x}) + \mathbf{x}$, and
#   trains plain and residual networks side by side.
# - Chapters 3 and 4 open the blocks and compare the cost of ResNet with VGG's.
