# ---
# jupyter:
#   accelerator: GPU
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Pets and cats versus dogs: transfer learning
#
# The paper trains every network from scratch on ImageNet's 1.28 million images {cite}`he2016deep`. Most
# people who use a ResNet never do that: they take the weights someone trained on ImageNet and *fine-tune*
# them on their own, much smaller, data set. This chapter does it on Oxford-IIIT Pet {cite}`parkhi2012cats`,
# photographs of 37 breeds of cats and dogs, and on the two-class problem of a popular tutorial, cat versus
# dog, whose mistakes we name and fix on the way.
#
# **You will see**
# - where the pretrained weights come from, and what this page does when they cannot be downloaded:
#   pretrain the same network itself on Imagenette (ten ImageNet classes) and use those weights instead;
# - three ways to use pretrained weights, against training from scratch with the same budget: *feature
#   extraction* (a frozen backbone, only a new head trained), full *fine-tuning*, and no pretraining at all;
# - which breeds the fine-tuned network gets right and which it confuses, with pictures;
# - a ResNet-18 on cat versus dog, trained and above all *evaluated* correctly.
#
# The outputs stored with this page come from a run at the `cpu` size on the hardware printed below, on the
# subsets of the book's data folder: our 940-image split of Oxford-IIIT Pet (470 images to train on, 470 to
# test on; not the official split, which has 3,680 and 3,669), and Imagenette's 400 training and 200 validation
# images per class. At that size the images are small and the training short: what matters here is how the
# numbers compare, not how high they are. In Colab the chapter downloads the full data sets and
# torchvision's ImageNet weights; at the `gpu` run size (`RESNET_RUN_SIZE=gpu`, the default on a GPU) it
# fine-tunes a ResNet-50 at 224 pixels.

# %% tags=["hide-input"]
# In Colab, install resnet_lib from the book's repository (elsewhere `make book` or `pip install -e .` did).
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "git+https://github.com/resnet-book/resnet-book"], check=True)

# %% tags=["nbval-ignore-output"]
import time
T0 = time.perf_counter()
from resnet_lib.runsize import describe, run_size
SIZE = run_size()
print(describe(SIZE))

# %% tags=["nbval-ignore-output"]
import copy
import math
import warnings
from collections import Counter

import torch
from IPython.display import display
from matplotlib.figure import Figure
from tqdm import TqdmWarning

warnings.filterwarnings("ignore", category=TqdmWarning)  # no widgets here: no progress bars either
# %matplotlib inline

from resnet_lib import data, models, plots
from resnet_lib.pretrain import book_run, imagenette_pretrained, in_memory, resize_for, tensor_transforms
from resnet_lib.recipes import describe as describe_recipe, get_recipe
from resnet_lib.runsize import in_colab, pick
from resnet_lib.train import TrainConfig, evaluate, fit, predict
from resnet_lib.transfer import freeze_backbone, load_pretrained, pretrained_weights, weights_file

DOWNLOAD = in_colab()  # in Colab: download the data sets and torchvision's weights
ARCH = pick(SIZE, smoke="resnet18", cpu="resnet18", gpu="resnet50")  # the network for the breeds
PX = pick(SIZE, smoke=32, cpu=32, gpu=224)         # crops of PX x PX pixels
EPOCHS = pick(SIZE, smoke=1, cpu=5, gpu=10)        # fine-tuning epochs on the breeds, for every start
SPECIES_EPOCHS = pick(SIZE, smoke=1, cpu=3, gpu=5)  # ... and on cat versus dog
BATCH = pick(SIZE, smoke=16, cpu=32, gpu=64)
IMAGES = pick(SIZE, smoke=74, cpu=None, gpu=None)  # images of each split (None: all)
WORKERS = pick(SIZE, smoke=0, cpu=0, gpu=4)
print(f"{ARCH} for the breeds, ResNet-18 for cat versus dog, at {PX}x{PX} pixels; {EPOCHS} epochs on the "
      f"breeds, {SPECIES_EPOCHS} on cat versus dog, batches of {BATCH}")

# %% [markdown]
# ## The data
#
# Oxford-IIIT Pet labels each photograph with its breed, and each breed is a cat breed or a dog breed. The
# library reads it with `data.pets(split, target="breed" | "species")`. In the book's copy three breeds have
# 100 images on each side of the split and the other 34 breeds five, so the test set is far from balanced: a
# network that knew only the three big breeds could reach 64% top-1. We therefore report, beside top-1,
# the *mean per-breed accuracy*, where each breed counts the same.

# %%
trainval = data.pets("trainval", target="breed", download=DOWNLOAD)
test = data.pets("test", target="breed", download=DOWNLOAD)
species_of = dict(zip(trainval.targets, data.pets("trainval", target="species").targets))  # breed -> 0 cat, 1 dog
BREEDS, SPECIES = trainval.classes, ["cat", "dog"]
print(f"{len(trainval)} images to train on (trainval), {len(test)} to test on; {len(BREEDS)} breeds, "
      f"{sum(s == 0 for s in species_of.values())} of cats and {sum(s == 1 for s in species_of.values())} of dogs")
for name, split in (("trainval", trainval), ("test", test)):
    counts = Counter(split.targets)
    big = {BREEDS[b]: n for b, n in counts.items() if n > 10}
    small = sorted({n for n in counts.values() if n <= 10})
    cats = sum(n for b, n in counts.items() if species_of[b] == 0)
    print(f"{name:>8}: {big}, the other {len(counts) - len(big)} breeds {small} image(s) each; "
          f"{cats} cats, {len(split) - cats} dogs")
big_share = sum(n for n in Counter(test.targets).values() if n > 10) / len(test)
print(f"the three big breeds hold {big_share:.1%} of the test images")

# %%
first = [trainval.targets.index(b) for b in range(len(BREEDS))]  # one image of each breed
shown = in_memory(trainval, 96, indices=first)
fig = plots.image_grid(shown.images, titles=[b.replace(" ", "\n", 1) for b in BREEDS], ncols=10)
fig.set_size_inches(13, 6.5)
display(fig)

# %% [markdown]
# ## Where the pretrained weights come from
#
# torchvision publishes ImageNet weights for every ResNet of the paper, and `transfer.load_pretrained` puts
# them into our models (chapter 0 showed that the state dicts match key for key); a model with another
# number of classes keeps its own new head. The file is read from torch.hub's cache and downloaded only with
# `download=True`, which this chapter passes in Colab. Where there is no internet, as on the machine that
# built this page and in the book's CI, the chapter says so in one line and does not stop there: it trains
# the same network on Imagenette itself, ten ImageNet classes, at the resolution of this run size, and
# fine-tunes those weights instead. The Imagenette run is kept in the library's cache under a name made of
# its settings, so a second run of this chapter, or chapter 7 (which looks at the same run in detail), reads
# it back instead of training it again.

# %% tags=["nbval-ignore-output"]
START, FROM = {}, {}  # the weights each architecture starts from, and where they come from
for arch in dict.fromkeys([ARCH, "resnet18"]):
    net = models.build(arch)
    try:
        START[arch] = load_pretrained(net, "IMAGENET1K_V1", download=DOWNLOAD)
        FROM[arch] = "torchvision's ImageNet weights (IMAGENET1K_V1)"
    except (FileNotFoundError, RuntimeError):
        file = weights_file(pretrained_weights(net)).name
        why = "and could not be downloaded" if DOWNLOAD else "and downloading is off outside Colab"
        print(f"No torchvision weights for {arch} here ({file} is not in torch.hub's cache {why}): "
              f"pretraining our own on Imagenette instead.")
print(f"{len(START)} of {len({ARCH, 'resnet18'})} architecture(s) start from torchvision's weights")

# %% tags=["nbval-ignore-output"]
PRETRAINED = {}
for arch in dict.fromkeys([ARCH, "resnet18"]):
    if arch in START:
        continue
    run = book_run(SIZE, arch)
    result = imagenette_pretrained(run, download=DOWNLOAD, workers=WORKERS)
    START[arch], PRETRAINED[arch] = result.model, result
    h = result.history
    FROM[arch] = (f"our weights: {arch} trained {run.epochs} epochs on Imagenette at {run.size} px, "
                  f"validation top-1 {100 * h[-1]['val_top1']:.1f}%")
    how = "read from the library's cache" if result.cached else "trained now"
    print(f"{arch} on Imagenette ({len(h)} epochs at {run.size}x{run.size}, batch {run.batch_size}): {how}; "
          f"it took {h.meta['wall_seconds']:.0f} s on {h.meta['device']}")
    for r in h:
        print(f"  epoch {r['epoch']}: train top-1 {100 * r['train_top1']:.1f}%, "
              f"validation top-1 {100 * r['val_top1']:.1f}% (chance: 10%)")
    if SIZE != "smoke":
        assert h[-1]["val_top1"] > 0.3
for arch, where in FROM.items():
    print(f"{arch} starts from {where}")

# %% [markdown]
# These weights are a stand-in, and a weak one. torchvision's were trained for 90 epochs on 1.28 million
# images of 1000 classes at 224 pixels; ours for a few epochs on 4,000 images of ten classes, at the
# resolution of this run size. Imagenette has one dog breed (the English springer) and no cats. Whatever
# they give the pets below says little about what ImageNet weights give.
#
# ## Three ways to use pretrained weights
#
# Given a network pretrained on one task, we replace its 1000-way (here 10-way) head by a new 37-way one and
# train on the pets in one of three ways, each for the same number of epochs and with the same data:
#
# - **feature extraction**: the backbone is frozen (`transfer.freeze_backbone`: no gradients, and its
#   BatchNorm layers keep the statistics they learnt in pretraining); only the new head learns. The network
#   is a fixed feature extractor with a linear classifier on top.
# - **fine-tuning**: every weight learns, the backbone with a smaller learning rate than the head
#   (`TrainConfig.backbone_lr_mult`), so that the pretrained features are adjusted rather than overwritten.
# - **from scratch**: the same network, randomly initialised, trained the same way: what the pretraining is
#   worth.
#
# The library's recipe for the full-size version of this experiment, `pets-resnet50`:

# %%
print(describe_recipe(get_recipe("pets-resnet50")))

# %% [markdown]
# We keep its optimiser (SGD with momentum 0.9, cosine schedule, weight decay 1e-4), its learning rate of
# 0.01 for a pretrained backbone's head and its backbone multiplier of 0.1, and use a learning rate of 0.05
# everywhere for the network trained from scratch and for the frozen backbone's head (a new layer on its own
# needs a larger one); the number of epochs, the batch and the resolution are those of the run size printed
# above. The images are decoded once into memory at the size the crops are cut from (256 for 224, the same
# ratio at other sizes), then augmented: random crops of 35% to 100% of the image (the recipe's torchvision
# crops start at 8%; at small sizes we keep more of each image) and horizontal flips for training, the centre
# crop for testing.

# %% tags=["nbval-ignore-output"]
RESIZE = resize_for(PX)
pets_train = in_memory(trainval, RESIZE, "Oxford-IIIT Pet, our trainval split", count=IMAGES)
pets_test = in_memory(test, RESIZE, "Oxford-IIIT Pet, our test split", count=IMAGES)


def relabel(t, to_species):
    """The same images with species labels (0 cat, 1 dog) instead of breeds."""
    if not to_species:
        return t
    labels = torch.tensor([species_of[int(b)] for b in t.labels])
    return data.ImageTensors(t.images, labels, SPECIES, t.source)


def loaders(species=False):
    train_ds = data.TensorImageDataset(relabel(pets_train, species), tensor_transforms(True, PX))
    test_ds = data.TensorImageDataset(relabel(pets_test, species), tensor_transforms(False, PX))
    return (data.make_loader(train_ds, BATCH, train=True, workers=WORKERS),
            data.make_loader(test_ds, 100, train=False, workers=WORKERS))


def start_from(arch, num_classes, pretrained=True):
    """A new network with a fresh `num_classes`-way head and, if `pretrained`, every other weight from
    START[arch]."""
    torch.manual_seed(0)
    net = models.build(arch, num_classes=num_classes)
    if pretrained:
        backbone = {k: v for k, v in START[arch].state_dict().items() if not k.startswith("fc.")}
        missing, unexpected = net.load_state_dict(backbone, strict=False)
        assert sorted(missing) == ["fc.bias", "fc.weight"] and not unexpected
    return net


def train(arch, how, epochs, species=False):
    """Train one way ("feature extraction", "fine-tuning" or "from scratch"); the model and its History."""
    num_classes = 2 if species else len(BREEDS)
    net = start_from(arch, num_classes, pretrained=how != "from scratch")
    if how == "feature extraction":
        freeze_backbone(net)
    lr, mult = {"feature extraction": (0.05, 1.0), "fine-tuning": (0.01, 0.1), "from scratch": (0.05, 1.0)}[how]
    config = TrainConfig(model=arch, model_kwargs={"num_classes": num_classes}, epochs=epochs, lr=lr,
                         backbone_lr_mult=mult, momentum=0.9, weight_decay=1e-4, schedule="cosine",
                         eval_every=epochs, progress=False)
    train_loader, test_loader = loaders(species)
    history = fit(net, train_loader, test_loader, config)
    return net.eval(), history


print(f"{len(pets_train)} training and {len(pets_test)} test images in memory, "
      f"{tuple(pets_train.images.shape[1:])} each")

# %% tags=["nbval-ignore-output"]
WAYS = ["feature extraction", "fine-tuning", "from scratch"]
nets, histories, results = {}, {}, {}
_, test_loader = loaders()
for way in WAYS:
    nets[way], histories[way] = train(ARCH, way, EPOCHS)
    results[way] = evaluate(nets[way], test_loader)
print(f"{ARCH} on the {len(BREEDS)} breeds, {EPOCHS} epoch(s) each, tested on {len(pets_test)} images")
print(f"{'':<20}{'top-1':>8}{'per breed':>11}{'train top-1':>13}{'seconds':>9}")
for way in WAYS:
    r, h = results[way], histories[way]
    seconds = sum(e["seconds"] for e in h)
    print(f"{way:<20}{100 * r['top1']:>7.1f}%{100 * r['per_class'].nanmean():>10.1f}%"
          f"{100 * h[-1]['train_top1']:>12.1f}%{seconds:>9.0f}")
commonest = max(Counter(pets_test.labels.tolist()).values()) / len(pets_test)
print(f"chance: {100 / len(BREEDS):.1f}% per breed; always answering the commonest breed: {100 * commonest:.1f}% top-1")
p = results["fine-tuning"]["top1"]
print(f"one test image is {100 / len(pets_test):.2f}% of top-1; the standard error of a top-1 near {100 * p:.0f}% "
      f"on {len(pets_test)} images is {100 * math.sqrt(p * (1 - p) / len(pets_test)):.1f} points")
assert all(0 <= r["top1"] <= 1 and math.isfinite(r["loss"]) for r in results.values())
assert all(math.isfinite(e["train_loss"]) for h in histories.values() for e in h)
if SIZE != "smoke":
    # every way learns more than the class frequencies, and a pretrained start is not worse than a random one
    assert all(r["top1"] > commonest + 0.03 for r in results.values())
    assert max(results[w]["top1"] for w in ("feature extraction", "fine-tuning")) >= results["from scratch"]["top1"]

# %% tags=["nbval-ignore-output"]
display(plots.plot_history([histories[w] for w in WAYS], metrics=("loss", "top1"), labels=WAYS))

# %% [markdown]
# The curves are the training loss and accuracy of each epoch (dashed; on the augmented crops, while the
# weights move) and the test accuracy after the last (the single points). At this run size the three end
# within a few points of each other, about as far apart as the standard error printed above: the weights
# our Imagenette run gives at 32 pixels are a weak start, and five epochs on 470 images are a short budget
# for any of them. The ordering of the three, and the size of the gaps, is what changes with better
# pretrained weights and larger images.

# %% [markdown]
# ## Breed by breed
#
# The confusion matrix of the fine-tuned network says which breeds it gets right and which it takes for
# which. With five test images for most breeds, each of them is worth 20% of its breed's accuracy: read the
# bars below as a rough picture, and only the three big breeds as measurements.

# %% tags=["nbval-ignore-output"]
best = max(WAYS, key=lambda w: results[w]["per_class"].nanmean())
per_breed = results[best]["per_class"]
order = sorted(range(len(BREEDS)), key=lambda b: (per_breed[b].nan_to_num(-1).item(), BREEDS[b]))
fig = Figure(figsize=(8, 8), layout="constrained")
ax = fig.subplots()
ax.barh([BREEDS[b] for b in order], [100 * per_breed[b].nan_to_num(0).item() for b in order],
        color=["#c44e52" if species_of[b] == 0 else "#4c72b0" for b in order])
ax.set_xlabel(f"test accuracy (%), {best}")
ax.set_xlim(0, 100)
ax.tick_params(axis="y", labelsize=8)
ax.barh([], [], color="#c44e52", label="cat breeds")
ax.barh([], [], color="#4c72b0", label="dog breeds")
ax.legend(loc="lower right")
ax.spines[["top", "right"]].set_visible(False)
display(fig)


# %% tags=["nbval-ignore-output"]
pred = predict(nets[best], test_loader)
truth = pets_test.labels
assert torch.equal(torch.bincount(truth * len(BREEDS) + pred, minlength=len(BREEDS) ** 2).view(
    len(BREEDS), len(BREEDS)), results[best]["confusion"])  # the same counts as evaluate's
confusion = results[best]["confusion"].clone()
confusion.fill_diagonal_(0)
pairs = [divmod(i, len(BREEDS)) for i in confusion.flatten().argsort(descending=True)[:5].tolist()]
pairs = [(t, p) for t, p in pairs if confusion[t, p] > 0]
print(f"the most frequent mistakes of {best} ({int(confusion.sum())} mistakes in all):")
for t, p in pairs:
    print(f"  {int(confusion[t, p]):3d} x {BREEDS[t]} taken for {BREEDS[p]}"
          f"{'' if species_of[t] == species_of[p] else '  (a cat for a dog, or a dog for a cat)'}")
wrong_species = sum(int(confusion[t, p]) for t in range(len(BREEDS)) for p in range(len(BREEDS))
                    if species_of[t] != species_of[p])
print(f"{wrong_species} of the mistakes take a cat for a dog or a dog for a cat")

# %% tags=["nbval-ignore-output"]
examples = []
for t, p in pairs:
    examples += [i for i in range(len(truth)) if truth[i] == t and pred[i] == p][:3]
examples = examples[:12]
test_index = [i * len(test) // len(pets_test) for i in range(len(pets_test))]  # in memory -> dataset index
if examples:
    pictures = in_memory(test, 128, indices=[test_index[i] for i in examples])
    titles = [f"{BREEDS[truth[i]]}\n→ {BREEDS[pred[i]]}" for i in examples]
    fig = plots.image_grid(pictures.images, titles=titles, ncols=6)
    fig.set_size_inches(13, 2.6 * math.ceil(len(examples) / 6))
    display(fig)

# %% [markdown]
# Each picture is a test image of the most frequent mistakes, shown at 128 pixels with its true breed and,
# after the arrow, the breed the network chose; the network itself saw it at the run size's resolution.
# The three big breeds draw the predictions: with 100 training images each against five for the others,
# a network this small and this briefly trained learns to bet on them, so its most frequent mistakes are
# among those three (cats and dogs alike, as the count above says), and its top-1 is far above its mean
# per-breed accuracy. With better features the mistakes move to what a fine-grained data set is about:
# breeds of the same species that look alike.
#
# ## Cats versus dogs: a tutorial, fixed
#
# A popular blog tutorial trains a "ResNet-18" to tell cats from dogs in PyTorch and reports "accuracy of
# 93.23%" after 10 epochs. Its code has these problems:
#
# 1. **Its test set is the training set.** `get_dataset(train=False)` builds `testset` from `./test/` and
#    then returns `DataLoader(trainset, ...)`: the "test" accuracy is measured on the images the network
#    was trained on, so the 93.23% says how well it memorised them, not how well it generalises.
# 2. **Its training accuracy is one batch.** Every 100 iterations it prints `correct / target.size(0)` of
#    the current batch of 8 images: a number that jumps in steps of 12.5% and says little about the epoch.
# 3. **It evaluates in training mode.** There is no `resnet.eval()` before testing, so BatchNorm normalises
#    each test batch with that batch's own statistics (and updates its running averages with test data).
# 4. **It calls a function that does not exist.** The test code calls `get_data(train=False)`; the function
#    is `get_dataset`. As printed, the evaluation cannot have run.
# 5. **No augmentation.** Training uses the test-time transform (resize to 256, centre crop 224): every
#    epoch shows the network the same pixels.
# 6. **Its ResNet-18 is not the paper's.** The stem is a 3×3 convolution with stride 1 and no max pool,
#    CIFAR-style, on 224×224 images: the first stage runs at 224×224 where the paper's runs at 56×56, and
#    so does every later stage at 4×4 = 16 times the paper's number of positions, with 16 times the
#    multiply-adds (the paper's Table 1 gives 1.8 billion for its ResNet-18). It is trained from scratch,
#    with plain SGD at 0.01, no momentum, no weight decay and no schedule.
# 7. **Smaller things.** It prints the loss tensor at every iteration, saves the weights every 100
#    iterations over the same file whatever they are worth, and `ImageFolder` needs one folder per class
#    (`train/cat/`, `train/dog/`), which Kaggle's cats-and-dogs archive does not have (its test images are
#    not labelled at all): the labelled test set has to be carved out of the training images.
#
# The fixes are the library's defaults: the paper's ResNet-18 (`models.resnet18`) starting from pretrained
# weights, a test loader on the test split, `evaluate`, which puts the model in `eval()` mode and counts
# correct answers over the whole test set, augmentation for training only, SGD with momentum, weight decay
# and a cosine schedule. For your own folders of cats and dogs, the `catsdogs-resnet18` recipe does all of
# it from the command line (`resnet-train catsdogs-resnet18 --data DIR`, with `DIR/{train,val}/{cat,dog}/`).
# Here the cats and dogs are the pets above, with their species as the label:

# %% tags=["nbval-ignore-output"]
species_net, species_history = train("resnet18", "fine-tuning", SPECIES_EPOCHS, species=True)
train_loader, species_test = loaders(species=True)
right = evaluate(species_net, species_test)
majority = max(Counter(relabel(pets_test, True).labels.tolist()).values()) / len(pets_test)
print(f"ResNet-18, fine-tuned {SPECIES_EPOCHS} epoch(s) on cat versus dog, starting from {FROM['resnet18']}")
print(f"  test accuracy, the right way (test split, eval mode, all images): {100 * right['top1']:.1f}% "
      f"(always answering the commoner species: {100 * majority:.1f}%)")

# Mistake 1: the tutorial's test loader reads the training images.
on_train = evaluate(species_net, data.make_loader(data.TensorImageDataset(
    relabel(pets_train, True), tensor_transforms(False, PX)), 100, train=False, workers=0))
print(f"  accuracy on the training images (what its 'test' measured): {100 * on_train['top1']:.1f}%")


# Mistake 2: the accuracy of single batches of 8.
@torch.no_grad()
def batch_accuracies(net, t, train_mode=False):
    net = copy.deepcopy(net).train(train_mode)  # a copy: train mode would change the BatchNorm statistics
    loader = data.make_loader(data.TensorImageDataset(t, tensor_transforms(False, PX)), 8, train=False,
                              workers=0, drop_last=True)
    return torch.tensor([(net(x).argmax(1) == y).float().mean().item() for x, y in loader])


per_batch = batch_accuracies(species_net, relabel(pets_test, True))
print(f"  accuracy of single test batches of 8: from {100 * per_batch.min():.1f}% to "
      f"{100 * per_batch.max():.1f}% ({len(per_batch)} batches; their mean {100 * per_batch.mean():.1f}%)")

# Mistake 3: no model.eval(): BatchNorm uses the statistics of each batch of 8.
train_mode = batch_accuracies(species_net, relabel(pets_test, True), train_mode=True)
print(f"  test accuracy in training mode, batches of 8: {100 * train_mode.mean():.1f}%")

# The breed network answers the same question: a cat breed is a cat.
breed_pred = predict(nets[best], test_loader)
as_species = torch.tensor([species_of[int(b)] for b in breed_pred])
species_acc = (as_species == relabel(pets_test, True).labels).float().mean().item()
print(f"  the breed network ({best}), its breeds read as species: {100 * species_acc:.1f}%")
assert 0 <= right["top1"] <= 1 and len(per_batch) > 0
if SIZE != "smoke":
    assert right["top1"] > majority

# %% [markdown]
# The number the tutorial would print, accuracy on its own training images, flatters the network; single
# batches of 8 give anything over a wide range; and evaluating in training mode changes the answer again,
# by an amount that depends on how each batch happens to be composed. Only the first line is a test
# accuracy. Training on the 37 breeds and reading the answer as a species is another way to tell cats from
# dogs: compare the last line with the first. The breed labels carry more information per image.
#
# ## What we learnt

# %% tags=["nbval-ignore-output"]
print(f"run size {SIZE}: {ARCH} at {PX} px on our Pets split ({len(pets_train)} train / {len(pets_test)} test)")
for way in WAYS:
    r = results[way]
    print(f"  {way:<20} top-1 {100 * r['top1']:5.1f}%   mean per breed {100 * r['per_class'].nanmean():5.1f}%")
print(f"  cat versus dog, ResNet-18 fine-tuned: {100 * right['top1']:.1f}%")
print(f"  pretrained weights: {FROM[ARCH]}")
print(f"this notebook ran for {time.perf_counter() - T0:.0f} s")

# %% [markdown]
# - What pretraining is worth depends on the pretrained features. Weights from a few epochs on ten
#   ImageNet classes at 32 pixels, with no cats and one dog breed among them, put the three ways within a few
#   points of each other here. torchvision's ImageNet weights were trained at 224 pixels on 1000 classes
#   that include many cat and dog breeds: run this chapter in Colab to measure the gap they give.
# - Feature extraction is the cheapest (no backward pass through the backbone: compare the seconds in the
#   table) and needs the pretrained features to fit the new task; fine-tuning adapts them, with a smaller
#   learning rate for the backbone.
# - Evaluate on held-out images, in `eval()` mode, over the whole test set, and report a per-class
#   measure when the classes are unbalanced.
#
# Chapter 7 trains on ImageNet itself, or says what it would cost.
