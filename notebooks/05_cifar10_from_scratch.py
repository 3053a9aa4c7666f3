# ---
# jupyter:
#   accelerator: GPU
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. CIFAR-10 from scratch
#
# Section 4.2 of the paper {cite}`he2016deep` trains its ResNets on CIFAR-10 {cite}`krizhevsky2009learning`:
# 60,000 colour images of $32 \times 32$ pixels in ten classes. It is where the paper shows that its ideas
# work beyond ImageNet and at depths of 110 and even 1202 layers, and it is small enough that we can train
# its networks ourselves. This chapter does so through `resnet_lib`, with the paper's recipe. Part I met
# these networks without training any to the end: chapter 0 listed them, chapter 1 measured why a deep plain
# network trains worse than a shallow one, and chapter 2 what the shortcuts change. Here they train for real.
#
# **You will learn**
# - the paper's CIFAR-10 recipe, as the library states it: batch, learning rate and its schedule, weight
#   decay, augmentation;
# - why 5,000 training images are held out for validation, and why the test set is touched only once, at
#   the very end;
# - how to train a ResNet with `recipes.prepare` and `fit`;
# - how a ResNet-20 trained to the end of the paper's recipe, on a CPU, compares with the paper's Table 6,
#   and how to read its training curves;
# - what a recipe made for time changes, and what it reaches in under an hour;
# - where a trained network still errs: per-class accuracy, the confusion matrix, and the images it gets
#   wrong.

# %% tags=["hide-input"]
# In Colab, install resnet_lib from the book's repository (elsewhere `make book` or
# `pip install -e .` did).
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "git+https://github.com/resnet-book/resnet-book"], check=True)

# %% tags=["nbval-ignore-output"]
import dataclasses
import pprint
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display

from resnet_lib import data, paper, plots, recipes, train
from resnet_lib.results import load_model, load_result, test_errors
from resnet_lib.runsize import describe, download_for, pick, run_size
from resnet_lib.show import data_copy, duration, network_name, show_table

# %matplotlib inline

SIZE = run_size()
# smoke: one thread (on a shared, busy machine two can be slower than one)
THREADS = torch.get_num_threads()
torch.set_num_threads(pick(SIZE, smoke=1, cpu=THREADS, gpu=THREADS))
print(describe(SIZE))
# Missing data downloads at the cpu and gpu sizes (and in Colab);
# at the smoke size the library reads its own sample.
DOWNLOAD = download_for(SIZE)

# %% [markdown]
# The stored outputs of this page come from a run at the `cpu` size, on the hardware printed above, on a
# JPEG copy of CIFAR-10 (more on that copy below), and from three longer runs stored with the book, each
# printed with its own provenance. Set `RESNET_RUN_SIZE=gpu`, or open the page in Colab
# with a GPU, to run the paper's full recipe yourself.
#
# ## The recipe
#
# The paper's words (Section 4.2): "We use a weight decay of 0.0001 and momentum of 0.9, and adopt the
# weight initialization in [13] and BN [16] but with no dropout. These models are trained with a mini-batch
# size of 128 on two GPUs. We start with a learning rate of 0.1, divide it by 10 at 32k and 48k iterations,
# and terminate training at 64k iterations, which is determined on a 45k/5k train/val split. We follow the
# simple data augmentation in [24] for training: 4 pixels are padded on each side, and a $32\times32$ crop
# is randomly sampled from the padded image or its horizontal flip. For testing, we only evaluate the single
# view of the original $32\times32$ image."
#
# (The bracketed numbers are the paper's references: [13] is the initialisation of {cite:t}`he2015delving`,
# [16] batch normalisation {cite:p}`ioffe2015batch`, [24] the deeply-supervised nets of Lee et al., whose
# crops and flips the paper follows.)
#
# `resnet_lib.recipes` keeps this as a `Recipe`: a `TrainConfig` (how to optimise) plus what the data needs.
# Here is the one for ResNet-20, field by field:

# %%
recipe = recipes.get_recipe("cifar10-resnet20")
pprint.pp(recipe, width=78)

# %% [markdown]
# Most fields are the paper's numbers; the rest are the library's defaults (no label smoothing, no
# warm-up, mixed precision on a GPU). The same recipe in a few lines, and the other CIFAR-10 recipes of
# the library: the paper's depths, and the *plain* networks of its Figure 6, the same layers without
# shortcuts. Only ResNet-110 differs: it starts at a learning rate of 0.01 until training is under way.

# %%
print(recipes.describe(recipe))
print()
cifar = [name for name in recipes.recipe_names() if name.startswith("cifar10-")]
width = max(map(len, cifar)) + 1
for name in cifar:
    print(textwrap.fill(recipes.get_recipe(name).summary, 98, initial_indent=f"{name:<{width}}",
                        subsequent_indent=" " * width))
c = recipe.config
epochs = c.iterations * c.batch_size / paper.CIFAR_RECIPE["train_images"]
print(f"\n{c.iterations:,} iterations of {c.batch_size} images = "
      f"{epochs:.1f} epochs of the 45k training images")

# %% [markdown]
# The paper counts its schedule in iterations, not epochs: 64k iterations of 128 images are about 182
# passes over the 45,000 training images (the recorded run's 183rd epoch stops part-way). That is a GPU's work (the recorded CPU run below says how long
# it would take on a CPU), which is why this page runs shorter versions of it at the `cpu` size. When a
# run is shorter than the recipe, the library moves the learning-rate drops with it: they stay at one half
# and three quarters of the run, where 32k and 48k sit in 64k.
#
# ## The data, and a held-out validation set
#
# CIFAR-10 comes as 50,000 training and 10,000 test images. The paper chose its schedule (when to drop
# the learning rate, when to stop) on a *45k/5k train/val split*: it trained on 45,000 images and watched
# the error on the other 5,000. `load_cifar10` gives the same split: `"train"`, `"val"`, and `"test"`.

# %%
train_set = data.load_cifar10("train", download=DOWNLOAD)
val_set = data.load_cifar10("val", download=DOWNLOAD)
test_set = data.load_cifar10("test", download=DOWNLOAD)
splits = {"train": train_set, "val": val_set, "test": test_set}
for split, ds in splits.items():
    per_class = set(torch.bincount(ds.labels, minlength=10).tolist())
    print(f"{split:<5} {len(ds):>6,} images of "
          f"{'x'.join(map(str, ds.images.shape[1:]))}, {per_class} per class")
print(f"classes: {', '.join(train_set.classes)}")
print("source: ", train_set.source.replace(": ", ":\n         ", 1).replace("; ", ";\n         "))

# %% [markdown]
# The stored outputs use the book's JPEG copy of CIFAR-10 ({ref}`what that copy is <stored-data>`):
# errors on it run higher than on the official files (exercise 1 asks by how much), and our numbers
# below say which copy they are on. Where no copy is found (in Colab, for example), the library downloads the official
# release at the `cpu` and `gpu` sizes.
#
# Why three sets? Every choice made while looking at an error (the number of iterations, the drops of the
# learning rate, which of two runs to keep) fits the network a little to the images that error was measured
# on. The validation set absorbs those choices. The test set is evaluated once, on the final network, and
# that number is not used to change anything, so it stays an honest estimate of the error on new images.
# In this chapter `fit` reports the validation error after every epoch, and the test set is evaluated in
# exactly one place, at the end of each run. (The paper does not say whether its final models were then
# retrained on all 50,000 images; ours train on the 45,000.)
#
# A few training images with their labels:

# %%
names = [train_set.classes[i] for i in train_set.labels[:16]]
display(plots.image_grid(train_set.images[:16], names, ncols=8))
plt.show()

# %% [markdown]
# ## Training at this page's run size
#
# `recipes.prepare` turns a recipe into a model, the training and validation loaders and the `TrainConfig`,
# with any change we ask for: here fewer images (`subset`) and a shorter run. `fit` trains it and returns
# the `History`, one record per epoch. What each run size trains:
#
# - `smoke`: ResNet-20 for a few iterations on a few hundred images, to check that everything runs;
# - `cpu`: ResNet-20 on 10,000 training images for a few epochs, a few minutes on a laptop: a demonstration
#   that the code runs end to end, not a trained network;
# - `gpu`: the full recipe, 64k iterations on all 45,000 images, for ResNet-20 and ResNet-56 and their
#   plain twins; checkpoints go to `runs/`, and running the cell again continues an interrupted run.

# %%
NAMES = pick(SIZE, smoke=["cifar10-resnet20"], cpu=["cifar10-resnet20"],
             gpu=["cifar10-resnet20", "cifar10-plain20",
                  "cifar10-resnet56", "cifar10-plain56"])
# Images of each split (None: all of them).
SUBSET = pick(SIZE, smoke=256, cpu=10_000, gpu=None)
# smoke: 2 epochs of 8 small batches; gpu: the recipe's 64k iterations.
LENGTH = pick(SIZE, smoke=dict(iterations=16, batch_size=32),
              cpu=dict(epochs=4), gpu={})
TEST_SUBSET = pick(SIZE, smoke=500, cpu=None, gpu=None)  # None: all 10,000
OUT = pick(SIZE, smoke=None, cpu=None, gpu="runs")  # checkpoints (None: none)
PROGRESS = pick(SIZE, smoke=False, cpu=False, gpu=None)  # gpu: progress bars


runs = {}
for name in NAMES:
    t0 = time.perf_counter()
    model, train_loader, val_loader, config = recipes.prepare(
        name, subset=SUBSET, download=DOWNLOAD, progress=PROGRESS, **LENGTH)
    out = None if OUT is None else Path(OUT) / name
    history = train.fit(model, train_loader, val_loader, config,
                        out_dir=out, resume=out is not None)
    # The test set, once, on the final network.
    test_loader = recipes.split_loader(name, "test", config,
                                       subset=TEST_SUBSET, download=DOWNLOAD)
    preds = train.predict(model, test_loader, train.pick_device(config.device))
    labels = test_loader.labels.cpu()
    runs[name] = dict(
        history=history, config=config, preds=preds, labels=labels,
        train_images=len(train_loader.labels),
        iterations_per_epoch=len(train_loader),
        test_error=100 * (preds != labels).double().mean().item(),
        wall=time.perf_counter() - t0, hardware=history.meta["device"])

# %% tags=["nbval-ignore-output"]
for name, run in runs.items():
    h, cfg = run["history"], run["config"]
    print(f"{name}: {len(h)} epochs, {h[-1]['iteration']:,} iterations of "
          f"{cfg.batch_size} on {run['train_images']:,} images,\n"
          f"  {run['wall']:.0f} s on {run['hardware']}")
    print("  epoch  lr      train loss  train error  val error  seconds")
    for r in h:
        print(f"  {r['epoch']:>5}  {r['lr']:<6.3g}  {r['train_loss']:>10.3f}  "
              f"{100 * (1 - r['train_top1']):>10.1f}%  "
              f"{100 * (1 - r['val_top1']):>8.1f}%  {r['seconds']:>7.0f}")
    print(f"  test error {run['test_error']:.2f}% "
          f"on {len(run['labels']):,} test images")
    first, last = h[0], h[-1]
    total = cfg.iterations or cfg.epochs * run["iterations_per_epoch"]
    assert len(h) >= 2 and last["iteration"] == total
    assert all(0 <= r["val_top1"] <= 1 and r["train_loss"] > 0 for r in h)
    if SIZE != "smoke":
        assert last["train_loss"] < first["train_loss"], "the loss falls"
        assert run["test_error"] < 90, "better than chance (1 class in 10)"
    if SIZE == "gpu" and "resnet" in name:
        assert run["test_error"] < 15

# %% [markdown]
# Each line is one epoch: the learning rate it trained with, the training loss and error (on augmented images,
# while the weights were still changing), and the validation error (on the 5,000 held-out images, after
# the epoch). The last line is the one evaluation of the test set. At the `cpu` size this is a
# demonstration that the pieces work: four epochs on 10,000 images are half a percent of the recipe's iterations, and the
# network is far from trained. The converged networks come next.
#
# ## Our runs beside the paper's Table 6
#
# The book keeps three ResNet-20 runs of its own in its `results/` folder, each with its weights and its
# provenance (the command, the commit, the hardware, the copy of the data, the time): the paper's recipe
# run to the end, all 64k iterations; a faster recipe of ours, the subject of the section after next; and
# the paper's recipe squeezed into 20 epochs, the length of chapter 2's Figure 6 runs. The table puts them
# beside the paper's Table 6 (the test error on the official CIFAR-10, each the result of the full recipe;
# for ResNet-110 the best of five runs, whose mean the paper gives as 6.61%). The paper evaluates "the
# single view of the original $32\times32$ image"; our last column adds the error with each test image
# averaged with its mirror image, which the fast recipe uses.

# %%
# Stored runs, in the book's results/ folder, and what each one is
RECORDED = {"cifar10-resnet20-paper": "ours, the paper's recipe",
            "cifar10-resnet20-fast": "ours, fast recipe",
            "fig6-cifar10-resnet20": "ours, the paper's recipe in 20 epochs"}
HEADER = ["network", "source", "hardware", "data", "training", "training time",
          "val error (%)", "test error (%)", "with flips (%)"]
rows = [[f"ResNet-{depth}", "paper, Table 6", "2 GPUs (model not stated)", "official",
         "64k iterations of 128", "not stated", "not stated", f"{error:.2f}", "not used"]
        for depth, error in paper.TABLE6_ERROR.items()]
recorded = {name: load_result(name) for name in RECORDED}
test_error = {}  # name -> {False: single view, True: with flips}
for name, r in recorded.items():
    p = r["provenance"]
    test_error[name] = test_errors(r)
    val = r["final_val_error_pct"]
    rows.append([
        network_name(r["model"]), RECORDED[name],
        (p["hardware"] if len(r["machines"]) == 1
         else f"{len(r['machines'])} CPUs in turn (below)"),
        data_copy(p["data"]),
        f"{r['iterations']:,} iterations of {r['config']['batch_size']} "
        f"on {p['train_images']:,} images",
        duration(r["train_seconds"]),
        "none held out" if val is None else f"{val:.2f}",
        f"{test_error[name][False]:.2f}",
        f"{test_error[name][True]:.2f}" if True in test_error[name] else "not measured"])
show_table(HEADER, rows)

# %% [markdown]
# Where each run comes from: the command that made it, the commit of the library, the hardware of every
# part of the run and how long it trained.

# %%
for name, r in recorded.items():
    p = r["provenance"]
    print(f"{name} ({RECORDED[name]}), recorded with:\n  {p['command']}")
    print(f"  torch {p['torch']}, git commit {p['git_commit']}, finished {p['finished'][:10]}")
    print(f"  data: {data_copy(p['data'])}, {p['train_images']:,} training images; "
          f"{r['epochs']} epochs = {r['iterations']:,} iterations")
    for m in r["machines"]:
        print(f"  epochs {m['epochs'][0]:>3}-{m['epochs'][1]:<3} on {m['hardware']}")
    if "machines_note" in r:
        print(textwrap.fill(f"({r['machines_note']})", 98, initial_indent="  ",
                            subsequent_indent="   "))
    if r["resumes"]:
        print(f"  stopped and resumed exactly after epochs "
              f"{', '.join(str(x['epoch']) for x in r['resumes'])}")
        print(f"  {r['train_seconds'] / 3600:.2f} hours of training in all")
    else:
        print(f"  {p['wall_seconds'] / 60:.1f} minutes from start to test result")
    print()

# %%
PAPER, FAST, SHORT = RECORDED
ours = test_error[PAPER][False]
last = recorded[PAPER]["history"][-1]
train_error = 100 * (1 - last["train_top1"])
print(f"the paper's recipe, the paper's ResNet-20: {paper.TABLE6_ERROR[20]:.2f}% test error "
      f"(official files)")
print(f"the paper's recipe, our ResNet-20:         {ours:.2f}% test error (JPEG copy),\n"
      f"{'':<43}{train_error:.2f}% training error in its last epoch")
print(f"{ours - paper.TABLE6_ERROR[20]:.2f} points apart")
assert recorded[PAPER]["iterations"] == 64_000
assert recorded[PAPER]["provenance"]["train_images"] == 45_000
# as the text below says: 12.65%, almost four points above, all but 1% of the training images
assert f"{ours:.2f}" == "12.65" and 3.5 < ours - paper.TABLE6_ERROR[20] < 4
assert round(train_error) == 1

# %% [markdown]
# The paper's recipe, run to its end on our copy of the data, trained a ResNet-20 to 12.65% test error:
# a converged network, which gets all but 1% of its training images right in its last epoch, but almost
# four points above the paper's 8.75%. We have not isolated the cause. What we know:
#
# - **The data.** Our copy of CIFAR-10 is stored as JPEG at quality 75 with its colour at half resolution
#   (each $2\times2$ block of pixels shares one colour; {ref}`the copy <stored-data>`), and the network
#   trains and is tested on it. At $32\times32$ pixels there is little detail to lose. This is the likeliest
#   cause, and not one these runs can test: they had only this copy.
# - **One run against one number.** Runs of one recipe differ by tenths of a point (the paper's five
#   ResNet-110 runs have a standard deviation of 0.16; three seeds of our fast recipe's short trial, below,
#   spread over 0.95): that explains tenths, not four points.
# - **The training set.** Our run trains on the 45,000 images of the split; the paper does not say whether
#   its final models saw all 50,000. We have not measured what 11% more images are worth here.
#
# So this page compares like with like: our runs with each other, all on the same copy, and the paper's
# numbers as the paper's. With the official data (Colab downloads it), the `gpu` size of this page runs the
# same recipe: exercise 1 asks whether the gap closes.

# %% [markdown]
# ## Training curves
#
# The paper's recipe, epoch by epoch: the loss, the top-1 error (dashed: training, on augmented images;
# solid: validation, on the 5,000 held-out images) and the learning rate, on a log scale, against the
# iteration, as in the paper's Figure 6.

# %%
h = recorded[PAPER]["history"]
display(plots.plot_history(h, metrics=("loss", "error", "lr"), x="iteration",
                           labels=["ResNet-20"]))
plt.show()
# What the text below says: the errors over the five epochs before and after each division
val = torch.tensor([100 * (1 - r["val_top1"]) for r in h])
trained = torch.tensor([100 * (1 - r["train_top1"]) for r in h])
lrs = [r["lr"] for r in h]
drops = [e for e in range(1, len(h)) if lrs[e] < lrs[e - 1]]  # the first epoch at the lower rate
# epochs 11 to the drop, five at a time
plateau = [val[a:a + 5].mean().item() for a in range(10, drops[0] - 4, 5)]
print(f"at lr {lrs[0]:.3g}, epochs 11-{drops[0]}: validation error between {min(plateau):.2f}% "
      f"and {max(plateau):.2f}% (means of five epochs)")
for e in drops:
    print(f"lr {lrs[e - 1]:.3g} -> {lrs[e]:.3g} in epoch {e + 1}, 5 epochs before -> 5 after: "
          f"validation error {val[e - 5:e].mean():.2f}% -> {val[e:e + 5].mean():.2f}%,\n"
          f"  training error {trained[e - 5:e].mean():.2f}% -> {trained[e:e + 5].mean():.2f}%")
print(f"last epoch: training error {trained[-1]:.2f}%, validation error {val[-1]:.2f}%; "
      f"lowest validation error {val.min():.2f}% (epoch {int(val.argmin()) + 1})")
first, second = drops
assert 16.5 < min(plateau) and max(plateau) < 21.5
assert val[first - 5:first].mean() - val[first:first + 5].mean() > 5
assert trained[first:first + 5].mean() < 0.55 * trained[first - 5:first].mean()  # halves
assert abs(val[second - 5:second].mean() - val[second:second + 5].mean()) < 0.5
assert trained[-1] < 1 and val.argmin() < second and val[-1] > val.min() + 0.3

# %% [markdown]
# For some 80 epochs at the learning rate of 0.1 the validation error hovers between about 17% and 21%.
# The first division by 10 brings it down by more than five points within a few epochs, and halves the
# training error, as at the drops of the paper's Figures 1 and 6: a large step size lets the weights move
# fast but keeps them bouncing around; the smaller one lets them settle. The second division moves the
# validation error by less than half a point. After it the training error keeps falling, below 1% in the
# last epoch, while the validation error stays above its lowest point, reached at the lower rate of the
# first division: the network goes on fitting its training images without getting better on new ones.
#
# ## The paper recipe's accuracy in an hour: a recipe for time
#
# The paper's recipe took eight hours of one CPU thread. Its schedule was chosen for accuracy on two GPUs in
# 2015, not for time. Recipes made for time since then reach 94% on CIFAR-10 in seconds of a GPU
# {cite}`jordan2024airbench`, more by the recipe than by the hardware. The library's
# `cifar10-resnet20-fast` recipe trains the paper's ResNet-20, unchanged, with such a recipe, for as many
# epochs as fit into an hour of two CPU threads. What it changes, field by field:

# %%
paper_recipe = recipes.get_recipe("cifar10-resnet20")
fast_recipe = recipes.get_recipe("cifar10-resnet20-fast")
print(recipes.describe(fast_recipe))
print("\nwhat it changes in the paper's recipe:")
for field in dataclasses.fields(paper_recipe.config):
    before = getattr(paper_recipe.config, field.name)
    after = getattr(fast_recipe.config, field.name)
    if before != after:
        print(f"  {field.name:<17} {before!s:<16} -> {after}")
for field in ("train_split", "val_split", "test_flip"):
    print(f"  {field:<17} {getattr(paper_recipe, field)!s:<16} -> {getattr(fast_recipe, field)}")
all_images = paper.CIFAR_RECIPE["train_images"] + paper.CIFAR_RECIPE["val_images"]
images = fast_recipe.config.epochs * all_images
paper_images = paper_recipe.config.iterations * paper_recipe.config.batch_size
print(f"\n{images:,} training images in all, {100 * images / paper_images:.0f}% of the paper's "
      f"{paper_images:,}")
assert round(100 * images / paper_images) == 43  # the text below

# %% [markdown]
# - **Length and schedule**: 70 epochs of 50,000 images, 43% of the images the paper's recipe trains on
#   (printed above), with the learning rate rising linearly from 0.02 to 0.2 over the first epoch (a
#   *warm-up*: the first steps, from random weights, are the most fragile) and falling linearly to zero at the end, instead of the paper's two divisions by 10. A linear
#   decay spends the whole run lowering the rate, where a step schedule waits for its drops.
# - **Nesterov momentum** takes the gradient where the momentum is about to carry the weights, one step
#   ahead: a common choice in recipes for short runs.
# - **Weight decay 5e-4 on the convolution and fc weights only**: five times the paper's pull towards small
#   weights, common in short CIFAR-10 recipes; batch normalisation's scales and shifts, and biases, are
#   left free, since the normalisation undoes the scale of the weights before them anyway.
# - **Label smoothing 0.1**: the target is 0.91 for the right class and 0.01 for each of the others, so the
#   network is not pushed to ever larger logits on images it already gets right.
# - **bfloat16 autocast and channels_last**: the same arithmetic in a faster format, about twice the
#   images per second on a CPU with bfloat16 units (chapter 7 measures it); not a change to what is learnt.
# - **All 50,000 training images** (`train+val`): the recipe was tried on the 45k/5k split first (a
#   15-epoch trial, printed below), so the final run needs no validation set; its test set is still touched
#   once.
# - **Flips at test time**: each test image is scored together with its mirror image and the two softmax
#   outputs averaged (`evaluate(flip=True)`). The paper evaluates one view; both numbers are printed.
#
# Against the hours of training, on a log scale, the error of each stored run: dashed the training error,
# solid the validation error (the fast recipe has none: it trains on all 50,000 images), a star the one
# test evaluation, single view, at the end:

# %%
fig = plots.plot_history([recorded[name]["history"] for name in RECORDED], metrics=("error",),
                         x="hours", labels=list(RECORDED.values()))
fig.set_size_inches(9, 4.5)
ax = fig.axes[0]
ax.set_xscale("log")
for i, name in enumerate(RECORDED):  # the one test evaluation, single view, when training ended
    ax.plot(recorded[name]["train_seconds"] / 3600, test_error[name][False], "*", ms=12,
            color=f"C{i}", label=f"test {RECORDED[name]}")
ax.legend(fontsize="small", ncols=2)
display(fig)
fast = recorded[FAST]
print(f"fast recipe: {fast['provenance']['wall_seconds'] / 60:.1f} minutes from start to test "
      f"result on {fast['provenance']['hardware']}")
for name in RECORDED:
    r = recorded[name]
    print(f"{RECORDED[name]}: {r['train_seconds'] / 3600:.2f} h of training; test error "
          + ", ".join(f"{e:.2f}% {'with' if flip else 'without'} flips"
                      for flip, e in sorted(test_error[name].items())))
# What the text below says: an hour at most, on two threads; level with the paper's recipe
e_fast, e_paper, e_short = (test_error[name] for name in (FAST, PAPER, SHORT))
se = 100 * (e_fast[False] / 100 * (1 - e_fast[False] / 100) / fast["test"]["count"]) ** 0.5
print(f"fast recipe against the paper's, single view: "
      f"{e_paper[False] - e_fast[False]:.2f} points fewer errors;\n"
      f"  standard error of one such error {se:.2f}, of a difference of two {se * 2 ** 0.5:.2f}")
assert fast["provenance"]["hardware"].endswith(", 2 threads")
cpu_hours = {FAST: 2 * fast["train_seconds"] / 3600,
             PAPER: recorded[PAPER]["train_seconds"] / 3600}
print(f"CPU-hours: fast recipe {cpu_hours[FAST]:.2f} (two threads), "
      f"paper's recipe {cpu_hours[PAPER]:.2f} (one thread)")
assert fast["provenance"]["wall_seconds"] < 50 * 60 and cpu_hours[FAST] < cpu_hours[PAPER] / 4.5
assert e_short[False] - e_fast[False] > 4.5                 # five points at about the same hour
assert 0 < e_paper[False] - e_fast[False] < 2 * se * 2 ** 0.5  # within the noise of two runs
assert abs(e_paper[True] - e_fast[True]) < 0.1               # with flips: level
assert ([f"{e:.2f}" for e in (e_fast[False], e_fast[True], e_paper[True])]
        == ["12.01", "10.98", "10.93"])

# %% [markdown]
# What the changes buy, as far as these runs measure it:
#
# - **Against the paper's full recipe.** In 49 minutes of two threads, against eight hours of one, the fast
#   recipe ends level with the paper's: 12.01% against 12.65% test error in a single view, 10.98% against
#   10.93% with flips. The single-view difference, 0.64 points, is less than three seeds of one recipe
#   spread over (0.95 in the trials below), so we do not call it a win; the CPU-hours fell to a fifth.
# - **The recipe, at about the same time.** The paper's recipe squeezed into 20 epochs trained for 0.92
#   hours (one thread) and ended at 16.97%; the fast recipe, in 0.82 hours (two threads, all 50,000
#   images), at 12.01%: five points fewer errors from about an hour of a CPU each (one thread of an AMD
#   EPYC, two of an Intel Xeon: the provenance above).
# - **Flips at test time** cost a second forward pass and nothing else: 1.72 points off the paper recipe's
#   error, 1.03 off the fast recipe's.
#
# ### One change at a time
#
# What each of the other changes buys takes a run without it. Each row below is the fast recipe's
# 15-epoch trial on the 45k/5k split (5,265 iterations) with one of the paper's settings put back, or one
# other thing changed; the first three rows are the trial itself from three random seeds, which show how
# much runs differ by chance alone, and the paper's schedule ran from two. In brackets, each error's
# difference from the mean of the trial's three seeds. All ran on one thread of the same kind of CPU
# (printed below) and are stored in the book's `results/fast-tuning/` folder:

# %%
TRIALS = {"e15-lr0.2-ls0.1": "the fast recipe's trial",
          "e15-seed1": "the same, another seed",
          "e15-seed2": "the same, a third seed",
          "e15-step": "the paper's schedule",
          "e15-step-seed1": "the paper's schedule, seed 1",
          "e15-lr0.1": "the paper's learning rate",
          "e15-no-nesterov": "momentum without Nesterov",
          "e15-wd1e-4-all": "the paper's weight decay",
          "e15-ls0": "no label smoothing",
          "e15-lr0.2-ls0.1-fp32": "float32, not bfloat16"}
trials = {name: load_result(f"fast-tuning/{name}") for name in TRIALS}
base = trials["e15-lr0.2-ls0.1"]
IGNORED = {"milestones"}  # printed with the schedule


def changes(config: dict) -> str:
    """What a trial's config changes in the base trial's."""
    diff = [f"{k} {base['config'][k]} -> {v}" for k, v in config.items()
            if v != base["config"][k] and k not in IGNORED]
    if config["milestones"] != base["config"]["milestones"]:
        diff.append(f"lr x{config['gamma']:g} at iterations "
                    + " and ".join(str(m) for m in config["milestones"]))
    return "; ".join(diff) or "(the base trial)"


# each trial's errors (%), and their differences from the mean of the trial's three seeds
COLUMNS = {"val": "val error (%)", False: "test error (%)", True: "with flips (%)"}
SEEDS = ("e15-lr0.2-ls0.1", "e15-seed1", "e15-seed2")
error = {name: {"val": t["final_val_error_pct"], **test_errors(t)} for name, t in trials.items()}
mean = {k: sum(error[name][k] for name in SEEDS) / len(SEEDS) for k in COLUMNS}
delta = {name: {k: e[k] - mean[k] for k in COLUMNS} for name, e in error.items()}
rows = []
for name, t in trials.items():
    assert (t["epochs"], t["iterations"], t["provenance"]["train_images"]) == (15, 5265, 45_000)
    rows.append([TRIALS[name], changes(t["config"])] + [
        f"{error[name][k]:.2f} ({round(delta[name][k], 2) + 0:+.2f})"  # + 0: no "-0.00"
        for k in COLUMNS])
show_table(["trial", "what differs"] + list(COLUMNS.values()), rows)
print("machines:", ", ".join(sorted({t["provenance"]["hardware"] for t in trials.values()})))

# %% [markdown]
# Where the three seeds of the trial landed, and which trials fall outside that range, column by column
# (+ above all three seeds, - below):

# %%
low = {k: min(error[name][k] for name in SEEDS) for k in COLUMNS}
high = {k: max(error[name][k] for name in SEEDS) for k in COLUMNS}
print("three seeds of the trial:\n  " + ", ".join(
    f"{low[k]:.2f} to {high[k]:.2f} {COLUMNS[k].removesuffix(' (%)')}" for k in COLUMNS))


def outside(name: str) -> dict:
    """The columns where a trial's error lies above ("+") or below ("-") all three seeds'."""
    return {k: "+" if error[name][k] > high[k] else "-" for k in COLUMNS
            if not low[k] <= error[name][k] <= high[k]}


for name in TRIALS:
    if name not in SEEDS:
        where = ", ".join(f"{COLUMNS[k].removesuffix(' (%)')} {sign}"
                          for k, sign in outside(name).items())
        print(f"  {TRIALS[name]:<30} {where or 'within the seeds in every column'}")
step = {k: (error["e15-step"][k] + error["e15-step-seed1"][k]) / 2 - mean[k] for k in COLUMNS}
print("the paper's schedule, mean of its two seeds against the trial's three: "
      + ", ".join(f"{step[k]:+.2f}" for k in COLUMNS))
# What the text below says of each change
assert all(outside(name) == dict.fromkeys(COLUMNS, "+")
           for name in ("e15-step", "e15-step-seed1", "e15-lr0.1", "e15-wd1e-4-all"))
assert [f"{step[k]:.1f}" for k in COLUMNS] == ["1.2", "1.2", "1.5"]
beyond = [error[name][k] - high[k] for name in ("e15-lr0.1", "e15-wd1e-4-all") for k in COLUMNS]
assert 0.3 < min(beyond) and max(beyond) < 0.9
assert outside("e15-no-nesterov") == outside("e15-lr0.2-ls0.1-fp32") == {}
assert outside("e15-ls0") == {True: "-"} and low[True] - error["e15-ls0"][True] < 0.02
# the five points of the recipe at the same hour: images trained on in that hour
images = {name: recorded[name]["iterations"] * recorded[name]["config"]["batch_size"]
          for name in (FAST, SHORT)}
hours = {name: recorded[name]["train_seconds"] / 3600 for name in (FAST, SHORT)}
print(f"images trained on: fast recipe {images[FAST]:,} in {hours[FAST]:.2f} h, the paper's "
      f"recipe in 20 epochs\n  {images[SHORT]:,} in {hours[SHORT]:.2f} h: "
      f"{images[FAST] / images[SHORT]:.1f} times as many")
assert round(images[FAST] / images[SHORT], 1) == 3.9
trial_gain = e_short[False] - mean[False]
print(f"the fast recipe's trial ({base['iterations']:,} iterations, mean of three seeds) against "
      f"the paper's recipe\n  in 20 epochs ({recorded[SHORT]['iterations']:,}): {trial_gain:.2f} "
      f"points lower test error")
assert base["iterations"] < recorded[SHORT]["iterations"] and f"{trial_gain:.2f}" == "2.14"
assert e_paper[False] - e_fast[False] < high[False] - low[False]  # less than the seeds' spread
cpus = [recorded[name]["provenance"]["hardware"].split(" (")[1][:5] for name in (SHORT, FAST)]
assert cpus == ["AMD E", "Intel"]  # the CPUs the text names

# %% [markdown]
# Three seeds of the trial (other initial weights, another order of the images and of their crops) landed
# 0.48 points apart in validation error, 0.95 in single-view test error and 0.35 with flips: that much is
# chance, and three draws of it only begin to measure it. Against that range:
#
# - **The schedule** has the clearest effect: both runs with the paper's two divisions by 10 (at half and
#   three quarters of the trial, after the same warm-up) ended above all three seeds of the linear decay in
#   every column, on average 1.2 points higher in validation and in test error and 1.5 with flips.
# - **The learning rate and the weight decay** probably help a little: one run each with the paper's lr of
#   0.1, or its weight decay of 1e-4 on every weight, ended above all three seeds in every column, by 0.3
#   to 0.8 points beyond the highest. One run each, so a second seed would make it surer.
# - **Nesterov momentum and label smoothing** show no effect in 15 epochs: without Nesterov every error
#   lies within the seeds' range, and without label smoothing too, but for its error with flips, 0.01
#   points below the lowest seed. The final recipe keeps both; whether they matter in 70 epochs, these
#   trials do not say.
# - **bfloat16** changes the speed (chapter 7's table: about 1.5 times the images per second of float32 for
#   ResNet-20, both with `channels_last`), not what is learnt: the trial in float32 lies within the seeds'
#   range in every column.
#
# Of the five points the fast recipe gains over the paper's at about the same hour, the recipe gives about
# two: its 15-epoch trial, with fewer iterations than the paper's 20-epoch run (5,265 against 7,020), already
# ended 2.14 points lower in test error (the mean of its three seeds). The rest comes from the hour itself: bfloat16, two threads and
# another CPU trained the final run on 3.9 times as many images (printed above), 70 epochs instead of 20.
#
# The curves of this page's own run (at the `smoke` size only two points each):

# %% tags=["nbval-ignore-output"]
histories = [run["history"] for run in runs.values()]
display(plots.plot_history(histories, metrics=("loss", "error"),
                           labels=list(runs)))
plt.show()

# %% [markdown]
# ## Where the errors are
#
# A single error rate hides which images the network gets wrong. The one test evaluation of the paper-recipe
# run kept the accuracy of each class and the confusion matrix: row $i$, column $j$ is the fraction of the
# test images of class $i$ that the network called $j$. The diagonal is the per-class accuracy.

# %%
classes = data.CIFAR10_CLASSES
confusion = torch.tensor(recorded[PAPER]["test"]["confusion"])
per_class = confusion.diag() / confusion.sum(1)
print("test accuracy per class, best first:")
for k in per_class.argsort(descending=True).tolist():
    print(f"  {classes[k]:<11} {100 * per_class[k]:5.1f}%")
off = confusion.clone().fill_diagonal_(0)
print("most frequent mistakes:")
for flat in off.flatten().argsort(descending=True)[:3].tolist():
    i, j = divmod(flat, len(classes))
    print(f"  {classes[i]} called {classes[j]}: "
          f"{int(off[i, j])} of {int(confusion[i].sum())} test images")
display(plots.plot_confusion(confusion, classes))
plt.show()
# What the text below says of the network:
order = [classes[k] for k in per_class.argsort(descending=True).tolist()]
top = [divmod(f, len(classes)) for f in off.flatten().argsort(descending=True)[:3].tolist()]
assert order[:6] == ["automobile", "ship", "truck", "frog", "horse", "airplane"]
assert order[-1] == "cat" and set(order[6:]) == {"deer", "bird", "dog", "cat"}
assert ([(classes[i], classes[j]) for i, j in top]
        == [("cat", "dog"), ("dog", "cat"), ("truck", "automobile")])

# %% [markdown]
# The lists printed above tell the story of the converged network: three of the four vehicles
# (automobile, ship, truck) are its easiest classes, then frog and horse, with airplane only sixth; the
# other animals are its hardest, cat the hardest of all; and its most frequent mistakes are cats and dogs
# taken for each other, then trucks taken for automobiles. At $32\times32$ pixels a cat
# and a dog differ in details a network has few pixels for, while the shape and colour of a ship or a truck
# stand out. The plot divides each row of the matrix by its class's 1,000 test images, so each row sums to
# one; the printed lists count images.
#
# The trained network is stored with its run, so we can look at its mistakes image by image:
# `load_model` rebuilds it from `results/cifar10-resnet20-paper.pt`, and `predict` gives its answer for
# every test image. The first 24 it gets wrong, each titled with the true class and, after the arrow,
# the network's answer:

# %% tags=["nbval-ignore-output"]
network = load_model(PAPER)
test_loader = data.CifarLoader(test_set, 500, train=False)
preds = train.predict(network, test_loader)
wrong = (preds != test_set.labels).nonzero().squeeze(1)
print(f"{len(wrong):,} of {len(test_set):,} test images wrong "
      f"({100 * len(wrong) / len(test_set):.2f}%); the first {min(len(wrong), 24)}:")
titles = [f"{classes[test_set.labels[k]]}\n→ {classes[preds[k]]}" for k in wrong[:24]]
display(plots.image_grid(test_set.images[wrong[:24]], titles, ncols=8))
plt.show()
if len(test_set) == 10_000:  # the stored run's own test set: the same answers, up to rounding
    assert abs(100 * len(wrong) / len(test_set) - test_error[PAPER][False]) < 0.1

# %% [markdown]
# Many of the mistakes are understandable at this resolution: small or partly hidden animals, unusual
# colours, objects seen from an odd angle; a few are arguably mislabelled.
#
# ## What we saw
#
# - The paper's CIFAR-10 recipe is short: SGD with momentum, batch 128, learning rate 0.1 divided by 10 at
#   half and three quarters of 64k iterations, weight decay, padding-crop-flip augmentation. The library
#   states it as a `Recipe` and runs it with `prepare` and `fit`.
# - The schedule was chosen on 5,000 held-out training images; the test set is evaluated once, at the end.
# - Run to its end on a CPU (eight hours of one thread, stopped and resumed exactly nine times), the paper's
#   recipe trains a converged ResNet-20 to 12.65% test error on our JPEG copy of CIFAR-10, against the paper's
#   8.75% on the official files. The copy is the likeliest cause of the gap; the `gpu` size, on the official
#   data, tests it.
# - The run learns most at the first division of the learning rate; after the second it fits its training
#   images more and its validation images no better.
# - A recipe made for time (a linear warm-up and decay, Nesterov, weight decay 5e-4, label smoothing,
#   bfloat16, all 50,000 images) trains the same network as well as the paper's recipe did on our copy,
#   12.01% test error (10.98% with flips), in 49 minutes of two CPU threads instead of eight hours of
#   one. Neither reaches the paper's 8.75% on this copy.
# - The errors are not spread evenly: cats and dogs taken for each other are the most frequent mistakes.
# - Depth helps only up to a point: in the paper's Table 6 the error falls from ResNet-20 (8.75%) to
#   ResNet-110 (6.43%), but ResNet-1202, with 19.4M parameters for 50,000 images, ends at 7.93% with a
#   training error as low as ResNet-110's. The paper reads it as over-fitting, the ordinary kind of
#   chapter 1's distinction: here the deeper network fits its training images as well and generalises
#   worse, where plain-56 fitted them worse.
#
# ## Exercises
#
# 1. Run this page at the `gpu` size (Colab, GPU runtime), where the library downloads the official
#    CIFAR-10. Does the paper's recipe reach the paper's 8.75% on the official files, and so close the gap
#    of our stored run? Does ResNet-56 beat ResNet-20, and plain-56 lose to plain-20, as in the paper's
#    Figure 6 (chapter 2)?
#
#    :::{admonition} Hint
#    :class: dropdown
#    The printed source line says which copy of the data a run used. For Figure 6, compare the training
#    errors of the last epoch, not only the test errors: its claim is about training error. Chapter 2 shows
#    the four networks stored after 7,020 iterations each, for a first answer without a GPU.
#    :::
# 2. At the `cpu` size, train with a constant learning rate (add `schedule="constant"` to `LENGTH`). What
#    happens to the validation error of the last epoch, compared with the step schedule?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Look at the stored curves of the paper's recipe first: the validation error fell most in the epochs
#    after the first division by 10. Without it the error keeps bouncing at the level it had before.
#    :::
# 3. Turn off the augmentation: build the training loader with `augment=False` (see `data.CifarLoader`) and
#    train at the `cpu` size. Compare the training and validation errors of the last epoch with this
#    page's. Which of the two moves, and why?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Without crops and flips the network sees the same 32x32 images every epoch: its training error falls
#    faster and its validation error less, the gap of over-fitting.
#    :::
# 4. From the confusion matrix, compute how many of the converged network's mistakes stay within the
#    animals (bird, cat, deer, dog, frog, horse) and how many within the vehicles. What fraction of all
#    mistakes cross between the two groups?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Sum the off-diagonal entries of the two diagonal blocks of the matrix (rows and columns of the same
#    group); the rest of the off-diagonal total crosses.
#    :::
# 5. The ablation table ran most changes once, the trial itself with three seeds. Tell a change from
#    chance with more seeds: in a clone of the book's repository, train the trial without label smoothing
#    with a second seed,
#
#    ```bash
#    python tools/run_cifar_cpu.py cifar10-resnet20-fast --tune --epochs 15 \
#        --set label_smoothing=0 --set seed=1 --out runs/no-ls-seed1 --results runs/no-ls-seed1.json
#    ```
#
#    and compare the mean of the two runs without label smoothing with the mean of the three stored runs
#    with it (`results/fast-tuning/`). Is the difference larger than the spread between seeds?
#
#    :::{admonition} Hint
#    :class: dropdown
#    A test error near 15% on 10,000 images has a sampling standard error of about 0.36 points (the square
#    root of $p(1-p)/n$), but all the runs are scored on the same 10,000 images, so what differs between
#    them is their weights: the three seeds of the trial spread over 0.95 points in single view and 0.35
#    with flips. The standard deviation of those three errors estimates one run's; that of a mean of $n$
#    runs is $\sqrt{n}$ times smaller.
#    :::
