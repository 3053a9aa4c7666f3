# ---
# jupyter:
#   accelerator: GPU
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Residual learning
#
# Chapter 1 ended on a puzzle: a 56-layer plain network, batch-normalised and well initialised, fits its
# training data worse than a 20-layer one, although it could copy the 20-layer network and compute the
# identity with its remaining layers. The paper's answer {cite}`he2016deep` is to change what a few stacked
# layers are asked to learn: not the mapping $\mathcal{H}(\mathbf{x})$ itself, but its difference from the
# identity, $\mathcal{F}(\mathbf{x}) = \mathcal{H}(\mathbf{x}) - \mathbf{x}$, with the input added back by a
# *shortcut*. This chapter reads that idea in the library's code, follows the gradient through the
# addition, measures it, and trains plain and residual networks side by side as in the paper's Figure 6.
#
# **Learning goals**
# - write a residual block as $\mathcal{H}(\mathbf{x}) = \mathcal{F}(\mathbf{x}) + \mathbf{x}$ and find it in
#   the library's code;
# - derive the gradient through the sum, and see the "$1 +$" that carries the gradient past every block;
# - measure the gradient norms of every layer and every block of plain-56 and ResNet-56, at initialisation
#   and after training;
# - count what the paper's shortcut options A, B and C cost in parameters and multiply-adds;
# - reproduce the paper's Figure 6 (plain-20 and plain-56 against ResNet-20 and ResNet-56) at this page's
#   run size.
#
# The outputs stored with this page come from a clean run at the `cpu` size. The next cell prints the
# hardware it ran on; the cells that train print how many CIFAR-10 images and iterations that size means.
# At the `gpu` size the same cells run the paper's full recipe.

# %% tags=["hide-input"]
# In Colab, install resnet_lib from the book's repository (elsewhere `make book` or
# `pip install -e .` did).
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "git+https://github.com/resnet-book/resnet-book"], check=True)

# %% tags=["nbval-ignore-output"]
from resnet_lib.runsize import describe, pick, run_size

SIZE = run_size()
print(describe(SIZE))

# %%
import dataclasses
import inspect
import math
import textwrap

import matplotlib.pyplot as plt
import torch
from IPython.display import display

from resnet_lib import paper, results
from resnet_lib.complexity import count_macs, count_params
from resnet_lib.data import CifarLoader, load_cifar10
from resnet_lib.models import CifarBlock, build
from resnet_lib.plots import plot_error_curves
from resnet_lib.probes import gradient_norms, input_gradient_norms, spread, weighted_layers
from resnet_lib.train import TrainConfig, fit, pick_device

device = pick_device()

# %% [markdown]
# ## The residual block
#
# Let $\mathcal{H}(\mathbf{x})$ be the mapping a few stacked layers should compute. A plain network asks
# them to fit $\mathcal{H}$ directly. A residual network asks them to fit the *residual*
# $\mathcal{F}(\mathbf{x}) := \mathcal{H}(\mathbf{x}) - \mathbf{x}$, and adds the input back:
#
# $$
# \mathbf{y} = \mathcal{F}(\mathbf{x}, \{W_i\}) + \mathbf{x}.
# $$
#
# ![A residual block: the input x goes through a weight layer, a ReLU and a second weight layer, which compute F(x); an identity shortcut carries x around them to an addition, and a ReLU follows the sum F(x) + x.](../images/figure2_residual_block.svg)
#
# This is the paper's Eq. 1 and its Figure 2. The two formulations can represent the same functions; what differs is what
# is easy to reach. If the best a block can do is to pass its input through unchanged, as the extra layers
# of the deep network in chapter 1 should, a residual block only has to drive its weights toward zero,
# while a plain block has to make a stack of convolutions, batch normalisations and ReLUs compute the
# identity. And if the best mapping is close to the identity, the residual block learns a small
# correction to it.
#
# In the CIFAR-10 networks of the paper's Section 4.2, $\mathcal{F}$ is two $3\times3$ convolutions, each
# followed by batch normalisation, with a ReLU between them; a second ReLU comes after the addition. That
# is the whole block, and it fits in a few lines of PyTorch. Here it is from scratch, for a block that
# keeps its shape (16 channels in, 16 out, as in the first stage):

# %%
from torch import nn


class BlockFromScratch(nn.Module):
    """y = relu(F(x) + x), with F(x) = BN(conv(relu(BN(conv(x))))): the paper's Figure 2
    and Eq. 1."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        f = torch.relu(self.bn1(self.conv1(x)))  # the first weight layer, then relu
        f = self.bn2(self.conv2(f))  # the second weight layer: F(x)
        return torch.relu(f + x)  # the shortcut: F(x) + x, then the second relu


torch.manual_seed(0)
ours = CifarBlock(16, 16).eval()
scratch = BlockFromScratch(16).eval()
print(scratch.load_state_dict(ours.state_dict()))  # strict: the same weights, key for key
x = torch.randn(2, 16, 32, 32)
with torch.no_grad():
    print("largest difference from the library's CifarBlock:",
          (scratch(x) - ours(x)).abs().max().item())

# %% [markdown]
# The library's `CifarBlock` computes the same function, with more to handle: the first block of a stage
# changes the shape (the shortcut options below), and the same code builds the plain twin. Its residual
# function and its forward pass:

# %%
print(textwrap.dedent(inspect.getsource(CifarBlock.residual_function)))
print(textwrap.dedent(inspect.getsource(CifarBlock.forward)))

# %% [markdown]
# `out + (x if shortcut is None else shortcut(x))` is $\mathcal{F}(\mathbf{x}) + \mathbf{x}$: every block of
# the library shares this `forward` (it is `ResidualBlock`'s). The shortcut is `x` itself, except in the
# first block of stages 2 and 3, where the feature map halves and the number of channels doubles and the shortcut
# has to change shape too (the options A, B and C below). The plain twin of each network is the same code
# with `residual=False`: the same layers, the same initialisation, no addition. The two differ by nothing
# else:
# %%
for depth in (20, 56):
    plain, res = build(f"cifar_plain{depth}"), build(f"cifar_resnet{depth}")
    same = [n for n, _ in weighted_layers(plain)] == [n for n, _ in weighted_layers(res)]
    print(f"plain-{depth}: {count_params(plain):,} parameters; "
          f"ResNet-{depth}: {count_params(res):,} parameters;\n"
          f"  {len(weighted_layers(res))} weighted layers each, the same layers: {same}")

# %% [markdown]
# ## The gradient through the sum
#
# Differentiate $\mathbf{y} = \mathcal{F}(\mathbf{x}) + \mathbf{x}$ and apply the chain rule: the gradient
# of the loss for the block's input is the one for its output times the block's Jacobian,
#
# $$
# \frac{\partial \mathcal{L}}{\partial \mathbf{x}}
# = \frac{\partial \mathcal{L}}{\partial \mathbf{y}} \frac{\partial \mathbf{y}}{\partial \mathbf{x}}
# = \frac{\partial \mathcal{L}}{\partial \mathbf{y}} \left( I + \frac{\partial \mathcal{F}}{\partial \mathbf{x}} \right)
# = \frac{\partial \mathcal{L}}{\partial \mathbf{y}}
# + \frac{\partial \mathcal{L}}{\partial \mathbf{y}} \frac{\partial \mathcal{F}}{\partial \mathbf{x}}.
# $$
#
# The first term is the gradient from above, passed down unchanged; the second is what the residual branch
# adds to it. In a plain block only the second term exists, and chapter 1 showed what a product of such
# terms, one per layer, can do. For a stack of blocks from $l$ to $L$ whose outputs are exactly
# $\mathbf{x}_{k+1} = \mathbf{x}_k + \mathcal{F}(\mathbf{x}_k)$, unrolling gives
# $\mathbf{x}_L = \mathbf{x}_l + \sum_{k=l}^{L-1} \mathcal{F}(\mathbf{x}_k)$ and
#
# $$
# \frac{\partial \mathcal{L}}{\partial \mathbf{x}_l}
# = \frac{\partial \mathcal{L}}{\partial \mathbf{x}_L}
# \left( I + \frac{\partial}{\partial \mathbf{x}_l} \sum_{k=l}^{L-1} \mathcal{F}(\mathbf{x}_k) \right),
# $$
#
# a sum, not a product: the gradient of the top reaches every block directly (the follow-up paper,
# *Identity mappings in deep residual networks* {cite}`he2016identity`). The
# paper's block is not quite this clean: a ReLU follows the addition, and the first block of each stage
# changes shape. The ReLU's derivative is 0 or 1, so it masks the gradient but never scales it down. Does
# the "$1 +$" survive in practice? We measure it.
#
# ## Gradients of plain-56 and ResNet-56
#
# The probe batch is the first 128 images of CIFAR-10's training split {cite}`krizhevsky2009learning`,
# without augmentation, the same at every run size. Two measurements on each network, from the same seed:
# the norm of $\partial\mathcal{L}/\partial W$ for each of the 56 weighted layers (`gradient_norms`), and
# the norm, per image, of $\partial\mathcal{L}/\partial\mathbf{x}_l$ for the input $\mathbf{x}_l$ of each of
# the 27 blocks (`input_gradient_norms`), the quantity of the equations above.

# %%
train = load_cifar10("train")
val = load_cifar10("val")
print(train.source.replace("; ", ";\n  "))
x, y = next(iter(CifarLoader(train, batch_size=128, train=False)))
print("probe batch:", tuple(x.shape))
# the 27 blocks of a 56-layer net
BLOCKS = [f"layer{stage}.{i}" for stage in (1, 2, 3) for i in range(9)]
print(len(BLOCKS), "blocks:", ", ".join(BLOCKS[:3]), "...", BLOCKS[-1])

# %% tags=["nbval-ignore-output"]
PAIR = {"cifar_plain56": "plain-56", "cifar_resnet56": "ResNet-56"}


def fresh(name):
    torch.manual_seed(0)
    return build(name).to(device)


def measure(net):
    return gradient_norms(net, x, y), input_gradient_norms(net, x, y, BLOCKS)


def per_block(values):
    # geometric mean of the growth from one block's input to the previous block's input
    v = list(values)
    return (v[0] / v[-1]) ** (1 / (len(v) - 1))


def report(measured):
    print(f"{'':<22} {'weight gradients: largest / smallest':>37} "
          f"{'block inputs: first / last':>27} {'per block':>10}")
    for key, (w, b) in measured.items():
        bv = list(b.values())
        print(f"{key:<22} {spread(w):>37.0f} {bv[0] / bv[-1]:>27.0f} {per_block(bv):>10.3f}")


at_init = {PAIR[name] + ", at init": measure(fresh(name)) for name in PAIR}
report(at_init)
(wp, bp), (wr, br) = at_init.values()
assert spread(wp) > 10 * spread(wr)                   # plain-56's layers are far more uneven
# and its gradient changes more from block to block
assert per_block(bp.values()) > per_block(br.values())


# %%
def plot_gradients(measured, title):
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for i, (key, (w, b)) in enumerate(measured.items()):
        style = "--" if "after" in key else "-o"
        color = "C1" if key.startswith("ResNet") else "C0"
        axes[0].plot(range(1, len(w) + 1), list(w.values()), style, ms=2, color=color, label=key)
        axes[1].plot(range(1, len(b) + 1), list(b.values()), style, ms=3, color=color, label=key)
    axes[0].set_xlabel("layer (1 = the first convolution, 56 = the fc layer)")
    axes[0].set_ylabel("||dL/dW||")
    axes[0].set_title("weight gradient of each layer")
    axes[1].set_xlabel("block (1 = next to the input)")
    axes[1].set_ylabel("||dL/dx|| per image")
    axes[1].set_title("gradient at the input of each block")
    for ax in axes:
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    plt.show()


plot_gradients(at_init, "plain-56 and ResNet-56 at initialisation")

# %% [markdown]
# At initialisation the two networks have the same layers and the same weights; only the additions differ.
# In plain-56 the gradient at a block's input is the product of the Jacobians of all the blocks above it,
# and it changes by a large factor from block to block (the last column of the table: the geometric mean of
# that factor); over 27 blocks the first block's input receives thousands of times the gradient of the
# last's, and the weight gradients of the layers spread just as widely. In ResNet-56 every block passes the
# gradient from above through its shortcut and adds its own branch's contribution, so the gradient changes
# only slightly from block to block, and the weight gradients of the 56 layers stay within a narrow band;
# the first convolution and the fc layer stand out at the two ends, as they do in any network.
#
# This is the measured version of the equation: the "$1 +$" keeps the gradient of each block close to the
# gradient of the block above it. Chapter 1 showed that plain-56's gradients do not vanish; what the
# shortcuts change is that the gradient no longer has to pass through every layer, and every layer sees
# gradients of about the same size.
#
# ## Plain against residual: the paper's Figure 6
#
# The paper's Figure 6 trains plain networks and ResNets of 20, 32, 44, 56 and 110 layers on CIFAR-10. Its
# observations: the deeper plain networks have *higher* training error (the degradation problem), while the
# deeper ResNets have *lower* training error; the ResNets "overcome the optimization difficulty and
# demonstrate accuracy gains when the depth increases". We train plain-20, plain-56, ResNet-20 and
# ResNet-56 with the library's `fit`, the paper's recipe (SGD with momentum 0.9, weight decay $10^{-4}$,
# batch 128, learning rate 0.1 divided by 10 at half and three quarters of the iterations), at this page's
# run size, every network from the same seed and on the same batches.
#
# One change from the paper, at the `smoke` and `cpu` sizes only: the learning rate starts at 0.01 and
# rises linearly to 0.1 over the first two epochs, for all four networks alike. Without it, in our runs at
# the `cpu` size, ResNet-56 diverged in its first iterations at the full rate of 0.1 and, with only a few
# hundred iterations to go, ended no better than chance (exercise 6 lets you watch it). The paper met the
# same difficulty with ResNet-110, where "0.1 is slightly too large to start converging", and started it at
# 0.01 (its Section 4.2); on the full recipe its ResNet-56 needed no warm-up, and the `gpu` size follows the
# paper exactly.

# %% tags=["nbval-ignore-output"]
R = paper.CIFAR_RECIPE
TRAIN_IMAGES = pick(SIZE, smoke=512, cpu=5_000, gpu=R["train_images"])
VAL_IMAGES = pick(SIZE, smoke=500, cpu=1_000, gpu=R["val_images"])
train_loader = CifarLoader(train, R["batch_size"], train=True, device=device, subset=TRAIN_IMAGES,
                           seed=0)
val_loader = CifarLoader(val, 500, train=False, device=device, subset=VAL_IMAGES)
ITERATIONS = pick(SIZE, smoke=2 * len(train_loader), cpu=8 * len(train_loader),
                  gpu=R["iterations"])
# The short runs only: the learning rate rises linearly from 0.01 to 0.1 over the first epochs
# (see below)
WARMUP = pick(SIZE, smoke=len(train_loader), cpu=2 * len(train_loader), gpu=0)
config = TrainConfig(iterations=ITERATIONS, batch_size=R["batch_size"], lr=R["lr"],
                     momentum=R["momentum"], weight_decay=R["weight_decay"],
                     milestones=(ITERATIONS // 2, ITERATIONS * 3 // 4),
                     warmup_iters=WARMUP, warmup="linear", warmup_lr=0.01, progress=False)
print(f"training images: {TRAIN_IMAGES:,} of the {len(train):,} "
      f"(with the paper's crops and flips)")
print(f"validation images: {VAL_IMAGES:,} of the {len(val):,} held out")
print(f"{ITERATIONS:,} iterations of batch {config.batch_size} = "
      f"{ITERATIONS / len(train_loader):.0f} epochs; learning rate {config.lr}, divided by 10 at "
      f"iterations {config.milestones[0]:,} and {config.milestones[1]:,}")
if WARMUP:
    print(f"warm-up: the learning rate rises linearly from {config.warmup_lr} to {config.lr} "
          f"over the first {WARMUP:,} iterations")
print(f"the paper: {R['iterations']:,} iterations, a length it chose on a {R['train_images']:,}/"
      f"{R['val_images']:,} train/val split; lr divided at {R['milestones'][0]:,} and "
      f"{R['milestones'][1]:,}")

# %% tags=["nbval-ignore-output"]
NAMES = {"cifar_plain20": "plain-20", "cifar_plain56": "plain-56",
         "cifar_resnet20": "ResNet-20", "cifar_resnet56": "ResNet-56"}
nets, runs = {}, {}
for name, short in NAMES.items():
    nets[name] = fresh(name)
    runs[name] = fit(nets[name], train_loader, val_loader,
                     dataclasses.replace(config, model=name))
    print(f"{short}: trained in {runs[name].meta['wall_seconds']:.0f} s "
          f"({runs[name][-1]['images_per_s']:.0f} images/s in the last epoch)")

# %% [markdown]
# As in the paper's figure, plain networks on the left and ResNets on the right; training error dashed,
# validation error solid, in percent, after each epoch:

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True, layout="constrained")
for ax, kind, title in ((axes[0], "plain", "plain networks"), (axes[1], "resnet", "ResNets")):
    for i, depth in enumerate((20, 56)):
        name = f"cifar_{kind}{depth}"
        h = runs[name]
        its = h.series("iteration")
        ax.plot(its, [100 * (1 - a) for a in h.series("train_top1")], "--", color=f"C{i}",
                label=f"{NAMES[name]}, training")
        ax.plot(its, [100 * (1 - a) for a in h.series("val_top1")], "-o", ms=3, color=f"C{i}",
                label=f"{NAMES[name]}, validation")
    ax.set_title(title)
    ax.set_xlabel("iteration")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
axes[0].set_ylabel("top-1 error (%)")
plt.show()

# %% tags=["nbval-ignore-output"]
err = {name: (100 * (1 - runs[name][-1]["train_top1"]), 100 * (1 - runs[name][-1]["val_top1"]))
       for name in NAMES}
print(f"{'':<10} {'training error':>15} {'validation error':>17}   (%, last epoch)")
for name, short in NAMES.items():
    print(f"{short:<10} {err[name][0]:>15.1f} {err[name][1]:>17.1f}")
train_err = {NAMES[name]: e[0] for name, e in err.items()}
print(f"going from 20 to 56 layers changes the training error by "
      f"{train_err['plain-56'] - train_err['plain-20']:+.1f} points in the plain networks, "
      f"{train_err['ResNet-56'] - train_err['ResNet-20']:+.1f} points in the ResNets")
print(f"at 56 layers, the shortcuts change the training error by "
      f"{train_err['ResNet-56'] - train_err['plain-56']:+.1f} points")

for h in runs.values():
    losses = h.series("train_loss")
    assert all(math.isfinite(v) for v in losses)
    # all four learn (eight smoke iterations may not show it)
    assert SIZE == "smoke" or losses[-1] < losses[0]
if SIZE != "smoke":  # a few iterations cannot show it; every larger size does
    assert train_err["plain-56"] - train_err["plain-20"] > 3         # degradation
    assert train_err["plain-56"] - train_err["ResNet-56"] > 3        # removed by the shortcuts
    assert (train_err["ResNet-56"] - train_err["ResNet-20"]
            < train_err["plain-56"] - train_err["plain-20"])
if SIZE == "cpu":  # this short a run: ResNet-56 not yet below ResNet-20 (the text below says so)
    assert train_err["ResNet-56"] > train_err["ResNet-20"]

# %% [markdown]
# The last lines printed sum it up. Going from 20 to 56 layers raises the training error of the plain
# networks, the degradation of chapter 1. The same 56 layers with shortcuts train to a much lower error
# than plain-56, and depth costs the ResNets far less than it costs the plain networks. But at the `cpu`
# size ResNet-56 ends with a *higher* training error than ResNet-20, not the lower one of the paper's
# figure: in a run of a few hundred iterations the deeper network has not caught up yet, and this run
# cannot tell "trains slower" from "trains worse". The paper's curves are after 64,000 iterations; its
# Table 6 gives final test errors of 8.75% for ResNet-20 and 6.97% for ResNet-56. The numbers printed are
# this run's, on the book's copy of CIFAR-10 ({ref}`what that copy is <stored-data>`). Chapter 1 trained
# plain-20 and plain-56 on the same images without the warm-up, and ended at 58.3% and 77.5%, below this
# page's 60.1% and 79.0%: the warm-up is the only difference between the two runs.
#
# (fig6-stored)=
# ### Figure 6 from longer, stored runs
#
# The book stores four runs long enough to answer the question: plain-20, plain-56, ResNet-20 and
# ResNet-56, each 20 epochs (7,020 iterations of 128, 22.5 times this page's `cpu` run) on all 45,000
# training images, with the paper's recipe compressed to that length: learning rate 0.1, divided by 10 at
# half and at three quarters of the run, no warm-up, the same seed for all four, in float32 on one CPU
# thread. The 5,000 held-out images were evaluated after every epoch, the 10,000 test images once at the
# end. `results.load_result` reads a run from the repository's `results/` folder, and
# `results.load_model("fig6-cifar10-resnet56")` gives the trained network. The first line printed says where
# they ran:

# %%
FIG6 = {"plain-20": "fig6-cifar10-plain20", "plain-56": "fig6-cifar10-plain56",
        "ResNet-20": "fig6-cifar10-resnet20", "ResNet-56": "fig6-cifar10-resnet56"}
stored = {label: results.load_result(name) for label, name in FIG6.items()}
versions = {run["provenance"]["torch"] for run in stored.values()}
assert len(versions) == 1  # one torch for all four
data = stored["plain-20"]["provenance"]["data"].split(":")[0]
print(f"{data}; torch {versions.pop()}, one CPU thread:")
for label, run in stored.items():
    assert all(m["hardware"].endswith(", 1 thread") for m in run["machines"])
    parts = []
    for m in run["machines"]:
        hardware = m["hardware"].removesuffix(", 1 thread")
        parts.append(f"epochs {m['epochs'][0]}-{m['epochs'][1]} on {hardware}")
    print(f"  {label:<10}", "; ".join(parts))
print(f"{'':<10} {'iterations':>10} {'training':>9} {'validation':>11} {'test':>7} "
      f"{'CPU hours':>10}")
final = {}
for label, run in stored.items():
    last = run["history"][-1]
    final[label] = {"train": 100 * (1 - last["train_top1"]), "val": 100 * (1 - last["val_top1"]),
                    "test": run["test"]["error_pct"]}
    print(f"{label:<10} {run['iterations']:>10,} {final[label]['train']:>8.2f}% "
          f"{final[label]['val']:>10.2f}% {final[label]['test']:>6.2f}% "
          f"{run['train_seconds'] / 3600:>10.2f}")
print("top-1 error: training, on the augmented images of the last epoch;\n"
      "validation, on the 5,000 held out; test, on the 10,000 test images")
assert {run["iterations"] for run in stored.values()} == {7_020}  # four runs of one length
assert final["plain-56"]["train"] > final["plain-20"]["train"]    # deeper plain: higher
assert final["ResNet-56"]["train"] < final["ResNet-20"]["train"]  # deeper ResNet: lower
p = final["ResNet-20"]["train"] / 100
se = 100 * math.sqrt(p * (1 - p) / stored["ResNet-20"]["provenance"]["train_images"])
margin = final["ResNet-20"]["train"] - final["ResNet-56"]["train"]
print(f"ResNet-56 below ResNet-20 by {margin:.2f} points of training error;\n"
      f"the sampling error of one such error is {se:.2f}")
assert 0 < margin < 2 * se                                         # small: the text says so
assert all(final["ResNet-56"][k] < final["ResNet-20"][k] for k in ("val", "test"))
assert all(final["plain-56"][k] > final["plain-20"][k] for k in ("val", "test"))

# %%
curves = {"plain networks": ("plain-20", "plain-56"), "ResNets": ("ResNet-20", "ResNet-56")}
display(plot_error_curves({title: {k: stored[k]["history"] for k in pair}
                           for title, pair in curves.items()}))

# %% [markdown]
# Both halves of the paper's Figure 6 are there. Plain-56 ends with a far higher training error than
# plain-20, and its validation and test errors follow: degradation, on the very images it trains on. The
# gap is far larger than in the paper's figure, where every curve ends below 20%: at a ninth of the paper's
# length plain-56 is still learning slowly, the "trains slower" half of chapter 1's question. ResNet-56
# ends below ResNet-20, in training error and in validation and test error, so the 36 extra layers with
# shortcuts help instead of hurting. But the margin of the training errors is small, about a quarter of a
# point, less than twice the sampling error of an error counted on 45,000 images (the last line printed):
# one run at this length cannot show it beyond doubt. The paper's ResNets pull further apart over its
# 64,000 iterations (Table 6: 8.75% and 6.97% test error). Our errors are higher than
# the paper's: the runs are nine times shorter, on the book's JPEG copy of CIFAR-10. Exercise 7 measures
# the noise of one run.
#
# ## Gradients after training
#
# The same two measurements on the trained plain-56 and ResNet-56, beside those at initialisation:

# %% tags=["nbval-ignore-output"]
trained = {PAIR[name] + ", after training": measure(nets[name]) for name in PAIR}
report(trained)
(wp, bp), (wr, br) = trained.values()
assert all(math.isfinite(v) for v in [*wp.values(), *wr.values()])
if SIZE != "smoke":  # the text below: after training, the spreads are of the same order
    assert spread(wp) < 3 * spread(wr)
print(f"after training, the weight gradients of plain-56 spread over {spread(wp):.0f}x, "
      f"ResNet-56's over {spread(wr):.0f}x")

# %%
plot_gradients({**at_init, **trained},
               "plain-56 and ResNet-56, at initialisation (solid) and after training (dashed)")


# %% [markdown]
# Training changes the sizes: the learning rate, the weight decay and the growth of the weights all act on
# them, and in a batch-normalised network larger weights mean proportionally smaller gradients. After this
# run the two networks' weight gradients spread about equally (the last line printed), where at
# initialisation (the first table) plain-56's were about a hundred times more uneven than ResNet-56's. What
# the shortcuts guarantee is not a particular size of gradient but a path: every block's gradient includes
# the gradient from above, unchanged.
#
# ## The shortcut options A, B and C
#
# Where a block changes shape (the first block of stages 2 and 3: half the feature map, twice the
# channels), $\mathbf{x}$ cannot be added to $\mathcal{F}(\mathbf{x})$ as it is. The paper's Eq. 2 uses a
# linear projection $W_s$ there, $\mathbf{y} = \mathcal{F}(\mathbf{x}) + W_s \mathbf{x}$, and its Section 4.1
# compares three options:
#
# - **A**: the identity, subsampled and padded with zero channels where the shape changes. No parameters.
#   The paper's CIFAR-10 networks use it.
# - **B**: a projection ($1\times1$ convolution with stride 2, followed by batch normalisation) where the
#   shape changes; the identity elsewhere.
# - **C**: a projection on every shortcut.
#
# What each costs, counted on the library's models:

# %%
# built on the meta device: shapes only, nothing is allocated
from resnet_lib.complexity import on_meta

print(f"{'network':<11} {'option':>6} {'projections':>11} {'parameters':>11} {'vs A':>7} "
      f"{'multiply-adds':>14} {'vs A':>7}")
for depth in (20, 56, 110):
    base = None
    for option in ("A", "B", "C"):
        net = on_meta(f"cifar_resnet{depth}", shortcut=option)
        projections = len(weighted_layers(net, shortcuts=True)) - len(weighted_layers(net))
        params, macs = count_params(net), count_macs(net, (1, 3, 32, 32))
        base = base or (params, macs)
        print(f"ResNet-{depth:<4} {option:>6} {projections:>11} {params:>11,} "
              f"{params / base[0] - 1:>+7.1%} {macs:>14,} {macs / base[1] - 1:>+7.1%}")

# %% [markdown]
# Option B adds two small projections to the whole network; option C adds one to every block, a
# noticeable share of the parameters of these narrow networks. Are they worth it? The paper answers on
# ImageNet with ResNet-34 (its Table 3, top-1 error, 10-crop testing; the paper's numbers, not ours):

# %%
for key in ("plain34", "resnet34 (A)", "resnet34 (B)", "resnet34 (C)"):
    print(f"{key:<13} {paper.TABLE3_TOP1_ERROR[key]:.2f}%  (the paper's Table 3)")

# %% [markdown]
# All three options are far better than the plain network. B is slightly better than A, which the paper
# attributes to the zero-padded channels of A having no residual learning; C is marginally better than B,
# which it attributes to the extra parameters of the many projections. Its conclusion: "the small
# differences among A/B/C indicate that projection shortcuts are not essential for addressing the
# degradation problem". The shortcuts that matter are the identities; the paper keeps C out of the rest of
# its experiments to save memory, time and model size. Exercise 3 runs the comparison on CIFAR-10.
#
# ## Summary
#
# - A residual block computes $\mathbf{y} = \mathcal{F}(\mathbf{x}) + \mathbf{x}$: its layers learn the
#   difference from the identity, and the identity costs nothing (no parameter, one addition).
# - The gradient through the sum is the gradient from above plus the branch's: the "$1 +$" carries it past
#   every block unchanged, whatever the branch does.
# - Measured at initialisation, plain-56's layer gradients spread over three orders of magnitude and
#   ResNet-56's far less; after training the two spreads are of the same order. What the shortcuts
#   guarantee is a path for the gradient, not a particular size of it.
# - The paper's Figure 6: deeper plain networks train to a higher error, deeper ResNets to a lower one.
#   A run as short as this page's at the `cpu` size shows the first half clearly and the second not yet;
#   the stored runs of 7,020 iterations show both, the second by a small margin.
# - Where a block changes shape the shortcut needs zero padding (A) or a projection (B, C); on ImageNet
#   the three differ by less than a point, so the identity, not the projection, is what matters.
#
# ## Exercises
#
# 1. Zero-initialise the last batch normalisation of every residual branch (`bn2.weight`, as the library's
#    `zero_init_residual` does for the ImageNet models) in a ResNet-56. Which function does every block
#    compute at initialisation? Measure `input_gradient_norms` and explain the result with the equation of
#    the gradient through the sum.
#
#    :::{admonition} Hint
#    :class: dropdown
#    With `bn2.weight` (and its bias) at zero the branch outputs zero, so a block computes
#    $\operatorname{relu}(\mathbf{x})$, which is $\mathbf{x}$ itself for the non-negative output of the block before:
#    every block is the identity, except that the first block of stages 2 and 3 subsamples and zero-pads
#    (option A). The gradient through each block is then $1 + 0$: equal norms at every block of a stage.
#    :::
# 2. In a plain-56, measure the gradient at the input of each block after training, and compare the ratio
#    of consecutive blocks with ResNet-56's. Which blocks change the gradient most?
# 3. Train ResNet-20 with `shortcut="A"`, `"B"` and `"C"` at this page's configuration, and compare their
#    final training and validation errors with the differences of the paper's Table 3. Repeat with another
#    seed: are the differences larger than the run-to-run variation?
# 4. Train `cifar_plain110` and `cifar_resnet110`. The paper reports that plain-110's error is "higher than
#    60%" and that ResNet-110 needed a warm-up (a learning rate of 0.01 until the training error is below
#    80%, then 0.1). Use `TrainConfig(warmup_iters=...)`.
# 5. Write the backward equation for a block with the ReLU after the addition, $\mathbf{y} =
#    \operatorname{relu}(\mathcal{F}(\mathbf{x}) + \mathbf{x})$. What does the ReLU do to the "$1 +$"?
#    {cite:t}`he2016identity`, in *Identity mappings in deep residual networks*, move it into the branch
#    (their "full pre-activation" block).
#
#    :::{admonition} Hint
#    :class: dropdown
#    $\partial \mathbf{y} / \partial \mathbf{x} = \operatorname{diag}(\mathbb{1}[\mathcal{F}(\mathbf{x}) + \mathbf{x} > 0])
#    \,(\partial \mathcal{F} / \partial \mathbf{x} + I)$: the ReLU's mask multiplies the identity term too, so the
#    gradient passes the shortcut only where the sum is positive.
#    :::
# 6. Set `WARMUP = 0` in the configuration cell and train ResNet-56 alone for one epoch at this page's size,
#    printing the loss of every iteration (a short loop of your own over `train_loader`, or `fit` with
#    `iterations=1` in a loop). What happens in the first ten iterations? Try a learning rate of 0.05.
# 7. How much does one run vary? Train ResNet-20 twice at this page's `cpu` size with two seeds
#    (`dataclasses.replace(config, seed=1)`, and a `CifarLoader` with `seed=1`), and compare the difference
#    of their final training errors with the quarter of a point between the stored ResNet-20 and ResNet-56.
#
#    :::{admonition} Hint
#    :class: dropdown
#    The training error of an epoch counts mistakes on 45,000 augmented images (5,000 at the `cpu` size),
#    so even its sampling error alone is $\sqrt{p(1-p)/n}$: about 0.16 points at $p = 0.13$ and
#    $n = 45{,}000$. Different seeds add the differences of initialisation and batch order on top.
#    :::
#
# ## References
#
# - {cite:t}`he2016deep`: residual learning (Section 3.1), Eq. 1 and 2, the shortcut options (Section 4.1,
#   Table 3), the CIFAR-10 networks and Figure 6 (Section 4.2).
# - {cite:t}`he2016identity`, *Identity mappings in deep residual networks*: the gradient through identity
#   shortcuts, and blocks whose shortcut path is exactly the identity.
# - {cite:t}`ioffe2015batch`: batch normalisation.
# - {cite:t}`he2015delving`: the initialisation of the networks.
# - {cite:t}`krizhevsky2009learning`: CIFAR-10.
