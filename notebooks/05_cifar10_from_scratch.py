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
# - how to train a ResNet with `recipes.prepare` and `fit`, and how to read its training curves;
# - how our runs compare with the paper's Table 6, and what a full reproduction takes;
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
import pprint
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display

from resnet_lib import data, paper, plots, recipes, train
from resnet_lib.results import load_result
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
# JPEG copy of CIFAR-10 (more on that copy below). Set `RESNET_RUN_SIZE=gpu`, or open the page in Colab
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
for name in cifar:
    print(f"{name:<{max(map(len, cifar))}} {recipes.get_recipe(name).summary}")
c = recipe.config
epochs = c.iterations * c.batch_size / paper.CIFAR_RECIPE["train_images"]
print(f"\n{c.iterations:,} iterations of {c.batch_size} images = "
      f"{epochs:.1f} epochs of the 45k training images")

# %% [markdown]
# The paper counts its schedule in iterations, not epochs: 64k iterations of 128 images are about 182
# passes over the 45,000 training images. That is a GPU's work (the recorded CPU run below says how long
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
print("source: ", train_set.source.replace(": ", ":\n         ", 1))

# %% [markdown]
# The stored outputs use the book's JPEG copy of CIFAR-10 ({ref}`what that copy is <stored-data>`):
# accuracy on it is close to, not equal to, accuracy on the official files, and our numbers below say which
# copy they are on. Where no copy is found (in Colab, for example), the library downloads the official
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
# - `cpu`: ResNet-20 on 10,000 training images for a few epochs: a few minutes on a laptop;
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
# the epoch). The last line is the one evaluation of the test set.
#
# ## Our runs beside the paper's Table 6
#
# The table puts the paper's errors (its Table 6: the test error on the official CIFAR-10, each the result
# of the full recipe; for ResNet-110 the best of five runs, whose mean the paper gives as 6.61%) beside
# runs of ours that were recorded with their provenance: the hardware, the run size, how long they trained,
# the copy of the data, and the wall time. The recorded run is longer than this page's own run at the
# `cpu` size: ResNet-20 on all 45,000 training images, with the recipe's schedule compressed into the few
# epochs that fit into less than an hour of a shared CPU (the learning rate divided by 10 at one half and
# three quarters of the run, as in the paper). Its file is in the book's `results/` folder, with the
# command that made it.

# %%
RECORDED = ["cifar10-resnet20-cpu"]  # stored runs, in the book's results/ folder

HEADER = ["network", "source", "run size", "hardware", "data", "training",
          "wall time", "val error (%)", "test error (%)"]
rows = [[f"ResNet-{depth}", "paper, Table 6", "full recipe",
         "2 GPUs (model not stated)", "official", "64k iterations of 128",
         "not stated", "not stated", f"{error:.2f}"]
        for depth, error in paper.TABLE6_ERROR.items() if depth <= 110]
recorded = [load_result(name) for name in RECORDED]
for r in recorded:
    p = r["provenance"]
    rows.append([
        network_name(r["model"]), "ours, recorded",
        f"{r['run_size']} (recorded run)",
        p["hardware"], data_copy(p["data"]),
        f"{r['epochs']} epochs = {r['iterations']:,} iterations of "
        f"{r['config']['batch_size']} on {p['train_images']:,} images",
        duration(p["wall_seconds"]), f"{r['final_val_error_pct']:.2f}",
        f"{r['test']['error_pct']:.2f}"])
show_table(HEADER, rows)

# %% [markdown]
# The provenance of the recorded run, and how far it is from the recipe:

# %%
for r in recorded:
    p, h = r["provenance"], r["history"]
    per_epoch = sum(e["seconds"] for e in h) / len(h)
    full = 64_000 / p["train_images"] * r["config"]["batch_size"]  # epochs
    print(f"{r['recipe']}, recorded with:\n  {p['command']}")
    print(f"  torch {p['torch']}, git commit {p['git_commit']}")
    print(f"  data: {p['data']}")
    print(f"  {r['iterations']:,} of the recipe's 64,000 iterations "
          f"({100 * r['iterations'] / 64_000:.1f}%); lr / 10 at iterations "
          f"{', '.join(map(str, r['config']['milestones']))}")
    print(f"  {per_epoch:.0f} s an epoch of training: the full recipe "
          f"({full:.0f} epochs) would take {full * per_epoch / 3600:.0f} h")

# %% [markdown]
# And this page's own run, at the size it ran at:

# %% tags=["nbval-ignore-output"]
mine = []
for name, run in runs.items():
    h, cfg = run["history"], run["config"]
    mine.append([
        network_name(cfg.model), "ours, this page", SIZE, run["hardware"],
        data_copy(h.meta["data"]),
        f"{len(h)} epochs = {h[-1]['iteration']:,} iterations of "
        f"{cfg.batch_size} on {run['train_images']:,} images",
        duration(run["wall"]), f"{100 * (1 - h[-1]['val_top1']):.2f}",
        f"{run['test_error']:.2f}"])
show_table(HEADER, mine)
assert all(0 <= float(row[-1]) <= 100 for row in mine)

# %% [markdown]
# The recorded run's error is far above the paper's: it ran a small fraction of the paper's iterations, on
# a slightly different copy of the data. It is a real ResNet-20, trained on all of CIFAR-10's training
# images with the paper's recipe, cut short. To get the paper's numbers, run the full 64k iterations: the
# `gpu` size of this page does it for ResNet-20 and ResNet-56 and their plain twins, in Colab or on your
# own GPU; so does the command line:
#
# ```bash
# resnet-train cifar10-resnet20 --out runs/resnet20   # 64k iterations; val and test error at the end
# resnet-train cifar10-plain56 --out runs/plain56
# ```
#
# This book's stored outputs include no run of the full recipe. What to expect, according to the paper's
# Table 6 and Figure 6: the deeper ResNet ends with the lower error, while the deeper plain network trains
# *worse* than the shallower one.
#
# ## Training curves
#
# The recorded run, epoch by epoch: the loss, the top-1 error (dashed: training, on augmented images;
# solid: validation) and the learning rate, on a log scale.

# %%
for r in recorded:
    display(plots.plot_history(r["history"], metrics=("loss", "error", "lr"),
                               labels=[r["recipe"]]))
plt.show()
# What the text below says: how much the validation error fell in each epoch, and at each division by 10
val = [100 * (1 - x["val_top1"]) for x in recorded[0]["history"]]
lrs = [x["lr"] for x in recorded[0]["history"]]
drops = [e for e in range(1, len(lrs)) if lrs[e] < lrs[e - 1]]
falls = [val[e - 1] - val[e] for e in range(1, len(val))]   # falls[e - 1]: into epoch e + 1
print("validation error fell by", ", ".join(f"{f:.2f}" for f in falls), "points, epoch to epoch")
for e in drops:
    print(f"epoch {e + 1} trained at lr {lrs[e]:.3g}: {val[e - 1]:.2f}% -> {val[e]:.2f}%")
assert all(f > 0 for f in falls[:drops[0]])                # falling every epoch before the drop
# faster than in the two epochs before
assert falls[drops[0] - 1] > max(falls[drops[0] - 3:drops[0] - 1])
assert falls[drops[1] - 1] < 1                             # the second division changes little

# %% [markdown]
# The validation error was falling every epoch; in the epoch after the first division by 10 it fell by
# more than in the two epochs before (the lines printed above), as at the drops of the paper's Figures 1
# and 6: a large step size lets the weights move fast but keeps them bouncing around; the smaller one lets
# them settle. In a run this short the second division changes little. The curves of this page's own run (at the `smoke` size only two points each):

# %% tags=["nbval-ignore-output"]
histories = [run["history"] for run in runs.values()]
display(plots.plot_history(histories, metrics=("loss", "error"),
                           labels=list(runs)))
plt.show()

# %% [markdown]
# ## Where the errors are
#
# A single error rate hides which images the network gets wrong. The recorded run's one test evaluation
# kept the accuracy of each class and the confusion matrix: row $i$, column $j$ is the fraction of the test
# images of class $i$ that the network called $j$. The diagonal is the per-class accuracy.

# %%
rec = recorded[0]
classes = data.CIFAR10_CLASSES
confusion = torch.tensor(rec["test"]["confusion"])
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
# What the text below says of the recorded network:
order = [classes[k] for k in per_class.argsort(descending=True).tolist()]
assert set(order[:3]) == {"automobile", "ship", "truck"} and order[-1] == "cat"
assert (order.index("airplane") > order.index("frog")
        and order.index("airplane") > order.index("horse"))
top = [divmod(f, len(classes)) for f in off.flatten().argsort(descending=True)[:3].tolist()]
assert ([(classes[i], classes[j]) for i, j in top]
        == [("dog", "cat"), ("cat", "dog"), ("bird", "deer")])

# %% [markdown]
# The lists printed above tell the story of the recorded network: three of the four vehicles (automobile,
# ship, truck) are its easiest classes, while the fourth, airplane, comes after frog and horse; the other
# animals are its hardest, cat the hardest of all; and its most frequent mistakes are cats and dogs taken
# for each other, then birds taken for deer. At $32\times32$ pixels a cat
# and a dog differ in details a network has few pixels for, while the shape and colour of a ship or a truck
# stand out. The plot divides each row of the matrix by its class's 1,000 test images, so each row sums to
# one; the printed lists count images.
#
# This page's own network is at hand, so we can look at its mistakes image by image: its per-class
# accuracy, and the first test images it gets wrong, each titled with the true class and, after the
# arrow, the network's answer.

# %% tags=["nbval-ignore-output"]
name, run = next(iter(runs.items()))
preds, labels = run["preds"], run["labels"]
mine = torch.bincount(labels * 10 + preds, minlength=100).view(10, 10)
accuracy = mine.diag() / mine.sum(1).clamp_min(1)
print(f"{name} at the {SIZE} size, test accuracy per class:")
for k in range(0, 10, 5):
    print("  " + ", ".join(f"{classes[c]} {100 * accuracy[c]:.0f}%"
                           for c in range(k, k + 5)))
wrong = (preds != labels).nonzero().squeeze(1)[:24]
print(f"{int((preds != labels).sum()):,} of {len(labels):,} test images "
      f"wrong; the first {len(wrong)}:")
titles = [f"{classes[labels[k]]}\n→ {classes[preds[k]]}" for k in wrong]
display(plots.image_grid(test_set.images[wrong], titles, ncols=8))
plt.show()
assert len(wrong) > 0 and mine.sum() == len(labels)
# the test loader keeps the data set's order: image k is test_set.images[k]
assert torch.equal(test_set.labels[:len(labels)], labels)

# %% [markdown]
# Many of the mistakes are understandable at this resolution: small or partly hidden animals, unusual
# colours, objects seen from an odd angle. A network trained for the paper's full schedule makes far fewer
# of them.
#
# ## What we saw
#
# - The paper's CIFAR-10 recipe is short: SGD with momentum, batch 128, learning rate 0.1 divided by 10 at
#   half and three quarters of 64k iterations, weight decay, padding-crop-flip augmentation. The library
#   states it as a `Recipe` and runs it with `prepare` and `fit`.
# - The schedule was chosen on 5,000 held-out training images; the test set is evaluated once, at the end.
# - A CPU trains a real ResNet-20 far above chance in minutes to an hour, but the paper's errors need its
#   full schedule, which is a GPU's work: the `gpu` size of this page, or `resnet-train`.
# - The errors are not spread evenly: some classes, and some pairs of classes, take most of them.
# - Depth helps only up to a point: in the paper's Table 6 the error falls from ResNet-20 (8.75%) to
#   ResNet-110 (6.43%), but ResNet-1202, with 19.4M parameters for 50,000 images, ends at 7.93% with a
#   training error as low as ResNet-110's. The paper reads it as over-fitting, the ordinary kind of
#   chapter 1's distinction: here the deeper network fits its training images as well and generalises
#   worse, where plain-56 fitted them worse.
#
# ## Exercises
#
# 1. Run this page at the `gpu` size (Colab, GPU runtime). Does ResNet-56 beat ResNet-20, and does
#    plain-56 lose to plain-20, as in the paper's Figure 6 (chapter 2)?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Compare the training errors of the last epoch, not only the test errors: Figure 6's claim is about
#    training error. Chapter 2 shows the four networks stored after 7,020 iterations each, for a first answer
#    without a GPU.
#    :::
# 2. At the `cpu` size, train with a constant learning rate (add `schedule="constant"` to `LENGTH`). What
#    happens to the validation error of the last epoch, compared with the step schedule?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Look at the recorded curves first: most of the run's fall in validation error came in the epoch after
#    the first division by 10. Without it the error keeps bouncing at the level it had before the drop.
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
# 4. From the confusion matrix, compute how many of the recorded network's mistakes stay within the
#    animals (bird, cat, deer, dog, frog, horse) and how many within the vehicles. What fraction of all
#    mistakes cross between the two groups?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Sum the off-diagonal entries of the two diagonal blocks of the matrix (rows and columns of the same
#    group); the rest of the off-diagonal total crosses.
#    :::
# 5. Evaluate a stored network on the test set with horizontal flips averaged in (`model(x).softmax(1) +
#    model(x.flip(3)).softmax(1)`), for example `results.load_model("fig6-cifar10-resnet20")`, chapter 2's
#    ResNet-20. How much does this test-time augmentation change the error?
#
#    :::{admonition} Hint
#    :class: dropdown
#    `train.evaluate(model, loader, flip=True)` does the averaging; build the loader with
#    `CifarLoader(load_cifar10("test"), 500, train=False)`. The network was trained on flipped images too,
#    so the mirror image is a second, slightly different look at the same picture.
#    :::
