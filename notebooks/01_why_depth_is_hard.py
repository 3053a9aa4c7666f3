# ---
# jupyter:
#   accelerator: GPU
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Why depth is hard
#
# A deeper network can do everything a shallower one can: copy the shallow network's layers and make the
# extra ones compute the identity. So adding layers should never make the *training* error worse. In
# practice it does. This chapter measures the two reasons deep networks were hard to train before residual
# learning {cite}`he2016deep`: gradients that vanish or explode on their way back through the layers, and,
# once batch normalisation had tamed those, the *degradation problem*: a deeper plain network that fits
# its own training data worse than a shallower one.
#
# **Learning goals**
# - explain why the gradient that reaches a layer is a product of one factor per layer above it, and how the
#   nonlinearity and the initialisation set the size of those factors;
# - measure the gradient norm of every layer of a deep plain network on a real CIFAR-10 batch, and tell
#   vanishing gradients from exploding ones;
# - see what He initialisation and batch normalisation change, at initialisation and after a few steps
#   of training;
# - reproduce the degradation problem of the paper's Figure 1: plain-20 against plain-56 on CIFAR-10;
# - argue, from measurements, why degradation is neither over-fitting nor vanishing gradients.
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
import math
from itertools import product

import matplotlib.pyplot as plt
import torch

from resnet_lib import paper
from resnet_lib.data import CifarLoader, load_cifar10
from resnet_lib.models import build
from resnet_lib.probes import gradient_norms, plain_stack, spread
from resnet_lib.train import TrainConfig, fit, pick_device

device = pick_device()

# %% [markdown]
# ## Gradients are products
#
# Take a plain network of $D$ layers, $\mathbf{h}_l = \phi(\mathbf{z}_l)$ with
# $\mathbf{z}_l = W_l \mathbf{h}_{l-1}$, and a loss $\mathcal{L}$ computed from the last layer. The
# gradient for the weights of layer $l$ is an outer product,
#
# $$
# \frac{\partial \mathcal{L}}{\partial W_l} = \boldsymbol{\delta}_l\, \mathbf{h}_{l-1}^\top,
# \qquad
# \boldsymbol{\delta}_l = \frac{\partial \mathcal{L}}{\partial \mathbf{z}_l}
# = \phi'(\mathbf{z}_l) \odot \left(W_{l+1}^\top \boldsymbol{\delta}_{l+1}\right),
# $$
#
# and unrolling the recursion, the error signal $\boldsymbol{\delta}_l$ is the one at the top multiplied by
# one factor $\operatorname{diag}(\phi'(\mathbf{z}_k))\, W_{k+1}^\top$ for every layer $k$ above $l$. If each
# factor shrinks a vector by about the same amount, the gradient shrinks geometrically on its way down:
# it *vanishes*. If each factor stretches it, it *explodes*.
#
# Two things set the size of each factor:
#
# - **the nonlinearity.** The sigmoid's derivative is at most $1/4$, reached at $z = 0$. The ReLU's is
#   $1$ where the unit is active and $0$ elsewhere.
# - **the initial weights.** With $n$ inputs per unit and weights of variance $\operatorname{Var}(w)$, one
#   layer multiplies the variance of the backward signal by about $n \operatorname{Var}(w)\, \mathbb{E}[\phi'(z)^2]$.
#   PyTorch initialises `nn.Linear` uniformly in $\pm 1/\sqrt{n}$, a variance of $1/(3n)$: for a ReLU
#   ($\mathbb{E}[\phi'^2] = 1/2$) each layer keeps a sixth of the variance. He initialisation
#   {cite}`he2015delving` takes $\operatorname{Var}(w) = 2/n$, so that the factor is one, forward and
#   backward (the idea of {cite:t}`glorot2010understanding`, redone for the ReLU).
#
# A third thing changes the picture: **batch normalisation** {cite}`ioffe2015batch` rescales each layer's
# pre-activations $\mathbf{z}_l$ to zero mean and unit variance over the batch, whatever the weights.
#
# We measure instead of arguing. `resnet_lib.probes.plain_stack` builds a plain perceptron of 20 layers of
# 256 units on the flattened $3 \times 32 \times 32$ images: a sigmoid or a ReLU after every layer but the
# last, PyTorch's default or He initialisation, with or without batch normalisation between each layer and
# its nonlinearity. `gradient_norms` runs one forward and backward pass of the cross-entropy loss on a batch
# and returns the norm of $\partial \mathcal{L} / \partial W_l$ for every layer. The batch is the first 128
# images of CIFAR-10's training split {cite}`krizhevsky2009learning`, without augmentation; the same at
# every run size.

# %%
train = load_cifar10("train")
val = load_cifar10("val")
print(train.source.replace("; ", ";\n  "))
print(f"training split: {len(train):,} images; validation split: {len(val):,} images")
x, y = next(iter(CifarLoader(train, batch_size=128, train=False)))
print("probe batch:", tuple(x.shape), "labels:", torch.bincount(y, minlength=10).tolist())

# %% [markdown]
# ### At initialisation
#
# Eight networks, one per combination, each from the same seed. The table gives the gradient norm of the
# first layer (next to the input), the middle one and the last one (the classifier), and the ratio of the
# first to the last: far below 1, the gradient vanishes on its way to the input; far above 1, it grows.

# %% tags=["nbval-ignore-output"]
DEPTH, WIDTH = 20, 256
ACTIVATIONS, INITS = ("sigmoid", "relu"), ("default", "he")
CASES = list(product(ACTIVATIONS, INITS, (False, True)))


def label(activation, init, bn):
    return f"{activation}, {init} init, {'with BN' if bn else 'no BN'}"


def make(activation, init, bn):
    torch.manual_seed(0)
    return plain_stack(DEPTH, WIDTH, activation, init, batchnorm=bn).to(device)


def first_last(norms):
    values = list(norms.values())
    return values[0] / values[-1]


stacks = {case: make(*case) for case in CASES}
at_init = {case: gradient_norms(net, x, y) for case, net in stacks.items()}

print(f"{'network':<30} {'layer 1':>9} {'layer 10':>9} {'layer 20':>9} {'1 / 20':>9}")
for case, norms in at_init.items():
    v = list(norms.values())
    print(f"{label(*case):<30} {v[0]:>9.1e} {v[9]:>9.1e} {v[-1]:>9.1e} {first_last(norms):>9.1e}")

# What the text below says, checked on every run:
assert first_last(at_init["sigmoid", "default", False]) < 1e-8    # vanishes
assert first_last(at_init["sigmoid", "he", False]) < 1e-4         # still vanishes
assert first_last(at_init["relu", "default", False]) < 1e-3       # vanishes
assert spread(at_init["relu", "he", False]) < 10                  # every layer within 10x
# grows toward the input
assert all(first_last(at_init["relu", init, True]) > 10 for init in INITS)
assert all(min(at_init[case].values()) > 0.1 for case in CASES if case[2])  # BN: nothing vanishes

# %% [markdown]
# ### After a few steps
#
# Now each of the eight networks takes the same number of SGD steps (the library's `fit`, learning rate
# 0.05, momentum 0.9, on a slice of the training split), and we measure again on the same batch. The next
# cell prints how many steps, the training loss of those steps (the loss of a network that has learnt
# nothing is $\ln 10 \approx 2.30$), and the new ratio of the first layer's gradient to the last's.

# %% tags=["nbval-ignore-output"]
STEPS = pick(SIZE, smoke=5, cpu=100, gpu=100)
step_loader = CifarLoader(train, batch_size=128, train=True, device=device, subset=STEPS * 128)
step_config = TrainConfig(iterations=STEPS, lr=0.05, schedule="constant", progress=False)
after, step_loss = {}, {}
for case, net in stacks.items():
    h = fit(net, step_loader, None, step_config)
    step_loss[case] = h[-1]["train_loss"]
    after[case] = gradient_norms(net, x, y)

print(f"{STEPS} steps of batch 128 ({STEPS * 128:,} images), constant learning rate 0.05")
print(f"{'network':<30} {'loss':>6} {'layer 1':>9} {'layer 20':>9} {'1 / 20':>9}")
for case in CASES:
    v = list(after[case].values())
    print(f"{label(*case):<30} {step_loss[case]:>6.3f} {v[0]:>9.1e} {v[-1]:>9.1e} "
          f"{first_last(after[case]):>9.1e}")
assert all(math.isfinite(loss) for loss in step_loss.values())
# training does not rescue the sigmoid stack
assert first_last(after["sigmoid", "default", False]) < 1e-8
if SIZE != "smoke":  # after 100 steps every loss is still near ln 10 = 2.30
    assert all(2.0 < loss < 2.4 for loss in step_loss.values())

# %% [markdown]
# The whole picture, one panel per nonlinearity and initialisation, the gradient norm of each layer on a
# logarithmic scale (layer 1 is next to the input), at initialisation (solid) and after the steps above
# (dashed):

# %%
fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True, sharey=True, layout="constrained")
layers = range(1, DEPTH + 1)
for ax, (activation, init) in zip(axes.flat, product(ACTIVATIONS, INITS)):
    for bn, color in ((False, "C0"), (True, "C1")):
        case = (activation, init, bn)
        name = "with BN" if bn else "no BN"
        ax.plot(layers, [max(v, 1e-30) for v in at_init[case].values()], "-o", ms=3, color=color,
                label=f"{name}, at init")
        ax.plot(layers, [max(v, 1e-30) for v in after[case].values()], "--", color=color,
                label=f"{name}, after {STEPS} steps")
    ax.set_yscale("log")
    ax.set_title(f"{activation}, {init} initialisation")
    ax.grid(alpha=0.3)
for ax in axes[1]:
    ax.set_xlabel("layer (1 = next to the input)")
for ax in axes[:, 0]:
    ax.set_ylabel("gradient norm  ||dL/dW||")
axes[0, 0].legend(fontsize="small")
plt.show()

# %% [markdown]
# Reading the panels and the two tables:
#
# - **Sigmoid without batch normalisation: vanishing.** The gradient shrinks layer after layer on its way
#   down, and the first layer receives many orders of magnitude less than the last (the ratio in the first
#   table). He initialisation, made for the ReLU, softens the decay but cannot undo a derivative of at most
#   $1/4$ per layer. After the training steps the ratio is the same: the layers near the input do not
#   learn at all.
# - **ReLU with PyTorch's default initialisation, no batch normalisation: vanishing too**, because each
#   layer keeps only a fraction of the variance of the signal, forward and backward.
# - **ReLU with He initialisation, no batch normalisation: healthy.** All twenty layers receive gradients
#   of the same order: the initialisation was chosen for exactly this.
# - **With batch normalisation**, whatever the nonlinearity and the initialisation, nothing vanishes: each
#   layer's input is renormalised, so the factors no longer depend on the scale of the weights. In the ReLU
#   stacks the gradient even *grows* toward the input at initialisation (a ratio far above 1 in the first
#   table). A few steps of training turn that around (the second table): a layer that receives a large
#   gradient grows its weights, and behind a batch normalisation larger weights mean a proportionally
#   smaller gradient, so the first layers' gradients shrink. They stay within a couple of orders of
#   magnitude of the last layer's, nothing like the fifteen orders of the sigmoid stack without it.
#
# The losses do not tell the eight networks apart: after the steps all eight lie between 2.09 and 2.36,
# around $\ln 10 \approx 2.30$, the loss of a network that has learnt nothing. A hundred steps are too few
# to train any of these perceptrons; what this experiment measures is the gradients, not the losses.
#
# So by 2015 the vanishing gradient had remedies: the ReLU, an initialisation that preserves the variance,
# and batch normalisation. The networks of the paper use all three. They still did not get better with
# depth.
#
# ## The degradation problem
#
# The paper's Figure 1 trains two "plain" networks on CIFAR-10: 20 and 56 layers of $3\times3$
# convolutions, each followed by batch normalisation and a ReLU, with He initialisation; the CIFAR networks
# of the paper's Section 4.2 without their shortcuts (`build("cifar_plain20")`, `build("cifar_plain56")`).
# Its caption: "The deeper network has higher training error, and thus test error." We train the same two
# networks with the library's `fit`, the paper's recipe (SGD with momentum 0.9, weight decay $10^{-4}$,
# batch 128, learning rate 0.1 divided by 10 at half and at three quarters of the iterations), at this
# page's run size. The validation images are the 5,000 the paper holds out of the training set (its
# Section 4.2), or the first of them at the smaller sizes.

# %% tags=["nbval-ignore-output"]
R = paper.CIFAR_RECIPE
TRAIN_IMAGES = pick(SIZE, smoke=512, cpu=5_000, gpu=R["train_images"])
VAL_IMAGES = pick(SIZE, smoke=500, cpu=1_000, gpu=R["val_images"])
train_loader = CifarLoader(train, R["batch_size"], train=True, device=device, subset=TRAIN_IMAGES,
                           seed=0)
val_loader = CifarLoader(val, 500, train=False, device=device, subset=VAL_IMAGES)
ITERATIONS = pick(SIZE, smoke=2 * len(train_loader), cpu=8 * len(train_loader),
                  gpu=R["iterations"])
config = TrainConfig(iterations=ITERATIONS, batch_size=R["batch_size"], lr=R["lr"],
                     momentum=R["momentum"], weight_decay=R["weight_decay"],
                     milestones=(ITERATIONS // 2, ITERATIONS * 3 // 4), progress=False)
print(f"training images: {TRAIN_IMAGES:,} of the {len(train):,} "
      f"(with the paper's crops and flips)")
print(f"validation images: {VAL_IMAGES:,} of the {len(val):,} held out")
print(f"{ITERATIONS:,} iterations of batch {config.batch_size} = "
      f"{ITERATIONS / len(train_loader):.0f} epochs; learning rate {config.lr}, divided by 10 at "
      f"iterations {config.milestones[0]:,} and {config.milestones[1]:,}")
print(f"the paper: {R['iterations']:,} iterations, a length it chose on a {R['train_images']:,}/"
      f"{R['val_images']:,} train/val split; lr divided at {R['milestones'][0]:,} and "
      f"{R['milestones'][1]:,}")

# %% tags=["nbval-ignore-output"]
NAMES = {"cifar_plain20": "plain-20", "cifar_plain56": "plain-56"}
nets, runs = {}, {}
for name, short in NAMES.items():
    torch.manual_seed(0)
    nets[name] = build(name)
    runs[name] = fit(nets[name], train_loader, val_loader,
                     dataclasses.replace(config, model=name))
    print(f"{short}: trained in {runs[name].meta['wall_seconds']:.0f} s "
          f"({runs[name][-1]['images_per_s']:.0f} images/s in the last epoch)")

# %% [markdown]
# Training error (left, as in the paper's Figure 1) and validation error (right), in percent, after
# each epoch. The training error of an epoch is measured on the augmented images while the network trains,
# as in the paper's curves.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True, layout="constrained")
for i, (name, short) in enumerate(NAMES.items()):
    h = runs[name]
    its = h.series("iteration")
    axes[0].plot(its, [100 * (1 - a) for a in h.series("train_top1")], "--o", ms=3, color=f"C{i}",
                 label=short)
    axes[1].plot(its, [100 * (1 - a) for a in h.series("val_top1")], "-o", ms=3, color=f"C{i}",
                 label=short)
for ax, title in zip(axes, ("training error", "validation error")):
    ax.set_title(title)
    ax.set_xlabel("iteration")
    ax.grid(alpha=0.3)
    ax.legend()
axes[0].set_ylabel("top-1 error (%)")
plt.show()

# %% tags=["nbval-ignore-output"]
err = {name: {"train": 100 * (1 - runs[name][-1]["train_top1"]),
              "val": 100 * (1 - runs[name][-1]["val_top1"])}
       for name in NAMES}
print(f"{'':<9} {'training error':>15} {'validation error':>17}   (%, last epoch)")
for name, short in NAMES.items():
    print(f"{short:<9} {err[name]['train']:>15.1f} {err[name]['val']:>17.1f}")
gap = err["cifar_plain56"]["train"] - err["cifar_plain20"]["train"]
print(f"plain-56's training error is {gap:+.1f} points from plain-20's")

for h in runs.values():
    losses = h.series("train_loss")
    assert all(math.isfinite(v) for v in losses)
    if SIZE == "smoke":  # eight iterations barely move plain-56 from ln 10 = 2.30, up or down
        assert max(losses) < 2.5
    else:
        assert losses[-1] < losses[0]  # both learn
if SIZE != "smoke":  # a few iterations cannot show it; every larger size does
    assert gap > 3, "the deeper plain network should fit its training data worse"

# %% [markdown]
# The deeper network has the higher training error, as in the paper's Figure 1, where the 56-layer plain
# network's training and test errors stay above the 20-layer network's through all of training. (Our runs
# are far shorter than the paper's, so our errors are higher than its; the printed numbers are this run's.
# Errors on our copy of CIFAR-10 also run higher than on the official files (by almost four points for
# ResNet-20 trained by the paper's full recipe, chapter 5): the first line printed by the data cell says
# which copy this is.)
#
# A run of a few hundred iterations cannot tell *trains slower* from *trains worse*: plain-56 might only
# need more iterations to catch up. The paper's Figure 1 answers it over all 64,000 iterations: the gap
# stays to the end. Chapter 2 trains plain and residual networks side by side and comes back to it with
# stored runs of 7,020 iterations on all 45,000 images ({ref}`Figure 6 from longer, stored runs
# <fig6-stored>`), where plain-56 still ends with the higher training error.
#
# ### Not over-fitting
#
# Over-fitting is a network that fits its training images *better* than it generalises: low training
# error, higher validation error. A larger network over-fits more easily, having more parameters to
# memorise with. That is not what happens here: plain-56 is worse on the very images it trains on. Its
# higher validation error follows from its higher training error. It is an *optimisation* problem: the
# solver does not find, for the deeper network, weights as good as those it finds for the shallower one,
# although weights at least as good exist (the 20 layers of plain-20 followed by 36 layers computing the
# identity).
#
# ### Not vanishing gradients
#
# Both networks have batch normalisation after every convolution and He initialisation. The paper argues
# that this rules out vanishing gradients: "We also verify that the backward propagated gradients exhibit
# healthy norms with BN. So neither forward nor backward signals vanish." We check it, on the two networks
# trained above at their initial weights (rebuilt from the same seed), on the probe batch, and on the
# trained plain-56:

# %% tags=["nbval-ignore-output"]
grads = {}
for name in NAMES:
    torch.manual_seed(0)
    grads[name] = gradient_norms(build(name).to(device), x, y)
grads["trained plain-56"] = gradient_norms(nets["cifar_plain56"], x, y)

print(f"{'':<22} {'layers':>6} {'first':>8} {'smallest':>9} {'last (fc)':>9} "
      f"{'largest / smallest':>19}")
for key, norms in grads.items():
    short = NAMES.get(key, key)
    v = list(norms.values())
    print(f"{short + (', at init' if key in NAMES else ''):<22} {len(v):>6} {v[0]:>8.3f} "
          f"{min(v):>9.3f} {v[-1]:>9.3f} {spread(v):>19.0f}")

p20, p56 = grads["cifar_plain20"], grads["cifar_plain56"]
assert len(p20) == 20 and len(p56) == 56
assert min(p56.values()) > 0.1 * min(p20.values())  # no layer of plain-56 is starved
assert list(p56.values())[0] > 100 * list(p56.values())[-1]  # at init: explodes toward the input
# at init, plain-56's norms spread far wider than plain-20's
assert spread(p56) > 100 * spread(p20)
trained = list(grads["trained plain-56"].values())
if SIZE != "smoke":  # after training the first layer gets less than fc, and the spread is small
    assert trained[0] < trained[-1] and spread(trained) < 100

# %%
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
for key, style in (("cifar_plain20", "-o"), ("cifar_plain56", "-o"), ("trained plain-56", "--")):
    v = list(grads[key].values())
    label = f"{NAMES[key]}, at init" if key in NAMES else f"plain-56, after training"
    ax.plot(range(1, len(v) + 1), v, style, ms=3, label=label,
            color="C0" if key == "cifar_plain20" else "C1")
ax.set_yscale("log")
ax.set_xlabel("layer (1 = the first convolution, last = the fc layer)")
ax.set_ylabel("gradient norm  ||dL/dW||")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# Nothing vanishes: the smallest layer gradient of plain-56 is of the same order as plain-20's (the table
# above). What the measurement adds to the paper's "healthy norms" is that at initialisation they are far
# from healthy in the other direction: plain-56's gradient *explodes* toward the input, 520 at the first
# layer against 0.44 at the `fc` layer, and 3,884 times between its largest and smallest layer gradient
# (plain-20's: 8 times), as in the batch-normalised ReLU perceptrons of the first part. Training turns it
# around, as it did there: in the
# trained plain-56 the first layer gets 0.020, less than the `fc` layer's 0.173, and the spread is down to
# 17 times. (Weight gradients are not the whole story in a batch-normalised network, where scaling a
# layer's weights scales its gradient inversely; the exercises look at the ratio of the two.) Whatever
# hampers plain-56, it is not that its first layers get no gradient.
#
# The paper leaves the cause open. It conjectures that "the deep plain nets may have exponentially low
# convergence rates, which impact the reducing of the training error", and observes that the degradation
# shows the solver has difficulty with something that should be easy: making a stack of nonlinear layers
# approximate the identity, the construction by which the deeper network could at least match the
# shallower one. Chapter 2 changes what the layers are asked to learn so that the identity becomes the
# easy thing to represent, and trains the same pairs of depths again.
#
# ## Summary
#
# - The gradient that reaches a layer is the top gradient times one factor per layer above it, so it shrinks
#   or grows geometrically with depth. The nonlinearity's derivative and the weights' variance set the
#   factor.
# - Without batch normalisation, sigmoid stacks vanish whatever the initialisation (fifteen orders of magnitude over 20 layers with
#   PyTorch's default); ReLU with He initialisation keeps every layer's gradient within a few times of the
#   others; batch normalisation stops the vanishing, and at initialisation can even make gradients grow
#   toward the input.
# - With all three remedies, the deeper plain network still fits its own training data worse: plain-56
#   ends with a higher training error than plain-20. That is the degradation problem.
# - It is not over-fitting (the training error itself is worse) and not vanishing gradients (no layer of
#   plain-56 is starved of gradient). The paper leaves the cause open; chapter 2 removes it.
#
# ## Exercises
#
# 1. Add `"tanh"` to the activations and `"xavier"` to the initialisations of the first experiment. Before
#    running, predict from the factor $n \operatorname{Var}(w)\, \mathbb{E}[\phi'(z)^2]$ which combinations
#    vanish.
#
#    :::{admonition} Hint
#    :class: dropdown
#    Compute both terms for each combination. PyTorch's default initialisation draws $w$ uniformly with
#    $\operatorname{Var}(w) = 1/(3n)$, so $n \operatorname{Var}(w) = 1/3$; Xavier's gives about 1 and He's 2.
#    $\mathbb{E}[\phi'(z)^2]$ is $1/2$ for the ReLU, at most $1/16$ for the sigmoid ($\phi' \le 1/4$) and at
#    most 1 for tanh, close to 1 while $z$ stays small. A product below 1 vanishes geometrically with depth.
#    :::
# 2. At what depth does the sigmoid stack's first-layer gradient become exactly zero in 32-bit floating
#    point? Compute it in `torch.float64` (`plain_stack(...).double()` and `x.double()`) and compare.
#
#    :::{admonition} Hint
#    :class: dropdown
#    The smallest positive float32 is about $1.4 \cdot 10^{-45}$ (a subnormal number; the smallest normal one is
#    about $1.2 \cdot 10^{-38}$). Divide its logarithm by the logarithm of the per-layer factor you measured.
#    :::
# 3. Train `cifar_plain32` and `cifar_plain44` with the same configuration and plot the final training error
#    against depth (20, 32, 44, 56). Is the degradation gradual?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Train each with `dataclasses.replace(config, model=name)` on the same loaders, so that only the depth
#    changes. The paper's Figure 6 (left) shows the training error of plain-20, 32, 44 and 56 rising in that
#    order after its full schedule; a short run may order the middle two either way: compare the gaps with
#    the difference between two seeds.
#    :::
# 4. A batch normalisation after a convolution makes the network's output unchanged when that convolution's
#    weights are multiplied by a constant, and the gradient is then divided by that constant. Plot
#    $\lVert \partial\mathcal{L}/\partial W_l \rVert / \lVert W_l \rVert$ per layer for plain-20 and plain-56
#    at initialisation and after training. Does it spread less than the gradient norm?
#
#    :::{admonition} Hint
#    :class: dropdown
#    After `loss.backward()`, `layer.weight.grad.norm() / layer.weight.norm()` for every layer of
#    `probes.weighted_layers(net)`. Scaling $W_l$ by $c$ leaves the loss unchanged and divides its gradient by
#    $c$, so the ratio is the same for every scale: what is left of the spread is not a matter of weight size.
#    :::
# 5. Over-fitting for comparison: train plain-20 on 500 images for many epochs, and watch its training error
#    fall toward zero while its validation error stays high. How does that differ from the curves above?
#
#    :::{admonition} Hint
#    :class: dropdown
#    `CifarLoader(train, 128, train=True, subset=500)` has 3 batches an epoch: 100 epochs are 300 iterations,
#    as short as the runs above. Over-fitting shows as a training error far below the validation error;
#    degradation as a deeper network's *training* error above a shallower one's.
#    :::
#
# ## References
#
# - {cite:t}`he2016deep`: Figure 1 (plain-20 and plain-56 on CIFAR-10), Section 4.1 ("neither forward nor
#   backward signals vanish") and Section 4.2 (the CIFAR-10 networks and recipe).
# - {cite:t}`glorot2010understanding`: why deep networks with sigmoid units were hard to train, and an
#   initialisation that preserves the variance.
# - {cite:t}`he2015delving`: the initialisation for ReLU networks used throughout the book.
# - {cite:t}`ioffe2015batch`: batch normalisation.
# - {cite:t}`krizhevsky2009learning`: CIFAR-10.
