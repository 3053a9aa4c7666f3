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
import dataclasses
import pprint
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display

from resnet_lib import data, paper, plots, recipes, train
from resnet_lib.results import load_model, load_result
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
# the epoch). The last line is the one evaluation of the test set. At the `cpu` size this is a
# demonstration that the pieces work: four epochs on 10,000 images are a few percent of the recipe, and the
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
            "fig6-cifar10-resnet20": "ours, the recipe in 20 epochs"}
HEADER = ["network", "source", "hardware", "data", "training", "training time",
          "val error (%)", "test error (%)", "with flips (%)"]
rows = [[f"ResNet-{depth}", "paper, Table 6", "2 GPUs (model not stated)", "official",
         "64k iterations of 128", "not stated", "not stated", f"{error:.2f}", "not used"]
        for depth, error in paper.TABLE6_ERROR.items()]
recorded = {name: load_result(name) for name in RECORDED}
test_error = {}  # name -> {False: single view, True: with flips}
for name, r in recorded.items():
    p = r["provenance"]
    views = [r["test"], r.get("test_with_flips"), r.get("test_without_flips")]
    test_error[name] = {t.get("flip", False): t["error_pct"] for t in views if t}  # single view
    val = r["final_val_error_pct"]
    rows.append([
        network_name(r["model"]), RECORDED[name],
        p["hardware"] if len(r["machines"]) == 1 else f"{len(r['machines'])} CPUs (below)",
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
    if r["resumes"]:
        print(f"  stopped and resumed exactly after epochs "
              f"{', '.join(str(x['epoch']) for x in r['resumes'])}")
        print(f"  {r['train_seconds'] / 3600:.2f} hours of training in all")
    else:
        print(f"  {p['wall_seconds'] / 60:.1f} minutes from start to test result")
    print()

# %% [markdown]
# TEXT-GAP

# %%
PAPER, FAST, SHORT = RECORDED
ours = test_error[PAPER][False]
last = recorded[PAPER]["history"][-1]
train_error = 100 * (1 - last["train_top1"])
print(f"the paper's recipe, the paper's ResNet-20: {paper.TABLE6_ERROR[20]:.2f}% test error "
      f"(official files)")
print(f"the paper's recipe, our ResNet-20:         {ours:.2f}% test error (JPEG copy), "
      f"{train_error:.2f}% training error in its last epoch")
print(f"our ResNet-20 against the paper's ResNet-56, 44, 32, 20: "
      + ", ".join(f"{ours - paper.TABLE6_ERROR[d]:+.2f}" for d in (56, 44, 32, 20)) + " points")
# What the text says:
assert recorded[PAPER]["iterations"] == 64_000 and recorded[PAPER]["provenance"]["train_images"] == 45_000
assert GAP_ASSERTS

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
# What the text below says: the validation error over the five epochs before and after each division
val = torch.tensor([100 * (1 - r["val_top1"]) for r in h])
trained = torch.tensor([100 * (1 - r["train_top1"]) for r in h])
lrs = [r["lr"] for r in h]
drops = [e for e in range(1, len(h)) if lrs[e] < lrs[e - 1]]  # the first epoch at the lower rate
for e in drops:
    print(f"lr {lrs[e - 1]:.3g} -> {lrs[e]:.3g} at iteration {h[e - 1]['iteration']:,}: "
          f"validation error {val[e - 5:e].mean():.2f}% in the 5 epochs before, "
          f"{val[e:e + 5].mean():.2f}% in the 5 after; training error "
          f"{trained[e - 5:e].mean():.2f}% -> {trained[e:e + 5].mean():.2f}%")
print(f"lowest validation error {val.min():.2f}% (epoch {int(val.argmin()) + 1}), "
      f"last {val[-1]:.2f}%")
assert CURVE_ASSERTS

# %% [markdown]
# TEXT-CURVES
#
# ## The paper's accuracy in an hour: a recipe for time
#
# TEXT-FAST-INTRO

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

# %% [markdown]
# TEXT-FAST-CHANGES

# %%
display(plots.plot_history([recorded[name]["history"] for name in RECORDED], metrics=("error",),
                           x="hours", labels=list(RECORDED.values()), legend="outside"))
plt.show()
fast = recorded[FAST]
print(f"fast recipe: {fast['provenance']['wall_seconds'] / 60:.1f} minutes from start to test result "
      f"on {fast['provenance']['hardware']}")
for name in RECORDED:
    r = recorded[name]
    print(f"{RECORDED[name]:<30} {r['train_seconds'] / 3600:5.2f} h of training: test error "
          + ", ".join(f"{e:.2f}% {'with' if flip else 'without'} flips"
                      for flip, e in sorted(test_error[name].items())))
assert FAST_ASSERTS

# %% [markdown]
# TEXT-ABLATION
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
assert ERRORS_ASSERTS

# %% [markdown]
# TEXT-ERRORS
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
# TEXT-GRID
#
# ## What we saw
#
# SUMMARY
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
