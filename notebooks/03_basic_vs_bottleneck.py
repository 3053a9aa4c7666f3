# ---
# jupyter:
#   accelerator: GPU
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Basic and bottleneck blocks
#
# ResNet-18 and ResNet-34 are stacks of *basic blocks*; ResNet-50, 101 and 152 are stacks of *bottleneck
# blocks*. This chapter opens both, counts what they cost, and rebuilds the paper's Table 1 from the
# library's models {cite}`he2016deep`.
#
# **Learning goals**
# - read the two blocks of the paper's Figure 5, and find $\mathbf{y} = \mathcal{F}(\mathbf{x}) + \mathbf{x}$
#   in the library's code;
# - count the parameters and multiply-adds of a convolution by hand, and check the count against the
#   library's;
# - explain how two $1\times1$ convolutions let a bottleneck block carry four times the width of a basic
#   block for about the same cost;
# - regenerate the paper's Table 1, and say where its printed "FLOPs" differ from an exact count;
# - tell the paper's ResNet-50 ("v1") from torchvision's ("v1.5"), and say what the difference costs.
#
# Nothing in this chapter trains. Every number is an exact count, the same on any machine, except those of
# one timing cell near the end. The outputs stored with this page come from a run at the `cpu` size; the
# line printed by the next cell gives the hardware it ran on.

# %% tags=["hide-input"]
# In Colab, install resnet_lib from the book's repository (elsewhere `make book` or
# `pip install -e .` did).
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "git+https://github.com/resnet-book/resnet-book"], check=True)

# %% tags=["nbval-ignore-output"]
from resnet_lib.runsize import run_size, describe
SIZE = run_size()
print(describe(SIZE))

# %%
import inspect
import textwrap

import torch
from torch import nn

from resnet_lib import paper
from resnet_lib.complexity import (count_macs, count_params, on_meta,
                                   profile, stage_table)
from resnet_lib.models import BasicBlock, Bottleneck, build
from resnet_lib.show import show_table


# %% [markdown]
# ## The two blocks
#
# Figure 5 of the paper draws the two blocks; here they are again.
#
# ![A basic block (two 3x3 convolutions of 64 filters) and a bottleneck block (a 1x1 convolution from 256 to 64 channels, a 3x3 convolution of 64 filters, a 1x1 convolution back to 256), each with an identity shortcut from its input to an addition followed by a ReLU](../images/blocks.svg)
#
# On the left, the *basic block*: two $3\times3$ convolutions of 64 filters on a 64-channel input. On the
# right, the *bottleneck block*: a $1\times1$ convolution reduces 256 channels to 64, a $3\times3$
# convolution works at 64, and a second $1\times1$ convolution restores 256 (the $1\times1$ convolutions
# are drawn in orange). In both, the input $\mathbf{x}$ goes around the convolutions and is added to their
# output, and the last ReLU comes after the addition. Each convolution is followed by batch normalisation
# {cite}`ioffe2015batch`, left out of the figure as in the paper's. The grey numbers are the weights of
# each convolution; we count them below.
#
# In the library the block is the paper's Eq. 1, line for line. Its residual function
# $\mathcal{F}(\mathbf{x})$ and its forward pass:

# %%
print(textwrap.dedent(inspect.getsource(BasicBlock.residual_function)))
print(textwrap.dedent(inspect.getsource(BasicBlock.forward)))

# %% [markdown]
# `forward` adds the input back: `out + (x if shortcut is None else shortcut(x))` is
# $\mathcal{F}(\mathbf{x}) + \mathbf{x}$, where the shortcut is `x` itself, or the projection
# $W_s\mathbf{x}$ of the paper's Eq. 2 (`downsample`, a $1\times1$ convolution) in the few blocks where the
# shape changes. The bottleneck block has the same
# `forward`; only its residual function differs, with three convolutions instead of two:

# %%
print(textwrap.dedent(inspect.getsource(Bottleneck.residual_function)))

# %% [markdown]
# ## What a convolution costs
#
# A $k\times k$ convolution from $C_\text{in}$ to $C_\text{out}$ channels has one $k\times k$ filter for each
# pair of an input and an output channel (and no bias: the batch normalisation after it has its own):
#
# $$
# \text{params} = k^2\, C_\text{in}\, C_\text{out}.
# $$
#
# It applies every one of these weights once at each position of its $H \times W$ output, one multiply-add
# each:
#
# $$
# \text{MACs} = \text{params} \times H \times W.
# $$
#
# So a $3\times3$ convolution from 64 to 64 channels has $9 \cdot 64 \cdot 64$ weights, and on the
# $56\times56$ feature maps of the conv2_x stage it does that many multiply-adds at each of the
# $56 \cdot 56$ positions. The next cell applies the two formulas to every convolution of the two blocks of
# Figure 5, and checks each result against the library's counter (`profile`, which counts what PyTorch
# actually executes):

# %%
H = W = 56  # the conv2_x stage of every ImageNet ResNet
blocks = {"basic, 64-d": (BasicBlock(64, 64), 64),
          "bottleneck, 256-d": (Bottleneck(256, 64), 256)}

rows, per_block = [], {}
for label, (block, c_in) in blocks.items():
    costs = profile(block, (1, c_in, H, W))
    conv_weights = 0
    for name, conv in block.named_children():
        if not isinstance(conv, nn.Conv2d):
            continue
        k = conv.kernel_size[0]
        c1, c2 = conv.in_channels, conv.out_channels
        weights = k * k * c1 * c2  # the two formulas ...
        macs = weights * H * W
        # ... and the library's counter agree
        assert (weights, macs) == (costs[name].params, costs[name].macs)
        conv_weights += weights
        rows.append([label, f"`{name}`", f"{k}×{k}", f"{c1} → {c2}",
                     f"{weights:,}", f"{macs:,}"])
    per_block[label] = (conv_weights, costs[""])
show_table(["block", "layer", "kernel", "channels", "weights",
            "multiply-adds on 56×56"], rows)

# %%
print(f"{'':<17} {'conv weights':>12} {'parameters':>10} "
      f"{'multiply-adds':>13}  output")
for label, (conv_weights, c) in per_block.items():
    shape = "x".join(map(str, c.output_shape[1:]))
    print(f"{label:<17} {conv_weights:>12,} {c.params:>10,} "
          f"{c.macs:>13,}  {shape}")
(basic_w, basic), (bottle_w, bottle) = per_block.values()
width = bottle.output_shape[1] // basic.output_shape[1]
print(f"bottleneck / basic: {bottle_w / basic_w:.1%} of the conv weights,"
      f" {bottle.macs / basic.macs:.1%} of the multiply-adds,")
print(f"                    for inputs and outputs {width}x as wide")

# %% [markdown]
# The "parameters" column adds the two learned numbers per channel of each batch normalisation to the
# convolution weights. The bottleneck block does slightly *less* arithmetic than the basic block (the ratio
# printed under the totals) while its input and output are four times as wide. This is the paper's claim
# that the two designs "have similar time complexity", computed.
#
# What would a basic block cost at the bottleneck's width of 256 channels? And what if the bottleneck's
# identity shortcut were replaced by a projection, a $1\times1$ convolution from 256 to 256 channels?
# The paper remarks that a projection there would double the block's time complexity and model size,
# "as the shortcut is connected to the two high-dimensional ends":

# %%
wide = profile(BasicBlock(256, 256), (1, 256, H, W))[""]
print(f"basic block at 256-d: {wide.params:,} parameters, "
      f"{wide.macs:,} multiply-adds,")
print(f"  {wide.macs / bottle.macs:.1f}x the bottleneck's multiply-adds")
proj_w = nn.Conv2d(256, 256, kernel_size=1, bias=False).weight.numel()
print(f"projection shortcut, 1x1 from 256 to 256: {proj_w:,} weights, "
      f"{proj_w * H * W:,} multiply-adds,")
print(f"  {proj_w / bottle_w:.0%} of the bottleneck's conv weights")


# %% [markdown]
# ## Why the $1\times1$ convolutions reduce and restore the width
#
# Call the narrow width of a bottleneck block $w$ (64 in conv2_x), so that its input and output have $4w$
# channels. Its three convolutions have
#
# $$
# \underbrace{4w \cdot w}_{1\times1,\ \text{reduce}} \;+\; \underbrace{9\, w \cdot w}_{3\times3}
# \;+\; \underbrace{w \cdot 4w}_{1\times1,\ \text{restore}} \;=\; 17\, w^2
# $$
#
# weights, while a basic block has $2 \cdot 9\, w^2 = 18\, w^2$ at width $w$, and $2 \cdot 9 \cdot (4w)^2
# = 288\, w^2$ at width $4w$. The expensive filters, the $3\times3$ ones with nine weights per pair of
# channels, only ever see the narrow width $w$; the change of width is left to the $1\times1$
# convolutions, which have one weight per pair. All three counts are multiples of $w^2$ because every
# layer's cost is a product of two widths. The library's blocks at the four widths of the four stages:

# %%
def conv_weights(block):
    return sum(m.weight.numel() for m in block.modules()
               if isinstance(m, nn.Conv2d))


COLUMNS = (19, 11, 12)
print(f"{'w':>4}" + "".join(f" {h:>{c}} {'/ w²':>5}" for h, c in zip(
    ("bottleneck 4w-w-4w", "basic at w", "basic at 4w"), COLUMNS)))
for w in (64, 128, 256, 512):
    counts = (conv_weights(on_meta(Bottleneck, 4 * w, w)),
              conv_weights(on_meta(BasicBlock, w, w)),
              conv_weights(on_meta(BasicBlock, 4 * w, 4 * w)))
    print(f"{w:>4}" + "".join(f" {n:>{c},} {n // w**2:>5}"
                              for n, c in zip(counts, COLUMNS)))

# %% [markdown]
# The same holds for the multiply-adds, since every convolution of a block runs on the same $H\times W$
# (except in the first block of a stage, where the stride halves it). This is what made 50 and more layers
# affordable: ResNet-50 replaces each two-layer basic block of ResNet-34 by a three-layer bottleneck block
# for about the same arithmetic, and its last stage ends four times as wide (2048 channels instead of 512).
# The identity shortcut is what keeps it cheap: as computed above, a projection on a 256-d shortcut
# would cost almost as much as the whole block.
#
# ## The paper's Table 1, regenerated
#
# The paper's Table 1 lists, for each depth, the blocks of each stage, the output size of each stage, and
# ends with a row of "FLOPs". The library builds the networks from the same list of blocks per stage, so we
# can print the table from the models themselves. We use `variant="v1"`, the paper's own networks (the next
# section is about the other variant), built on the meta device.

# %%
DEPTHS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
nets = {n: on_meta(build, n, variant="v1") for n in DEPTHS}
stages = {n: stage_table(net) for n, net in nets.items()}


def block_spec(stage):
    # the convolutions of a stage's blocks, stacked as in Table 1
    convs = [m for m in stage[0].children() if isinstance(m, nn.Conv2d)]
    nbsp = "\u00a0"  # keeps "1×1, 1024" on one line
    lines = [f"{c.kernel_size[0]}×{c.kernel_size[1]},{nbsp}"
             f"{c.out_channels}" for c in convs]
    return "<br>".join(lines) + f"<br>**× {len(stage)}**"


def depth(net):
    # weighted layers on the main path: the convolutions and the fc,
    # not the projection shortcuts
    return sum(isinstance(m, (nn.Conv2d, nn.Linear))
               and ".downsample." not in f".{name}."
               for name, m in net.named_modules())


def size(cost):
    return "×".join(map(str, cost.output_shape[2:] or (1, 1)))


first = stages["resnet18"]  # the output sizes are the same at every depth
n = len(DEPTHS)
rows = [["conv1", size(first[0])] + ["7×7, 64,<br>stride 2"] * n,
        ["conv2_x", size(first[1])] + ["3×3 max pool,<br>stride 2"] * n]
for i in range(1, 5):
    specs = [block_spec(getattr(net, f"layer{i}"))
             for net in nets.values()]
    rows.append(["" if i == 1 else first[i].name,
                 "" if i == 1 else size(first[i])] + specs)
rows.append(["", size(first[5])] + ["average pool,<br>1000-d fc"] * n)
rows.append(["**weighted layers**", ""]
            + [f"**{depth(net)}**" for net in nets.values()])
header = ["layer name", "output size"] + [f"{d[6:]}-layer"
                                          for d in DEPTHS]
show_table(header, rows, align="center")

# %% [markdown]
# Every stage after conv2_x halves the feature map and doubles the number of filters, the paper's rule for
# keeping the time complexity per layer about constant, and the layer counts come out at 18, 34, 50, 101
# and 152. Now the multiply-adds of each stage, with the paper's last row quoted beside ours:

# %%
totals = {n: stages[n][-1].macs for n in DEPTHS}


def row(label, fmt):
    return [label] + [fmt(n) for n in DEPTHS]


rows = [row(s.name, lambda n: f"{stages[n][i].macs / 1e9:.3f}")
        for i, s in enumerate(first[:-1])]
rows += [
    row("**total, ours**", lambda n: f"**{totals[n] / 1e9:.3f}**"),
    row("ours, to one decimal", lambda n: f"{totals[n] / 1e9:.1f}"),
    row("*paper, Table 1*", lambda n: f"*{paper.TABLE1_GMACS[n]}*"),
    row("paper / ours − 1",
        lambda n: f"{paper.TABLE1_GMACS[n] * 1e9 / totals[n] - 1:+.1%}"),
]
show_table(["GMACs"] + [f"{name[6:]}-layer" for name in DEPTHS], rows)
# What the text below says: three of the five round to the paper's figure, and all are within 2%
# of it.
assert ([n for n in DEPTHS if round(totals[n] / 1e9, 1) != paper.TABLE1_GMACS[n]]
        == ["resnet34", "resnet50"])
assert all(abs(paper.TABLE1_GMACS[n] * 1e9 / totals[n] - 1) < 0.02 for n in DEPTHS)

# %%
for n in ("resnet34", "resnet50"):
    print(f"{n}: exactly {totals[n]:,} multiply-adds = "
          f"{totals[n] / 1e9:.2f} G; the paper prints "
          f"{paper.TABLE1_GMACS[n]}")

# %% [markdown]
# Three of the five totals agree with the paper once rounded to its one decimal. For the 34- and 50-layer
# networks the paper prints 3.6 and 3.8, where exact counting gives 3.66 and 3.86 (the cell above prints
# the exact numbers); the differences, in the last row of the table, are all under 2%. Chapter 0 checks
# the likelier explanation of the first: counted with the parameter-free option A shortcuts of the paper's
# first comparison, ResNet-34 costs exactly plain-34's 3.64 billion, printed 3.6. ResNet-50's 3.8 stays
# unexplained.
#
# The stage rows show where the arithmetic goes. In ResNet-18 the four stages cost about the same, the
# design rule at work; the deeper networks add their extra blocks mostly to conv4_x, which then does most
# of the multiply-adds of ResNet-101 and 152.
#
# ## v1 and v1.5: where the stride goes
#
# In the first block of conv3_x, conv4_x and conv5_x the feature map is halved by a stride of 2. The paper
# puts that stride in the block's first $1\times1$ convolution. Torchvision puts it in the $3\times3$
# convolution instead; this variant is known as ResNet v1.5. The weights have the same shapes, so the two
# variants have the same parameters, but not the same cost:

# %%
VARIANTS, NBSP = ("v1", "v1.5"), "\u00a0"
resnet50 = {v: on_meta(build, "resnet50", variant=v) for v in VARIANTS}
costs = {v: profile(net) for v, net in resnet50.items()}

rows = []
for conv in ("conv1", "conv2", "conv3", "downsample.0"):
    name, cells = f"layer2.0.{conv}", [f"`{conv}`"]
    for v, net in resnet50.items():
        m, c = net.get_submodule(name), costs[v][name]
        k, stride = m.kernel_size[0], m.stride[0]
        cells += [f"{k}×{k}, stride{NBSP}{stride}<br>→{NBSP}{size(c)}",
                  f"{c.macs:,}"]
    rows.append(cells)
show_table(["conv3_1 (`layer2.0`)", "v1", "multiply-adds", "v1.5",
            "multiply-adds"], rows)

# %%
print("extra multiply-adds of v1.5 in each downsampling block:")
for stage, block in (("layer2", "conv3_1"), ("layer3", "conv4_1"),
                     ("layer4", "conv5_1")):
    extra = (costs["v1.5"][f"{stage}.0"].macs
             - costs["v1"][f"{stage}.0"].macs)
    print(f"  {block} ({stage}.0): {extra:,}")
print(f"\n{'':<9} {'parameters':>10} {'v1 multiply-adds':>23} "
      f"{'v1.5 multiply-adds':>23}")
for n in ("resnet50", "resnet101", "resnet152"):
    params = count_params(on_meta(build, n))
    v1, v15 = (count_macs(on_meta(build, n, variant=v)) for v in VARIANTS)
    print(f"{n:<9} {params:>10,} {v1:>14,} ({v1 / 1e9:5.2f} G) "
          f"{v15:>14,} ({v15 / 1e9:5.2f} G) {v15 / v1 - 1:+.1%}")

# %% [markdown]
# Moving the stride from the first $1\times1$ convolution to the $3\times3$ one leaves the $3\times3$
# convolution's output where it was ($28\times28$ in conv3_1), but the $1\times1$ convolution now runs on
# the full-resolution input ($56\times56$), four times as many positions. That happens in three blocks,
# and adds the same number of multiply-adds in each: ResNet-50 goes from 3.86 to 4.09 billion
# multiply-adds, and ResNet-101 and 152, whose extra cost is the same three blocks, change by less in
# relative terms (all printed above).
#
# Why pay for it? A $1\times1$ convolution with stride 2 reads one input position in four: three quarters
# of the feature map entering the block never reach its residual branch. With the stride in the $3\times3$
# convolution, whose windows overlap, every position is read. The same change is called "ResNet-B" by
# {cite:t}`he2019bag`. Torchvision's documentation says the variant "improves the accuracy", pointing to
# NVIDIA's description of it {cite}`nvidia_rn50v15`, which states that v1.5 is "slightly more accurate
# (~0.5% top1) than v1, but comes with a small performance drawback (~5% imgs/sec)". Those are NVIDIA's
# and torchvision's measurements, not ours: checking the accuracy would take two ImageNet trainings, which
# this chapter does not do. The cost side we did count: the percentages printed above.
#
# ## Our models against torchvision's
#
# Torchvision's pretrained weights come with metadata: the number of parameters and the cost of the
# architecture (`_ops`, in billions). The metadata lives in the weights' enum, so it can be read without
# downloading any weights. Our default variant, v1.5, should match it exactly:

# %%
from torchvision.models import get_model_weights

rows = []
for n in DEPTHS:
    meta = get_model_weights(n).IMAGENET1K_V1.meta
    ours = on_meta(build, n)  # variant="v1.5", the default
    params, macs = count_params(ours), count_macs(ours)
    assert params == meta["num_params"], n
    assert round(macs / 1e9, 3) == meta["_ops"], n
    rows.append([n, f"{meta['num_params']:,}", f"{params:,}",
                 meta["_ops"], f"{macs / 1e9:.3f}",
                 f"{totals[n] / 1e9:.3f}"])
show_table(["model", "torchvision:<br>parameters", "ours",
            "torchvision:<br>`_ops`", "ours, v1.5:<br>GMACs",
            "ours, v1:<br>GMACs"], rows)

# %% [markdown]
# Parameters agree to the unit and `_ops` to the three decimals torchvision stores, so torchvision's "ops"
# are multiply-adds too, and its ResNet-50, 101 and 152 are v1.5 (their `_ops` match the v1.5 column, not
# the v1 one; for ResNet-18 and 34, built of basic blocks, the two variants are the same network).
#
# ## Similar cost, similar time?
#
# Equal multiply-adds do not promise equal running time. The next cell times one forward pass of each block
# of Figure 5 on this machine (the best and the median of several repeats, after a warm-up; the batch and
# the number of repeats depend on the run size), and prints the ratio of the best times beside the ratio of
# the multiply-adds.
# Its output changes from run to run and from machine to machine.

# %% tags=["nbval-ignore-output"]
import statistics

from resnet_lib.complexity import forward_seconds
from resnet_lib.runsize import pick

BATCH = pick(SIZE, smoke=1, cpu=8, gpu=64)
REPEATS = pick(SIZE, smoke=3, cpu=20, gpu=100)
# one CPU thread at the smoke size: quick, and steady on a busy machine
torch.set_num_threads(pick(SIZE, smoke=1, cpu=torch.get_num_threads(),
                           gpu=torch.get_num_threads()))
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

seconds = {}  # the best of the repeats: other work only ever slows a run
print(f"batch {BATCH:<11} {'best (ms)':>11} {'median (ms)':>12}")
for label, (block, c_in) in blocks.items():
    x = torch.randn(BATCH, c_in, H, W, device=device)
    times = forward_seconds(block.to(device).eval(), x, repeats=REPEATS)
    seconds[label] = min(times)
    print(f"{label:<17} {min(times) * 1e3:>11.2f} "
          f"{statistics.median(times) * 1e3:>12.2f}")
time_ratio = seconds["bottleneck, 256-d"] / seconds["basic, 64-d"]
print(f"bottleneck / basic: time {time_ratio:.2f}x, "
      f"multiply-adds {bottle.macs / basic.macs:.2f}x")
assert all(s > 0 for s in seconds.values())

# %% [markdown]
# Here the two ratios differ: in the stored run on the CPU printed at the top, the bottleneck block took
# longer than the basic block, for slightly fewer multiply-adds. One block at one batch size on a machine
# with other work is a weak measurement (the gap between best and median shows how busy it was). A likely
# reason, not tested here: the bottleneck block reads and writes tensors four times as wide at its two
# ends, and a $1\times1$ convolution does only one multiply-add per input channel for each number it
# writes, so it moves more memory for each multiply-add. Chapter 4 times whole networks, where on the same
# CPU, at a batch of 8, every network did between 33 and 46 billion multiply-adds a second: there the
# multiply-adds predicted the time well. Exercise 6 below measures the blocks with larger batches.
#
# ## Summary
#
# - A basic block is two $3\times3$ convolutions; a bottleneck block is $1\times1$, $3\times3$, $1\times1$,
#   the first reducing the width four times and the last restoring it. Both add their input to their output:
#   $\mathbf{y} = \mathcal{F}(\mathbf{x}) + \mathbf{x}$.
# - A convolution costs $k^2 C_\text{in} C_\text{out}$ weights and that many multiply-adds at every output
#   position. The bottleneck carries four times the width of a basic block for about the same cost
#   ($17w^2$ against $18w^2$ weights).
# - Counted exactly, the paper's Table 1 comes out to within 2% of its printed "FLOPs"; three of five
#   totals round to the printed figure (chapter 0 explains ResNet-34's).
# - torchvision's ResNet-50 ("v1.5") moves the stride of a downsampling block to its $3\times3$ convolution:
#   the same parameters, 6% more multiply-adds, and every input position read.
# - Equal multiply-adds need not mean equal time: measure.
#
# ## Exercises
#
# 1. By hand, count the weights and multiply-adds of the first block of ResNet-34's conv3_x stage: 64 to 128
#    channels, stride 2, with a projection shortcut. Check your answer with
#    `profile(build("resnet34"))["layer2.0"]`.
#
#    :::{admonition} Hint
#    :class: dropdown
#    Weights: $9 \cdot 64 \cdot 128 + 9 \cdot 128 \cdot 128 + 64 \cdot 128 = 229{,}376$ in the convolutions,
#    plus $2 \times 128$ in each of the three batch norms: 230,144. Each convolution weight is used once at
#    every output position, $28 \times 28 = 784$ of them: $229{,}376 \times 784 = 179{,}830{,}784$ multiply-adds.
#    :::
# 2. A $1\times1$ convolution with stride 2 ignores three input positions in four. Show it: take the first
#    block of `build("resnet50", variant="v1").layer2`, change its input only at positions whose row or
#    column index is odd, and compare the output of its `conv1` before and after.
#
#    :::{admonition} Hint
#    :class: dropdown
#    Feed it `x` of shape (1, 256, 56, 56), then a copy with `x[..., 1::2, :]` and `x[..., :, 1::2]` replaced by
#    random numbers: `torch.equal` of the two outputs of `block.conv1` is True. Output position $(i, j)$ reads
#    input position $(2i, 2j)$ alone.
#    :::
# 3. Torchvision's Wide ResNet-50-2 doubles the inner width $w$ of every bottleneck block (the output of the
#    first $1\times1$, the $3\times3$ and the input of the last $1\times1$) and keeps the outer width $4w$. Count the multiply-adds of one such block per position, as
#    the $17w^2$ of the standard block was counted, predict how the whole network compares with ResNet-50,
#    then read `torchvision.models.Wide_ResNet50_2_Weights.IMAGENET1K_V1.meta["_ops"]`.
#
#    :::{admonition} Hint
#    :class: dropdown
#    $4w \cdot 2w + 9 \cdot (2w)^2 + 2w \cdot 4w = 52w^2$, about three times $17w^2$. The stem, the projection
#    shortcuts and `fc` do not change, so the whole network grows a little less: 11.40 against 4.09 billion,
#    2.8 times.
#    :::
# 4. Option C of the paper uses a projection on every shortcut. Count the extra parameters and multiply-adds
#    this would add to ResNet-50 (one $1\times1$ convolution per block, from the block's input width to its
#    output width), and compare with the paper's remark that it would double the cost of the bottleneck
#    designs.
#
#    :::{admonition} Hint
#    :class: dropdown
#    Twelve of ResNet-50's sixteen blocks have an identity shortcut: two of 256 channels at $56 \times 56$, three
#    of 512 at $28 \times 28$, five of 1024 at $14 \times 14$, two of 2048 at $7 \times 7$. A projection
#    from $c$ to $c$ channels has $c^2$ weights and $c^2 H W$ multiply-adds. Per block, $(4w)^2 = 16w^2$ beside
#    the block's own $17w^2$: the "double" of the paper.
#    :::
# 5. Regenerate the first column of the paper's Table 6 (parameters of the CIFAR-10 ResNets) with
#    `count_params(build(f"cifar_resnet{depth}"))`, and compare with `paper.TABLE6_PARAMS_M`.
# 6. Re-run the timing cell with `BATCH` set to 1, 8, 32 and 64 and plot the time ratio of the two blocks
#    against the batch. Does the bottleneck block get closer to its multiply-add ratio as the batch grows?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Larger batches give every convolution more work per weight read; if the gap is memory traffic of the
#    weights and per-layer overheads, it shrinks with the batch; if it is the wide activations, it does not.
#    :::
#
# ## References
#
# - {cite:t}`he2016deep`: Figure 5 (the two blocks), Table 1 (the architectures), Section 4.1 (the
#   bottleneck design and its identity shortcuts).
# - {cite:t}`he2019bag`: "ResNet-B", the stride moved to the $3\times3$ convolution.
# - {cite:t}`nvidia_rn50v15`: the description of ResNet-50 v1.5 that torchvision's documentation points to.
# - {cite:t}`torchvision2016`: the models and the metadata of their pretrained weights.
# - {cite:t}`ioffe2015batch`: batch normalisation.
