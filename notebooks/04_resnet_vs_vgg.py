# ---
# jupyter:
#   accelerator: GPU
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. The cost of ResNet against VGG
#
# The paper presents ResNet-34 as deeper than VGG-19 and yet far cheaper {cite}`he2016deep`
# {cite}`simonyan2015vgg`. This chapter puts numbers on "cheaper": parameters, multiply-adds and activation
# memory, counted; latency and throughput, measured; and accuracy, as torchvision publishes it for its
# pretrained weights. Then it asks how far the multiply-adds predict the measured time.
#
# **Learning goals**
# - compare VGG-16/19, the plain 34-layer network and the five ResNets on parameters, multiply-adds and
#   activation memory, and say where each network spends them;
# - read "3.6 billion FLOPs versus 19.6 billion" correctly: multiply-adds, about twice as many
#   floating-point operations;
# - measure latency and throughput properly (inference mode, warm-up, repeats);
# - place the networks on an accuracy-against-cost plot from published numbers;
# - explain, with measurements, what a count of multiply-adds does not tell about speed.
#
# The outputs stored with this page come from a run at the `cpu` size. The counts are exact and the same on
# any machine; the timings are not, and the line printed by the next cell gives the hardware they were
# measured on.

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
import statistics

import matplotlib.pyplot as plt
import torch
from torch import nn
from torchvision.models import get_model_weights

from resnet_lib import paper
from resnet_lib.complexity import forward_seconds, on_meta, profile
from resnet_lib.models import build
from resnet_lib.probes import weighted_layers
from resnet_lib.runsize import pick
from resnet_lib.show import network_name, nowrap, show_table

NAMES = ["vgg16", "vgg19", "plain34", "resnet18", "resnet34", "resnet50",
         "resnet101", "resnet152"]
LABEL = {n: network_name(n) for n in NAMES}  # resnet50 -> ResNet-50
COLORS = {"vgg": "#8c8c8c", "plain": "#dd8452", "resnet": "#4c72b0"}


def color(name):
    return next(c for fam, c in COLORS.items() if name.startswith(fam))


# %% [markdown]
# ## What each network costs
#
# For every network, on one $224\times224$ image, `profile` gives the parameters, the multiply-adds (MACs)
# and the *activations*: the number of elements in the outputs of all its layers, which a training step
# keeps for the backward pass, at 4 bytes each in 32-bit floating point. The ResNets are torchvision's
# variant (v1.5, chapter 3), the one whose published accuracies we use below. The networks are built on the
# meta device, so the whole table takes a few seconds.

# %%
costs, depth = {}, {}
for n in NAMES:
    net = on_meta(n)  # built on the meta device: shapes without data
    # depth: the convolutions and fc layers on the main path (not the projection shortcuts)
    costs[n], depth[n] = profile(net), len(weighted_layers(net))
total = {n: costs[n][""] for n in NAMES}
MiB = 2**20

rows = []
for n in NAMES:
    c = total[n]
    moved = 4 * (c.params + c.activations)  # bytes, fp32
    rows.append([
        nowrap(LABEL[n]),
        depth[n], f"{c.params / 1e6:.1f}", f"{c.macs / 1e9:.2f}",
        f"{c.activations / 1e6:.1f}", f"{4 * c.activations / MiB:.0f}",
        f"{c.macs / moved:.0f}"])
show_table(["network", "layers", "params (M)", "GMACs", "activations (M)",
            "MiB per image", "MACs per byte"], rows)

# %% [markdown]
# "Layers" counts the weighted layers on the main path, the number in each network's name. "MiB per image"
# is the activations at 4 bytes each. The last column is a rough *arithmetic intensity*: multiply-adds per
# byte of memory, counting each weight read once and each layer output written once (batch 1, fp32). The
# same numbers as bars:

# %%
fig, axes = plt.subplots(3, 1, figsize=(7, 7.5))
panels = [("parameters (millions)", lambda c: c.params / 1e6),
          ("multiply-adds (billions)", lambda c: c.macs / 1e9),
          ("activations (MiB per image, fp32)",
           lambda c: 4 * c.activations / MiB)]
for ax, (title, value) in zip(axes, panels):
    values = [value(total[n]) for n in NAMES]
    ax.barh([LABEL[n] for n in NAMES], values,
            color=[color(n) for n in NAMES])
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.0f}" if v >= 10 else f" {v:.1f}",
                va="center", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, max(values) * 1.12)
    ax.invert_yaxis()
    ax.spines[["top", "right"]].set_visible(False)
axes[0].legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in COLORS.values()],
               labels=["VGG", "plain", "ResNet"], loc="lower right", fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The three panels do not tell the same story. Where do VGG-16's parameters and multiply-adds sit, and how
# do the activations of ResNet-50 compare with VGG-16's?

# %%
vgg, vgg_net, v16 = costs["vgg16"], on_meta("vgg16"), total["vgg16"]
fc, convs, fc6 = vgg["classifier"], vgg["features"], vgg_net.classifier[0]
n_convs = sum(isinstance(m, nn.Conv2d) for m in vgg_net.features)
print(f"VGG-16: {v16.params / 1e6:.1f} M parameters; its 3 fc layers "
      f"hold {fc.params / 1e6:.1f} M ({fc.params / v16.params:.0%}),")
print(f"  the first alone ({fc6.in_features:,} -> {fc6.out_features:,}) "
      f"{vgg['classifier.0'].params / 1e6:.1f} M")
print(f"VGG-16: {v16.macs / 1e9:.2f} billion multiply-adds; its "
      f"{n_convs} convolutions do {convs.macs / 1e9:.2f} "
      f"({convs.macs / v16.macs:.1%})")
r50 = total["resnet50"]
print(f"ResNet-50 / VGG-16: {r50.macs / v16.macs:.2f}x the multiply-adds,"
      f" {r50.params / v16.params:.2f}x the parameters,")
print(f"  {r50.activations / v16.activations:.2f}x the activations")

# %% [markdown]
# VGG's parameters are in its classifier: the first fully connected layer alone connects the
# $7\times7\times512$ feature map, flattened, to 4,096 outputs. Its multiply-adds are in its $3\times3$
# convolutions, the first of them on full-resolution $224\times224$ maps. ResNet replaces the big classifier by
# global average pooling and one 1000-way layer, and works at high resolution only in a cheap stem (a
# $7\times7$ convolution with stride 2, then a max pool).
#
# Activations are another matter: ResNet-50 keeps more activation elements than VGG-16 with about a quarter
# of its multiply-adds (the ratios above). Its bottleneck blocks write 256- to 2048-channel outputs at every
# block, and every convolution is followed by a batch normalisation and a ReLU whose outputs count too. For training, activation memory decides the batch size that fits on a device, which the
# multiply-adds do not tell.
#
# ## "3.6 billion FLOPs" versus 19.6
#
# Summaries of the paper often say that a 34-layer ResNet "achieves 3.6 billion FLOPs", an 18-layer one 1.8
# billion, and that this is much faster than VGG-19's 19.6 billion. The paper's own sentence is more
# careful: "Our 34-layer baseline has 3.6 billion FLOPs (multiply-adds), which is only 18% of VGG-19 (19.6
# billion FLOPs)." Its "FLOPs" are multiply-adds, a count of work per image, not a speed:

# %%
quoted = {"vgg19": paper.VGG19_GMACS, "plain34": paper.PLAIN34_GMACS,
          "resnet34": paper.TABLE1_GMACS["resnet34"],
          "resnet18": paper.TABLE1_GMACS["resnet18"]}
rows = [[nowrap(LABEL[n]), q, f"{total[n].macs / 1e9:.3f}",
         f"{2 * total[n].macs / 1e9:.3f}"] for n, q in quoted.items()]
show_table(["network", "the paper's \"FLOPs\" (billions)",
            "our multiply-adds (billions)",
            "floating-point operations (billions)"], rows)

# %%
v19, p34, r34 = (total[n].macs for n in ("vgg19", "plain34", "resnet34"))
theirs = paper.PLAIN34_GMACS / paper.VGG19_GMACS
print(f"plain-34 / VGG-19 multiply-adds: ours {p34 / v19:.1%}, "
      f"the paper's {theirs:.1%}")
print(f"VGG-19 / ResNet-34 multiply-adds: {v19 / r34:.2f}x")
extra = total["resnet34"].params - total["plain34"].params
print(f"ResNet-34 / plain-34: {r34 / p34:.4f}x the multiply-adds, "
      f"{extra:,} more parameters")
assert v19 > 5 * r34

# %% [markdown]
# So "3.6 billion FLOPs" is 3.6 billion multiply-adds, about 7.3 billion floating-point operations as most
# hardware specifications and profilers count them, and VGG-19's "19.6 billion FLOPs" is about 39 billion
# (the table above gives both counts exactly). The ratio between the networks does not depend on the
# convention: VGG-19 does more than five times the arithmetic of ResNet-34. The shortcuts themselves cost
# almost nothing: ResNet-34 has the multiply-adds of its plain twin to within a fraction of a percent, the
# difference being the three projection shortcuts.
#
# Whether five times the arithmetic means five times the time is a question for a clock, not a counter.
#
# ## Accuracy against multiply-adds
#
# Torchvision publishes, with each set of pretrained weights, the top-1 accuracy on the ImageNet
# validation set {cite}`russakovsky2015imagenet` and the multiply-adds of the architecture (`_ops`). Both
# are in the weights' enum, so we read them without downloading anything {cite}`torchvision2016`. The
# `IMAGENET1K_V1` weights of the ResNets come from the original training recipe; the `IMAGENET1K_V2` weights
# of the deeper ones from a newer recipe on the same architecture {cite}`vryniotis2021recipe`. For
# reference, the last column gives the paper's top-1 accuracy (100 minus the error of its Table 3) where it
# has one, measured differently: 10 crops per image, where torchvision scores a single centre crop, and for
# ResNet-50 to 152 the paper's v1 networks.

# %%
TABLE3_ROW = {"vgg16": "vgg16", "resnet34": "resnet34 (B)", "resnet50": "resnet50",
              "resnet101": "resnet101", "resnet152": "resnet152"}
published = []  # (name, weights, top-1 %, GMACs)
for n in NAMES:
    if n == "plain34":
        continue  # no published weights
    for weights in get_model_weights(n):
        top1 = weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]
        if top1 != top1:  # NaN: VGG-16's feature-extractor weights
            continue
        # torchvision's cost is our count
        assert weights.meta["_ops"] == round(total[n].macs / 1e9, 3)
        published.append((n, weights.name, top1, weights.meta["_ops"]))

rows = []
for n, w, top1, gmacs in published:
    error = paper.TABLE3_TOP1_ERROR.get(TABLE3_ROW.get(n))
    quoted = f"{100 - error:.2f}" if error and w == "IMAGENET1K_V1" else ""
    rows.append([nowrap(LABEL[n]), f"`{w}`", f"{top1:.2f}",
                 f"{gmacs:.2f}", f"{total[n].params / 1e6:.1f}", quoted])
show_table(["network", "weights", "top-1 (%)", "GMACs (`_ops`)",
            "parameters (M)", "paper: top-1 (%), 10 crops"], rows)

# What the text below says, checked: every ResNet does less arithmetic than either VGG; with the
# original weights every ResNet but ResNet-18 is more accurate than both; ResNet-50 V2 beats
# ResNet-152 V1.
acc = {(n, w): top1 for n, w, top1, _ in published}
best_vgg = max(acc["vgg16", "IMAGENET1K_V1"], acc["vgg19", "IMAGENET1K_V1"])
resnets = [n for n in NAMES if n.startswith("resnet")]
assert max(total[n].macs for n in resnets) < min(total["vgg16"].macs, total["vgg19"].macs)
assert [n for n in resnets if acc[n, "IMAGENET1K_V1"] < best_vgg] == ["resnet18"]
assert acc["resnet18", "IMAGENET1K_V1"] < acc["vgg16", "IMAGENET1K_V1"]
assert total["resnet34"].macs < total["vgg19"].macs / 5
assert acc["resnet50", "IMAGENET1K_V2"] > acc["resnet152", "IMAGENET1K_V1"]

# %%
fig, ax = plt.subplots(figsize=(8, 4.8))
for n, weights, top1, gmacs in published:
    v1 = weights == "IMAGENET1K_V1"
    ax.scatter(gmacs, top1, s=70, color=color(n) if v1 else "white",
               edgecolor=color(n), linewidth=1.8, zorder=3)
    ax.annotate(LABEL[n] + ("" if v1 else " (V2)"), (gmacs, top1),
                textcoords="offset points", xytext=(7, -4), fontsize=9)
ax.scatter([], [], s=70, color="#4c72b0",
           label="IMAGENET1K_V1 weights (original recipe)")
ax.scatter([], [], s=70, color="white", edgecolor="#4c72b0",
           linewidth=1.8, label="IMAGENET1K_V2 weights (newer recipe)")
ax.set_xlabel("multiply-adds per 224×224 image (billions)")
ax.set_ylabel("ImageNet top-1 accuracy (%), torchvision")
ax.set_xlim(0, 23)
ax.margins(y=0.1)
ax.grid(alpha=0.3)
ax.legend(loc="lower right", fontsize=9)
ax.spines[["top", "right"]].set_visible(False)
plt.show()

# %% [markdown]
# Every ResNet sits to the left of both VGGs, and all but one above them: more accurate for less
# arithmetic. The exception is ResNet-18, at 69.76% below VGG-16's 71.59%, with under an eighth of its
# multiply-adds. ResNet-34 is more accurate than VGG-19 with under a fifth of its multiply-adds (the
# table's numbers). Along the ResNets,
# accuracy grows with depth and cost, with diminishing returns. And the hollow points are a warning against
# reading architecture alone off such a plot: the same ResNet-50, trained with the newer recipe, is more
# accurate than ResNet-152 trained with the original one.
#
# ## Measured on this machine
#
# Now the clock. For each network we time the forward pass of a batch of random images, in
# `torch.inference_mode()` (no autograd bookkeeping) and `eval()` mode, after a few warm-up passes (the
# first calls allocate memory and choose algorithms), and repeat each measurement several times. We print
# the median and the best (fastest) of the repeats, and compute with the best: other work on the machine
# can only slow a run down, never speed it up, so the fastest run is the closest to what the network
# itself costs (the reasoning of Python's `timeit`). The library's `complexity.forward_seconds` does the
# warm-up, the repeats and the waiting. A large gap between the two says the machine was busy.
# *Latency* is the time for
# one image alone (batch 1); *throughput* is images per second with a larger batch. On a GPU the clock waits
# for the device (`torch.cuda.synchronize()`) before reading the time. How many networks, which batches and
# how many repeats depend on the run size; at the `smoke` size a CPU runs them on one thread, which keeps
# that quick check steady on a busy machine, and at the other sizes on all the threads PyTorch uses by
# default (the stored outputs: one, set by the environment variable `OMP_NUM_THREADS=1`). On a machine busy with other work, the timings can be much slower and more erratic than the
# hardware allows, most of all with several threads, which wait for each other whenever one of them is
# held up: close what you can, and rerun if they look odd.

# %% tags=["nbval-ignore-output"]
MEASURED = pick(SIZE, smoke=["resnet18", "vgg16"], cpu=NAMES, gpu=NAMES)
BATCHES = pick(SIZE, smoke=(1,), cpu=(1, 8), gpu=(1, 64))
WARMUP, REPEATS = pick(SIZE, smoke=(1, 2), cpu=(2, 10), gpu=(5, 20))
THREADS = pick(SIZE, smoke=1, cpu=torch.get_num_threads(),
               gpu=torch.get_num_threads())
torch.set_num_threads(THREADS)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.backends.cudnn.benchmark = True
print(f"{len(MEASURED)} networks, batches {BATCHES}, {WARMUP} warm-up "
      f"passes, {REPEATS} repeats,")
on_cpu = device.type == "cpu"
print(f"on {device}" + (f" with {THREADS} thread(s)" if on_cpu else ""))


torch.manual_seed(0)
seconds = {}  # (name, batch) -> best seconds per batch
print(f"{'':<11} {'batch':>5} {'best (ms)':>11} {'median (ms)':>12}")
for name in MEASURED:
    model = build(name).to(device).eval()
    for batch in BATCHES:
        x = torch.randn(batch, 3, 224, 224, device=device)
        times = forward_seconds(model, x, WARMUP, REPEATS)
        seconds[name, batch] = min(times)
        label = LABEL[name] if batch == BATCHES[0] else ""
        print(f"{label:<11} {batch:>5} {min(times) * 1e3:>11.1f} "
              f"{statistics.median(times) * 1e3:>12.1f}")
    del model

# %% tags=["nbval-ignore-output"]
B = BATCHES[-1]
latency = {n: seconds[n, 1] for n in MEASURED}
throughput = {n: B / seconds[n, B] for n in MEASURED}
rate = {n: throughput[n] * total[n].macs / 1e9 for n in MEASURED}  # achieved GMACs/s
gain = {n: throughput[n] * latency[n] for n in MEASURED}            # batching speed-up
rows = [[nowrap(LABEL[n]), f"{total[n].macs / 1e9:.2f}",
         f"{latency[n] * 1e3:.1f}", f"{throughput[n]:.1f}",
         f"{rate[n]:.1f}", f"{gain[n]:.2f}x"] for n in MEASURED]
show_table(["network", "GMACs", "latency, batch 1 (ms)",
            f"throughput, batch {B} (images/s)",
            f"achieved GMACs/s, batch {B}", "batching speed-up"], rows)
assert all(t > 0 for t in throughput.values())
assert latency["resnet18"] < latency["vgg16"], "ResNet-18 is the faster"
if SIZE == "cpu" and device.type == "cpu":  # what the text below says of a CPU thread
    assert min(rate, key=rate.get) == "resnet50" and max(rate.values()) < 1.5 * min(rate.values())
    # batching pays most for the small layers of ResNet-18/34 and plain-34, least for VGG's
    assert max(gain, key=gain.get) in ("resnet18", "resnet34", "plain34")
    assert max(gain.values()) < 1.6
    assert min(gain, key=gain.get) in ("vgg16", "vgg19", "resnet50")

# %% [markdown]
# "Achieved GMACs/s" divides the multiply-adds by the measured time: the rate at which the hardware did
# useful arithmetic for that network. If time were proportional to multiply-adds, this column would be the
# same for every network. "Batching speed-up" is the throughput at the larger batch over the throughput at
# batch 1.
#
# The stored timings were measured on one thread of a machine with nothing else running: the best and the
# median of each measurement stay close.
#
# ## What FLOPs can miss
#
# A count of multiply-adds is a count of arithmetic, and arithmetic is only part of what a forward pass
# costs {cite}`ma2018shufflenet` {cite}`canziani2016analysis`:
#
# - **Memory traffic.** Every layer reads its input and weights and writes its output. A layer that does
#   few multiply-adds per byte it moves (a $1\times1$ convolution, a batch normalisation, a ReLU, the
#   addition of a shortcut) waits on memory rather than on arithmetic. The "MACs per byte" column of the
#   first table is a rough measure of this: ResNet-50 has the lowest, VGG-19 and the two 34-layer
#   networks the highest.
# - **Latency and depth.** The layers of a network run one after another: each waits for the previous one's
#   output. At batch 1 a layer may be too small to keep all the cores busy, and every layer pays a fixed
#   overhead (the framework's dispatch on a CPU, a kernel launch on a GPU) however little it computes.
#   ResNet-152 runs 152 weighted layers plus their normalisations and activations in sequence, VGG-19 only
#   19. Larger batches give each layer more work and can hide some of this; the batching column shows how
#   much they did here. Where there are many cores to fill (a GPU, a many-core CPU) the gain is large; on a
#   single CPU thread a batch can only spread each layer's fixed overhead over more images, which pays
#   most for networks of many small layers.
# - **How the arithmetic is done.** Libraries run $3\times3$ convolutions with specialised algorithms and
#   large, regular matrix products, which reach a higher fraction of the hardware's peak than small or
#   thin layers do.
#
# The next cell sets the ratio of the multiply-adds of a few pairs of networks beside the ratio of their
# measured times, at batch 1 and at the larger batch. Where the two ratios differ, the multiply-adds
# mispredicted the speed on this machine:

# %% tags=["nbval-ignore-output"]
PAIRS = [("vgg16", "resnet18"), ("vgg19", "resnet34"),
         ("resnet34", "plain34"), ("resnet50", "resnet34"),
         ("resnet101", "resnet50"), ("resnet152", "resnet50")]
print(f"{'ratio':<24} {'MACs':>6} {'time, batch 1':>14} "
      f"{f'time, batch {B}':>14}")
misses = []  # (time ratio) / (multiply-add ratio), at the larger batch
for a, b in PAIRS:
    if a in latency and b in latency:
        print(f"{LABEL[a] + ' / ' + LABEL[b]:<24} "
              f"{total[a].macs / total[b].macs:>5.2f}x "
              f"{latency[a] / latency[b]:>13.2f}x "
              f"{throughput[b] / throughput[a]:>13.2f}x")
        misses.append(throughput[b] / throughput[a] / (total[a].macs / total[b].macs))
if SIZE == "cpu" and device.type == "cpu":  # what the text below says of a CPU at this size
    assert all(0.7 < m < 1.43 for m in misses), misses

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(8, 4.8))
ref = "resnet18"
gmacs = {n: total[n].macs / 1e9 for n in MEASURED}
ms_per_image = {n: 1e3 / throughput[n] for n in MEASURED}
# plain-34 and ResNet-34 fall almost on one point: their labels stand off it, joined by a line
OFFSET = {"plain34": (22, -26), "resnet34": (-14, 24)}
for n in MEASURED:
    ax.scatter(gmacs[n], ms_per_image[n], s=70, color=color(n), zorder=3)
    ax.annotate(LABEL[n], (gmacs[n], ms_per_image[n]), fontsize=9, va="center",
                ha="right" if OFFSET.get(n, (0, 0))[0] < 0 else "left",
                textcoords="offset points", xytext=OFFSET.get(n, (7, 0)),
                arrowprops=dict(arrowstyle="-", color="0.5", lw=0.8, shrinkB=5)
                if n in OFFSET else None)
xmax = max(gmacs.values()) * 1.1
slope = ms_per_image[ref] / gmacs[ref]
ax.plot([0, xmax], [0, slope * xmax], "--", color="#999999",
        label=f"time proportional to MACs, through {LABEL[ref]}")
ax.set_xlabel("multiply-adds per image (billions)")
ax.set_ylabel(f"measured ms per image, batch {B}")
ax.set_xlim(0, xmax)
ax.set_ylim(0, None)
ax.grid(alpha=0.3)
ax.legend(loc="upper left", fontsize=9)
ax.spines[["top", "right"]].set_visible(False)
plt.show()

# %% [markdown]
# Networks above the dashed line took longer per image than their multiply-adds predict from ResNet-18's
# rate; networks below it used the hardware better. On this CPU, on one thread, the multiply-adds predicted
# the time well: at a batch of 8 every network did between 49.6 and 70.0 billion multiply-adds a second
# (the fastest less than 1.5 times the slowest), and in every pair above the ratio of the times is within
# about 40% of the ratio of the multiply-adds. The largest miss is ResNet-50, the slowest at 49.6 billion a
# second: it has the lowest arithmetic intensity of the first table (18 multiply-adds per byte), as the
# memory-traffic argument predicts, while plain-34, among the highest (28, with ResNet-34 and VGG-19), ran
# fastest. Batching gained at most 41% on one thread, for ResNet-18 (the last column of the timing table),
# and little or nothing for the two VGGs and ResNet-50 (0.98x to 1.04x): on one thread a batch only
# spreads each layer's fixed overhead over more images, which counts most where the layers are small.
#
# Which networks fall where depends on the machine, the batch and the library versions: on a GPU, whose
# arithmetic is far cheaper relative to its memory than a CPU core's, the misses are typically larger
# {cite}`ma2018shufflenet` (run this page there to measure them). The multiply-adds are a property of the network, the time a property of the network *on a
# machine*. The published comparisons of the paper are multiply-adds, and they hold everywhere; for speed,
# measure on the hardware you will use.
#
# ## Summary
#
# - The paper's "FLOPs" are multiply-adds. Counted exactly, VGG-19 does 19.63 billion per 224×224 image,
#   ResNet-34 3.66 billion (5.36 times fewer) and ResNet-50 4.09 billion, and VGG-16's 138 million
#   parameters sit mostly (89%) in its three fully connected layers, which the ResNets replace by global
#   average pooling and one small layer.
# - The residual connections themselves are almost free: ResNet-34 has 0.5% more multiply-adds than the
#   plain-34 network it is built from.
# - With torchvision's published weights, ResNet-34 and deeper are more accurate than both VGGs at a fraction
#   of their cost; ResNet-18 is less accurate than VGG-16 (69.76% against 71.59% top-1), with 12% of its
#   multiply-adds.
# - Measured on one CPU thread, the time per image followed the multiply-adds closely (between 49.6 and
#   70.0 billion a second for every network); the slowest rate was ResNet-50's, the network with the fewest
#   multiply-adds per byte of weights and activations. On a GPU the gaps between multiply-adds and time are
#   typically larger: measure on your hardware.
# - Activations, not parameters, set the memory of training: ResNet-50 stores more of them per image than
#   VGG-16.
#
# ## Exercises
#
# 1. Add VGG-16 with batch normalisation (`build("vgg16_bn")`) to the cost table. What does batch
#    normalisation add to the parameters, the multiply-adds and the activations?
#
#    :::{admonition} Hint
#    :class: dropdown
#    A batch norm has two parameters per channel (its running mean and variance are buffers, not parameters),
#    one multiply-add per output number at most (and none once folded into the convolution for inference), and
#    an output as large as its input: count it with `complexity.profile`.
#    :::
# 2. The activation count treats every layer's output as stored. ReLUs in this library work in place, so a
#    ReLU's output shares memory with its input. Use `profile` to count the activations of ResNet-50
#    without the ReLU outputs; how much of the total were they?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Sum the output elements of the layers that are not `nn.ReLU`; compare with the total of the first
#    table. Every block of ResNet-50 has three ReLUs, each as large as the output of the layer before it.
#    :::
# 3. Re-run the timing cell with more threads (`torch.set_num_threads(n)`, up to your number of cores), or
#    compare with the thread count printed above. Which networks gain most, and why might deep networks at
#    batch 1 gain less?
#
#    :::{admonition} Hint
#    :class: dropdown
#    At batch 1 a deep network's late layers have little work each ($7 \times 7$ positions): there is not
#    enough of it to split over threads, and every layer pays the same fixed cost to start them. VGG's few wide
#    layers give each thread more.
#    :::
# 4. Time ResNet-50 in both variants, `build("resnet50", variant="v1")` and `build("resnet50")`. Does the
#    measured difference match the 6.0% more multiply-adds counted in chapter 3, or NVIDIA's "~5%
#    imgs/sec"?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Time both with the timing cell's method (warm-up, repeats, the best and the median) at the same batch,
#    alternating the two, and compare the ratio of the medians with 4.09 / 3.86.
#    :::
# 5. With the activation memory of the first table, estimate the largest training batch of ResNet-50 and of
#    VGG-16 that fits in 16 GiB, ignoring everything but activations. Which network lets you train with the
#    larger batch?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Training keeps each activation for the backward pass: the batch is 16 GiB divided by the "MiB per image"
#    column (about 134 images of ResNet-50 and 150 of VGG-16, in float32, before the weights, gradients and
#    optimizer state are counted).
#    :::
#
# ## References
#
# - {cite:t}`he2016deep`: Section 3.3 (the comparison with VGG-19), Table 1 and Table 3.
# - {cite:t}`simonyan2015vgg`: the VGG networks.
# - {cite:t}`torchvision2016`: the pretrained weights and their published accuracies and costs;
#   {cite:t}`vryniotis2021recipe`: the recipe of the `IMAGENET1K_V2` weights.
# - {cite:t}`ma2018shufflenet`: why FLOPs are an indirect measure of speed (memory access cost, degree
#   of parallelism).
# - {cite:t}`canziani2016analysis`: accuracy, operations, inference time and memory of many networks,
#   measured side by side.
