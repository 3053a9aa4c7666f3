# ---
# jupyter:
#   accelerator: GPU
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. ImageNet at scale
#
# The paper's headline results are ResNets trained on ImageNet {cite}`he2016deep`
# {cite}`russakovsky2015imagenet`: 1.28 million training images in 1000 classes. This chapter is about what
# such a run takes: the recipe of the paper and the one that replaced it, the data and how to lay it out,
# the command lines that train on one GPU, on eight, or on several machines, what makes a training step fast,
# and what a whole run costs. Then it does the same thing at a size this page can afford: a ResNet trained on
# Imagenette, ten ImageNet classes {cite}`howard2019imagenette`, and evaluated the way the paper evaluates,
# with one centre crop and with ten crops. Part I counted what these networks compute: chapter 3 the
# parameters and multiply-adds of the paper's Table 1, chapter 4 their cost against VGG and their time on a
# CPU. This chapter is about training them.
#
# **You will see**
# - the ResNet-50 recipe of the paper's Section 3.4 beside torchvision's modern recipe, with the accuracies
#   torchvision publishes for both;
# - ImageNet's folder layout, and the library's command line under `torchrun`, on one node and on several,
#   run here for real with two processes;
# - the throughput of a training step with mixed precision, `channels_last` and `torch.compile`, measured;
# - the cost of a full ImageNet run in device-hours, computed from that measurement;
# - a ResNet trained on Imagenette, with its curves, and centre-crop against ten-crop evaluation on real
#   ImageNet validation images.
#
# The outputs stored with this page come from a run at the `cpu` size on the hardware printed below, on the
# subsets of the book's data folder (Imagenette: 400 training and 200 validation images per class). Timings
# depend on the machine and on what else runs on it; each one is printed beside the hardware it was measured on.

# %% tags=["hide-input"]
# In Colab, install resnet_lib from the book's repository (elsewhere `make book` or
# `pip install -e .` did).
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

# %%
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

import torch
from IPython.display import display
from torch import nn
from torchvision.models import ResNet50_Weights
from tqdm import TqdmWarning

# no widgets here: no progress bars either
warnings.filterwarnings("ignore", category=TqdmWarning)
# %matplotlib inline

from resnet_lib import data, models, paper, plots
from resnet_lib.pretrain import (book_run, imagenette_pretrained, in_memory, resize_for,
                                 tensor_transforms)
from resnet_lib.recipes import describe as describe_recipe, get_recipe
from resnet_lib.runsize import cpu_flags, hardware, in_colab, pick
from resnet_lib.results import load_result
from resnet_lib.show import network_name, nowrap, show_table
from resnet_lib.speed import TrainingStep, step_settings
from resnet_lib.train import autocast_dtype, evaluate, pick_device
from resnet_lib.transfer import load_pretrained, pretrained_weights, weights_file

DOWNLOAD = in_colab()  # in Colab: download Imagenette and torchvision's weights
DEVICE = pick_device()


# %% [markdown]
# ## The paper's recipe
#
# Section 3.4 of the paper gives the whole ImageNet recipe in one paragraph:
#
# > Our implementation for ImageNet follows the practice in [21, 41]. The image is resized with its shorter
# > side randomly sampled in [256, 480] for scale augmentation [41]. A 224×224 crop is randomly sampled from
# > an image or its horizontal flip, with the per-pixel mean subtracted [21]. The standard color
# > augmentation in [21] is used. We adopt batch normalization (BN) [16] right after each convolution and
# > before activation, following [16]. We initialize the weights as in [13] and train all plain/residual
# > nets from scratch. We use SGD with a mini-batch size of 256. The learning rate starts from 0.1 and is
# > divided by 10 when the error plateaus, and the models are trained for up to 60 × 10⁴ iterations. We use
# > a weight decay of 0.0001 and a momentum of 0.9. We do not use dropout [14], following the practice in
# > [16]. In testing, for comparison studies we adopt the standard 10-crop testing [21].
#
# The numbers in brackets are the paper's references: [21] is AlexNet (Krizhevsky, Sutskever and Hinton,
# 2012), [41] VGG {cite}`simonyan2015vgg`, [16] batch normalisation {cite}`ioffe2015batch`, [13] He
# initialisation {cite}`he2015delving`, [14] dropout (Hinton et al., 2012).
#
# The library's `imagenet-resnet50` recipe keeps the optimiser of this paragraph and follows torchvision's
# reference training where it departs from it:
#
# - **kept**: SGD with batch 256, learning rate 0.1, momentum 0.9, weight decay 0.0001; 224×224 crops and
#   horizontal flips; BatchNorm after each convolution and before the ReLU; He initialisation; training from
#   scratch; no dropout;
# - **fixed where the paper waits for a plateau**: the learning rate is divided by 10 at epochs 30 and 60,
#   and training stops after 90 epochs (450,360 iterations, against the paper's up to 600,000);
# - **replaced**: the scale augmentation (shorter side in [256, 480], then a 224×224 crop) by torchvision's
#   random-resized crop (8% to 100% of the image's area, aspect 3/4 to 4/3, resized to 224×224); the
#   per-pixel mean by a per-channel mean and standard deviation; the network by torchvision's ResNet-50
#   "v1.5", which downsamples in the 3×3 convolution instead of the first 1×1 (chapter 3);
# - **left out**: the colour augmentation, and the 10-crop testing: after each epoch the recipe validates on
#   one centre crop (224 from 256). Ten crops are a separate evaluation, done at the end of this chapter.

# %%
recipe = get_recipe("imagenet-resnet50")
print(describe_recipe(recipe))
TRAIN_IMAGES, VAL_IMAGES = 1_281_167, 50_000  # ILSVRC2012, the ImageNet-1k of the paper
batch = paper.IMAGENET_RECIPE["batch_size"]
iters = paper.IMAGENET_RECIPE["iterations"]
per_epoch = TRAIN_IMAGES // batch
print(f"\nthe paper: up to {iters:,} iterations of {batch} = "
      f"{iters * batch / TRAIN_IMAGES:.0f} passes over the {TRAIN_IMAGES:,} training images")
print(f"the recipe: {recipe.config.epochs} epochs of {per_epoch:,} iterations = "
      f"{recipe.config.epochs * per_epoch:,} iterations")

# %% [markdown]
# ## torchvision's modern recipe
#
# torchvision publishes two sets of ResNet-50 weights {cite}`torchvision2016`. `IMAGENET1K_V1` was trained
# with the recipe above; `IMAGENET1K_V2` with the same architecture and a recipe of 2021
# {cite}`vryniotis2021recipe`. Their accuracies, preprocessing and recipe are in the weights' metadata,
# which comes with torchvision: nothing is downloaded to read them.

# %%
rows, top1 = [], {}
for w in (ResNet50_Weights.IMAGENET1K_V1, ResNet50_Weights.IMAGENET1K_V2):
    acc = w.meta["_metrics"]["ImageNet-1K"]
    t = w.transforms()
    top1[w.name] = acc["acc@1"]
    rows.append([f"`{w.name}`", f"{acc['acc@1']:.2f}", f"{acc['acc@5']:.2f}",
                 f"{t.resize_size[0]} → {t.crop_size[0]}", w.meta["recipe"]])
show_table(["weights", "top-1 (%)", "top-5 (%)", "evaluation: resize → centre crop",
            "recipe (`meta['recipe']`)"], rows)

# %%
gain = top1["IMAGENET1K_V2"] - top1["IMAGENET1K_V1"]
err1, err2 = 100 - top1["IMAGENET1K_V1"], 100 - top1["IMAGENET1K_V2"]
fewer = (err1 - err2) / err1
print(f"V2 - V1: {gain:+.2f} points of top-1; top-1 error {err1:.2f}% -> {err2:.2f}%, "
      f"{fewer:.1%} fewer errors")
paper_err = paper.TABLE3_TOP1_ERROR["resnet50"]
print(f"the paper's ResNet-50 (Table 3, 10 crops): top-1 error {paper_err}%, "
      f"accuracy {100 - paper_err:.2f}%")
assert round(gain, 1) == 4.7 and 0.18 < fewer < 0.22  # "4.7 points", "a fifth fewer errors"

# %% [markdown]
# Nothing in the network changed: 4.7 points of top-1 (a fifth fewer errors) came from how it was trained.
# torchvision's recipe link leads to the command that trained `IMAGENET1K_V2`, with torchvision's own
# reference script on 8 GPUs:
#
# ```bash
# torchrun --nproc_per_node=8 train.py --model resnet50 --batch-size 128 --lr 0.5 \
#   --lr-scheduler cosineannealinglr --lr-warmup-epochs 5 --lr-warmup-method linear \
#   --auto-augment ta_wide --epochs 600 --random-erase 0.1 --weight-decay 0.00002 \
#   --norm-weight-decay 0.0 --label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0 \
#   --train-crop-size 176 --model-ema --val-resize-size 232 --ra-sampler --ra-reps 4
# ```
#
# Flag by flag, against the paper and against what `resnet_lib` offers:
#
# | | the paper (Section 3.4) | torchvision V1 (`imagenet-resnet50`) | torchvision V2 | in `resnet_lib` |
# |:--|:--|:--|:--|:--|
# | length | up to 600k iterations of 256 (about 120 epochs) | 90 epochs | 600 epochs | `epochs`, `iterations` |
# | batch, peak lr | 256, 0.1 | 256, 0.1 | 8 × 128 = 1024, 0.5 | `batch_size`, `lr` |
# | schedule | ÷10 at plateaus | ÷10 at epochs 30 and 60 | linear warm-up for 5 epochs, then cosine to 0 | `schedule="cosine"`, `warmup="linear"`, `warmup_iters` |
# | weight decay | 1e-4 everywhere | 1e-4 everywhere | 2e-5, none on normalisation layers | `weight_decay`, `no_decay_bn_bias` (also spares biases) |
# | labels | one-hot | one-hot | label smoothing 0.1; mixup (α 0.2) or cutmix (α 1.0) on each batch | `label_smoothing`; no mixup or cutmix |
# | augmentation | scale [256, 480] + 224 crop + flip + colour | random-resized crop + flip | random-resized crop, TrivialAugment, random erasing; repeated augmentation: an epoch draws about a quarter of the images, each 4 times with different augmentations | random-resized crop + flip |
# | resolution | train 224, test 10 crops of 224 | train 224, test resize 256 → centre crop 224 | train 176, test resize 232 → centre crop 224 (the train–test resolution discrepancy of FixRes) | `image_size` |
# | weights evaluated | not stated | the last | an exponential moving average (EMA) of the weights | the last |
#
# TrivialAugment applies to each image one operation drawn at random (a rotation, a shear, a change of
# contrast, ...) at a random strength. Mixup trains on a blend of two images, $\lambda x_1 + (1-\lambda) x_2$,
# with the labels blended alike ($\lambda$ drawn from a Beta($\alpha$, $\alpha$) distribution); cutmix pastes
# a rectangle of one image into another and mixes the labels by its area. FixRes {cite}`touvron2019fixres`
# showed that random-resized crops make objects look larger in training than in a centre crop at test time,
# so that a network tests best at a higher resolution than it trained at: hence 176 in training, 224 at test.
#
# torchvision's write-up {cite}`vryniotis2021recipe` adds these changes one after another to a baseline and
# reports the accuracy after each. Several of them (label smoothing, mixup, cutmix, random erasing,
# TrivialAugment) are regularisers, and the write-up lengthens training to 600 epochs alongside them: the
# gains it reports were measured with that long training and need not carry over to 90 epochs. The library
# has the V1 column as its `imagenet-resnet50` recipe and, of the V2 column, the knobs of its `TrainConfig`
# in the last column; the rest lives in torchvision's reference scripts.
#
# ## Getting ImageNet
#
# No library downloads ImageNet without an account: the images are available from
# [image-net.org](https://image-net.org) after signing in and accepting its terms of access, and the copy on
# Hugging Face's hub (`ILSVRC/imagenet-1k`, for the `datasets` library) is gated the same way, with a
# Hugging Face account and ImageNet's terms to accept, in its own file format rather than class folders.
# From image-net.org, download the ILSVRC2012 training and validation archives and the development kit.
# The library (like torchvision's `ImageFolder`) expects one folder per class, named by WordNet id, for each
# split:
#
# ```text
# imagenet/
#   train/n01440764/n01440764_10026.JPEG ...   (1000 folders)
#   val/n01440764/ILSVRC2012_val_00000293.JPEG ...   (1000 folders, 50 images each)
# ```
#
# The training archive holds one tar per class, to unpack each into its folder. The validation images come in
# a single folder; `torchvision.datasets.ImageNet(root, split="val")` sorts them into class folders using the
# development kit. Where the folder is missing, the library says what to do:

# %%
try:
    data.imagenet("train", root="imagenet")
except FileNotFoundError as e:
    print(textwrap.fill(str(e), 100))

# %% [markdown]
# Imagenette, in the book's data folder, has exactly this layout with ten of the thousand classes; its
# validation images are ImageNet validation images. Every ImageNet code path of the library runs on it:

# %%
# in Colab this downloads Imagenette first
names = data.imagenette("val", download=DOWNLOAD).classes
folder = data.data_root() / "imagenette2-160"
val_folder = data.image_folder(folder, "val")
print(f"{folder.name}/val: {len(val_folder):,} images in {len(val_folder.classes)} class folders")
for wnid, name in zip(val_folder.classes, names):
    n = sum(1 for t in val_folder.targets if t == val_folder.class_to_idx[wnid])
    print(f"  {wnid}/  {n} images  ({name})")

# %% [markdown]
# ## Training with `torchrun`: one node, several nodes
#
# The library's command line, `resnet-train RECIPE` (also `python -m resnet_lib RECIPE`), trains a
# recipe by name. Under `torchrun` every process runs the same command: the library joins the process group
# that `torchrun` describes, wraps the model in `DistributedDataParallel` (one process per GPU), gives each
# process its shard of every epoch, and lets rank 0 alone print, write the history and save checkpoints.
# `--batch-size` is the *global* batch: each of $N$ processes gets $256/N$ images of the recipe's 256.
#
# ```bash
# # one GPU: no torchrun needed
# python -m resnet_lib imagenet-resnet50 --data /data/imagenet --out runs/r50
#
# # one machine with 8 GPUs
# torchrun --standalone --nproc_per_node=8 -m resnet_lib imagenet-resnet50 \
#     --data /data/imagenet --out runs/r50
#
# # 4 machines with 8 GPUs each: the same command on every machine, HOST being the first one's address
# torchrun --nnodes=4 --nproc_per_node=8 \
#     --rdzv_id=r50 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \
#     -m resnet_lib imagenet-resnet50 --data /data/imagenet --out runs/r50
#
# # continue a run that stopped (on one node or several: add --resume to the same command)
# torchrun --standalone --nproc_per_node=8 -m resnet_lib imagenet-resnet50 \
#     --data /data/imagenet --out runs/r50 --resume runs/r50/last.pt
# ```
#
# The `rdzv` options set up the *rendezvous*, the way the processes of several machines find each other
# before training: each `torchrun` contacts the store that the first machine serves at `HOST:29500`
# (`c10d`, PyTorch's own), under the run's name `r50`, and they agree on the ranks. With `--standalone`, on
# one machine, `torchrun` makes that store itself.
#
# On 32 GPUs the recipe's 256 images are only 8 a GPU, too few to keep a GPU busy. The usual answer is a
# larger global batch with the learning rate scaled in proportion (0.1 per 256 images) {cite}`goyal2017accurate`,
# e.g. `--batch-size 1024 --lr 0.4`; Goyal et al. also warm the learning rate up over the first epochs, which
# `TrainConfig(warmup="linear", warmup_iters=...)` does and the command line does not expose. The available
# recipes (`--list`) and options (`--help`):

# %% tags=["nbval-ignore-output"]
listing = subprocess.run([sys.executable, "-m", "resnet_lib", "--list"], capture_output=True,
                         text=True, check=True).stdout
print("$ python -m resnet_lib --list\n" + listing)
assert "imagenet-resnet50" in listing and "imagenette-resnet18" in listing
usage = subprocess.run([sys.executable, "-m", "resnet_lib", "--help"], capture_output=True,
                       text=True, check=True).stdout
print("$ python -m resnet_lib --help\n" + usage)
assert "--resume" in usage and "--amp" in usage

# %% [markdown]
# The processes exchange their gradients through a communication backend: on GPUs NCCL, NVIDIA's library
# of collective operations between GPUs; on a CPU the library picks `gloo`, a backend of PyTorch's that
# runs on CPUs. Here is a real two-process run of the `imagenette-resnet18` recipe, a few iterations on a
# few images, launched exactly as on a GPU machine (`torchrun` is `python -m torch.distributed.run`):

# %% tags=["nbval-ignore-output"]
run_dir = Path(tempfile.mkdtemp()) / "demo"
ITERS = pick(SIZE, smoke=2, cpu=4, gpu=20)
args = ["--standalone", "--nproc_per_node=2", "-m", "resnet_lib", "imagenette-resnet18",
        "--subset", "64", "--iterations", str(ITERS), "--batch-size", "16", "--workers", "0",
        "--out", str(run_dir)]
print("$ torchrun " + " ".join(args).replace(str(run_dir), "runs/demo"))
start = time.perf_counter()
result = subprocess.run([sys.executable, "-m", "torch.distributed.run", *args],
                        capture_output=True, text=True,
                        env={**os.environ, "RESNET_PROGRESS": "0", "OMP_NUM_THREADS": "1"})
out = (result.stdout.replace(str(run_dir), "runs/demo")
       .replace(str(data.data_root()), "$RESNET_DATA"))
print(out)
print(f"(exit status {result.returncode}, {time.perf_counter() - start:.0f} s)")
assert result.returncode == 0, result.stderr[-2000:]
meta = json.loads((run_dir / "history.json").read_text())["meta"]
assert meta["world_size"] == 2 and meta["status"] == "finished"
assert (run_dir / "last.pt").is_file()
# one log for two processes: only rank 0 prints
assert sum(line.startswith("wrote") for line in out.splitlines()) == 1

# %% [markdown]
# Two processes, one log and one history: `world_size` is 2 in `history.json`, and the log above appears
# once, not once per process, because only rank 0 prints; the library leaves the writing of files to rank 0
# too.
#
# ## What makes a training step fast
#
# Three switches of `TrainConfig` (and of the command line) change the speed of a step and, for mixed
# precision, the precision of its arithmetic; not the model or the recipe:
#
# - **mixed precision** (`amp`): the convolutions and matrix products run in bfloat16 (or float16 with a
#   gradient scaler) while the weights stay in float32. `amp="auto"` turns it on for CUDA and leaves it off
#   on a CPU, so that a CPU run computes in float32 as the paper did; `amp="bf16"` asks for it anywhere.
# - **`channels_last`**: tensors stored as N×H×W×C instead of N×C×H×W, the layout tensor-core convolutions
#   and the CPU's oneDNN convolutions want (oneDNN: Intel's open-source library of deep-learning kernels,
#   which PyTorch calls for convolutions on a CPU); `fit` uses it by default on CUDA and on CPU
#   (`uses_channels_last`).
# - **`torch.compile`**: the model traced and compiled into fused kernels; it costs compilation time
#   before the first step.
#
# What each is worth is a measurement, and a fragile one: a few steps on a machine busy with something else
# say little. `benchmarks/precision.py` measures the way `benchmarks/throughput.py` (behind `make bench`)
# does: warm-up steps first, then rounds of timed steps in which the settings take turns, so that a change
# in the machine's load hits them all alike, and the median of each. The table stored with the book, with
# the load average of the machine it was measured on:

# %% tags=["nbval-ignore-output"]
bench = load_result("precision-cpu")
print(f"{bench['hardware']}, torch {bench['torch']}, {bench['date'][:10]};\n"
      f"training steps of random images, {bench['warmup_steps']} warm-up steps, then "
      f"{bench['repeats']} rounds of {bench['steps']} timed steps each, the median;\n"
      f"load average {bench['load_average_1min'][0]:.2f} before, "
      f"{bench['load_average_1min'][1]:.2f} after")
show_table(["network", "batch", "setting", "images/s", "vs float32"],
           [[nowrap(network_name(r["model"])), f"{r['batch_size']} × {r['image_size']} px",
             r["setting"], f"{r['images_per_s']:.1f}", f"{r['vs_float32']:.2f}x"]
            for r in bench["rows"]])
speedup = {(r["model"], r["setting"]): r["vs_float32"] for r in bench["rows"]}
for model in ("cifar_resnet20", "resnet50"):  # the comparisons the text below states
    assert 1.2 < speedup[(model, "float32, channels_last")] < 1.5
    assert speedup[(model, "bfloat16 autocast")] > 1.8
    assert (speedup[(model, "bfloat16 autocast, channels_last")]
            > speedup[(model, "bfloat16 autocast")])
assert speedup[("cifar_resnet20", "bfloat16 autocast, channels_last")] > 1.95
assert speedup[("resnet50", "bfloat16 autocast, channels_last")] > 2.5
load_before, load_after = bench["load_average_1min"]
assert bench["threads"] == 2 and 0.8 < load_before < 1.5 and load_after < 2.2  # as the text says

# %% [markdown]
# The machine was not idle: a load average of 1.13 in the minute before, on two threads, is about one
# core's worth of other work, and the 1.93 just after includes the benchmark's own two threads. Because the
# settings took turns round by round, steady work beside them slowed them alike: the ratios are the numbers
# to read, and the absolute speeds are those of a shared machine.
#
# On the table's CPU, an AMD EPYC whose cores have bfloat16 instructions (`avx512_bf16` in Linux's
# `/proc/cpuinfo`), bfloat16 autocast is the switch that pays most: with `channels_last` it trained ResNet-50
# 2.6 times and ResNet-20 about twice as fast as float32. `channels_last` alone gave about 1.35 times, for
# both. The oneDNN convolutions behind PyTorch on a CPU read the N×H×W×C layout natively, and in bfloat16
# they move half the bytes and use the cores' bfloat16 dot-product instructions.
#
# Measure it yourself: the cell below times the same settings on this machine, at the run size's batch and
# resolution, a few steps each. On a shared machine, or for a handful of steps, its ratios are noisy; the
# warm-up column is the time to the end of the untimed first steps, for `torch.compile` mostly compilation.

# %% tags=["nbval-ignore-output"]
BENCH_BATCH = pick(SIZE, smoke=2, cpu=4, gpu=128)
BENCH_PX = pick(SIZE, smoke=64, cpu=224, gpu=224)
WARMUP, STEPS = pick(SIZE, smoke=(1, 1), cpu=(1, 2), gpu=(10, 30))
COMPILE = pick(SIZE, smoke=False, cpu=True, gpu=True)  # compiling takes minutes on a CPU


def train_throughput(arch="resnet50", amp=None, channels_last=False, compile=False):
    """Images per second of training steps (on one random batch: the data costs nothing here), and
    the seconds the warm-up steps took (for torch.compile, mostly compiling)."""
    torch.manual_seed(0)
    model = models.build(arch).to(DEVICE)
    x = torch.randn(BENCH_BATCH, 3, BENCH_PX, BENCH_PX, device=DEVICE)
    y = torch.randint(0, 1000, (BENCH_BATCH,), device=DEVICE)
    step = TrainingStep(model, [(x, y)], amp=amp, channels_last=channels_last, compile=compile)
    first = WARMUP * BENCH_BATCH / step.run(WARMUP)
    return step.run(STEPS), first


# Mixed precision: bfloat16 where the device has it (float16, with a gradient scaler, on older
# GPUs).
AMP = autocast_dtype(DEVICE) or torch.bfloat16
settings = step_settings(AMP, compile=COMPILE)  # the settings of the stored table, by name
if COMPILE and DEVICE.type == "cpu":
    # Inductor compiles C++ for the CPU and logs that it found no CUDA toolkit: expected here, not
    # a problem.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
HARDWARE = hardware()
print(f"ResNet-50, training steps of batch {BENCH_BATCH} at {BENCH_PX}x{BENCH_PX}, "
      f"{WARMUP} warm-up + {STEPS} timed, on {HARDWARE}")
# the processor's bfloat16 instructions, as Linux reports them (none off Linux)
BF16_FLAGS = cpu_flags(("avx512_bf16", "amx_bf16")) if DEVICE.type == "cpu" else []
if DEVICE.type == "cpu":  # what the processor reports, and how busy the machine is
    print(f"  bfloat16 instructions: {', '.join(BF16_FLAGS) or 'none reported'}; "
          f"load average {os.getloadavg()[0]:.2f} before")
throughput, warmup_s = {}, {}
for name, kw in settings.items():
    throughput[name], warmup_s[name] = train_throughput(**kw)
base = throughput["float32"]
print(f"  {'setting':<43}{'images/s':>10}{'vs float32':>12}{'warm-up (s)':>13}")
for name in settings:
    print(f"  {name:<43}{throughput[name]:>10.1f}{throughput[name] / base:>11.2f}x"
          f"{warmup_s[name]:>13.1f}")
if not COMPILE:
    print("  (torch.compile: not measured at this run size)")
if DEVICE.type == "cpu":
    print(f"  load average {os.getloadavg()[0]:.2f} after (its own threads included)")
assert all(v > 0 for v in throughput.values())
if SIZE == "cpu" and BF16_FLAGS:
    # what the text below says of a CPU with bfloat16 instructions
    assert throughput["bfloat16 autocast, channels_last"] > 1.5 * base
    assert throughput["bfloat16 autocast"] > base

# %% [markdown]
# The outputs stored with this cell come from another CPU than the table's, an Intel Xeon with bfloat16
# instructions and AMX units (`avx512_bf16` and `amx_bf16`, printed above its table), with no other
# program running beside it (the load average printed before it, a one-minute average, still counts work
# that had just finished): bfloat16 autocast with `channels_last` trained 2.01 times as fast as float32, and
# `torch.compile` on top 2.10 times, after 64 s of compiling; `channels_last` alone gained 1.13 times here,
# against the table's 1.36. The order is the table's, but
# two timed steps of a batch of 4 are a small sample: on a machine busy with other work, threads that wait
# for a busy core, a batch too small to amortise each convolution's set-up and a handful of steps can turn
# such a measurement upside down, which is why the stored table, with its repeated rounds at a batch of 16,
# is the one to read.
#
# Where each switch helps:
#
# - on NVIDIA GPUs with tensor cores, mixed precision is the switch that matters most, and `channels_last`
#   lets the tensor-core convolutions read their input without transposing it; `torch.compile` fuses the
#   BatchNorm, ReLU and additions around each convolution into fewer kernels;
# - on a CPU, bfloat16 pays where the processor has bfloat16 instructions, as the one of the stored table
#   does (recent Intel Xeons also have AMX, Advanced Matrix Extensions: units that multiply small
#   matrices of bfloat16 or int8 in one instruction); on one without them the arithmetic is emulated
#   and may be no faster than float32: measure before you switch. `amp="auto"` leaves it off on every CPU
#   all the same, so that the book's CPU runs compute in float32, as the paper's did, and resume bit for
#   bit on the same machine and thread count; `amp="bf16"` trades float32 arithmetic for the speed.
#
# Run this chapter on a GPU (Colab, or `RESNET_RUN_SIZE=gpu`) to measure the GPU side.
#
# ## What a full ImageNet run costs
#
# With a measured throughput $T$ (images per second), the library recipe's 90 epochs of 1,281,167 images
# (torchvision's reading of the paper; the paper itself trains for up to 600,000 iterations of 256, about
# 120 epochs) take $90 \times 1{,}281{,}167 / T$ seconds of that device. Two throughputs matter: that of the
# library's default settings (`amp="auto"`, which on a CPU means float32, with `channels_last`), and the
# fastest measured (on a CPU, bfloat16 autocast with `channels_last`, which takes `amp="bf16"`). On a GPU
# they come from the measurement of this run; on a CPU from the stored table, at a batch of 16:

# %% tags=["nbval-ignore-output"]
# the library's default settings: amp="auto" (mixed precision on CUDA, float32 elsewhere) and
# channels_last
LOW = autocast_dtype(DEVICE)
DEFAULT = (f"{str(LOW).removeprefix('torch.')} autocast, channels_last" if LOW is not None
           else "float32, channels_last")
if DEVICE.type == "cuda":
    measured, measured_on = dict(throughput), HARDWARE
else:  # the ResNet-50 rows of the stored table
    r50 = [r for r in bench["rows"] if r["model"] == "resnet50"]
    measured = {r["setting"]: r["images_per_s"] for r in r50}
    BENCH_BATCH, BENCH_PX = r50[0]["batch_size"], r50[0]["image_size"]
    measured_on = bench["hardware"]
best_name = max(measured, key=measured.get)
best, default = measured[best_name], measured[DEFAULT]
EPOCHS_PAPER, EPOCHS_V2 = recipe.config.epochs, 600
unit = "GPU" if DEVICE.type == "cuda" else "CPU"


def device_hours(images_per_s, images=EPOCHS_PAPER * TRAIN_IMAGES):
    return images / images_per_s / 3600


hours = device_hours(best)
print(f"ResNet-50 on {measured_on}, batch {BENCH_BATCH}, {BENCH_PX} px")
labels = {DEFAULT: 'the default, amp="auto"', best_name: "the fastest measured"}
for name, label in labels.items():
    h90 = device_hours(measured[name])
    print(f"{label}: {name}, {measured[name]:.1f} images/s")
    print(f"  {EPOCHS_PAPER} epochs: {h90:,.0f} {unit}-hours = {h90 / 24:,.1f} days "
          f"on that device")
    print(f"  the paper's up to {iters:,} iterations of {batch}: "
          f"{device_hours(measured[name], iters * batch):,.0f} {unit}-hours")
    print(f"  torchvision's V2 recipe, {EPOCHS_V2} epochs at 176 px: about "
          f"{h90 * EPOCHS_V2 / EPOCHS_PAPER * (176 / 224) ** 2:,.0f} {unit}-hours "
          f"(epochs x pixels)")
if DEVICE.type != "cuda":
    print("A GPU figure needs this cell run on a GPU: the numbers above are for the CPU named "
          "first.")
if BENCH_PX != 224:
    print(f"(at the {SIZE} size the images are {BENCH_PX} px, not 224: the hours above are not "
          f"ImageNet's)")
assert hours > 0
if DEVICE.type == "cpu":  # the stored table: what the text below says
    assert DEFAULT == "float32, channels_last"
    assert best_name == "bfloat16 autocast, channels_last"
    assert 1.8 < best / default < 2.0

# %% [markdown]
# On the stored table's CPU (an AMD EPYC) the library's default settings would take nearly twice the
# hours of `amp="bf16"`: the price of computing in float32. The V2 lines scale the 90-epoch figure by the number of epochs and by the pixels
# of a 176 px crop, which is roughly how the arithmetic of a convolutional network grows; they ignore the
# cost of the augmentations and of evaluating the EMA weights. A run of several GPUs divides the wall-clock
# time, not the GPU-hours, and only if the data pipeline keeps up: decoding and augmenting 1.28 million JPEG
# files per epoch needs several CPU cores per GPU (`--workers`).
#
# ## A small ImageNet: ResNet on Imagenette
#
# What fits on this page is the same pipeline on ten classes: the images of Imagenette at a resolution and
# for a number of epochs chosen by the run size. At the size stored here, a few epochs at 32 px, it is a
# demonstration of the code path, not a measurement: its accuracy says little about a ResNet trained on
# ImageNet at 224 px. This is the run chapter 6 uses as its pretraining where
# torchvision's weights cannot be downloaded; the two chapters share it through the library's cache, so
# whichever runs first trains it and the other reads it back (the line below says which happened here).
# It uses the optimiser of the library's `imagenette-resnet18` recipe with crops of 35% to 100% of each
# image (fast.ai's choice for short Imagenette runs), on images decoded once into memory:

# %% tags=["nbval-ignore-output"]
RUN = book_run(SIZE)
print(describe_recipe(get_recipe("imagenette-resnet18")))
print(f"this run: {RUN.arch} at {RUN.size} px, {RUN.epochs} epochs of batch {RUN.batch_size}, "
      f"lr {RUN.lr}, weight decay {RUN.weight_decay}, cosine;\n"
      f"          crops of {RUN.min_scale:.0%}-100% of an image")
start = time.perf_counter()
imagenette = imagenette_pretrained(RUN, download=DOWNLOAD)
h = imagenette.history
how = ("read from the library's cache" if imagenette.cached else "trained now")
print(f"{how}: trained in {h.meta['wall_seconds']:.0f} s on {h.meta['device']}, "
      f"torch {h.meta['torch']}")
for r in h:
    print(f"  epoch {r['epoch']}: train loss {r['train_loss']:.3f} "
          f"top-1 {100 * r['train_top1']:.1f}%   val top-1 {100 * r['val_top1']:.1f}%  "
          f"({r['images_per_s']:.0f} images/s)")
assert len(h) == RUN.epochs and all(math.isfinite(r["train_loss"]) for r in h)
if SIZE != "smoke":
    assert h[-1]["val_top1"] > 0.3  # well above the 10% of chance
if SIZE == "cpu":  # "a third or so", as the text says
    assert h[-1]["val_top1"] < 0.4

# %% tags=["nbval-ignore-output"]
fig = plots.plot_history(h, metrics=("loss", "error"), labels=[f"{RUN.arch}, {RUN.size} px"])
fig.axes[0].set_yscale("log")  # a first epoch's validation loss can be ten times the rest
display(fig)
if len(h) > 1:  # what the text below says: both errors still falling at the end
    assert h[-1]["val_top1"] > h[-2]["val_top1"] and h[-1]["train_top1"] > h[-2]["train_top1"]
if SIZE == "cpu":  # the first validation loss, far above the rest
    assert h[0]["val_loss"] > 5 * max(r["val_loss"] for r in h[1:])

# %% [markdown]
# Dashed lines are the training set (measured on the augmented crops while the weights move), solid lines
# the validation set; errors in percent, as the paper plots them, and losses on a logarithmic scale, since
# the first epoch's validation loss lies far above the rest. With so few epochs the network is far from
# converged: the errors are still falling when the cosine schedule brings the learning rate to zero.
# A third or so of the validation images right, on ten classes, is a network that has begun to learn, far
# from what a ResNet reaches on ImageNet.
#
# ## One crop or ten
#
# The paper evaluates ImageNet models on ten crops of each validation image, "the standard 10-crop testing"
# of AlexNet: the four corners and the centre, and their horizontal mirrors, each scored by the network, the
# ten softmax outputs averaged. torchvision's published numbers are single centre crops. On Imagenette's
# validation images, which are ImageNet validation images, with the model above (the `data.ten_crop_transforms`
# pipeline gives the ten crops). With the small model of the stored run this too is a demonstration of the
# method: how much ten crops add to a ResNet-50 at 224 px on ImageNet is not what it measures.

# %% tags=["nbval-ignore-output"]
VAL = pick(SIZE, smoke=40, cpu=None, gpu=None)  # validation images, spread over the classes
model = imagenette.model
source = f"our {RUN.arch} trained at {RUN.size} px on Imagenette (above)"
if SIZE == "gpu":  # with torchvision's ImageNet weights, where they can be had
    try:
        tv = load_pretrained(models.resnet50(), "IMAGENET1K_V1", download=DOWNLOAD)
    except (FileNotFoundError, RuntimeError):
        print("torchvision's ResNet-50 weights cannot be had here: evaluating our own model")
    else:
        categories = ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
        # Imagenette's classes among the 1000
        columns = [categories.index(name) for name in names]

        class TenOf1000(nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                return self.net(x)[:, columns]

        model, source = (TenOf1000(tv),
                         "torchvision's ResNet-50 IMAGENET1K_V1, its 10 Imagenette outputs")
px = RUN.size if "torchvision" not in source else 224
resize = resize_for(px)
val = in_memory(data.imagenette("val", download=DOWNLOAD), resize,
                "Imagenette (imagenette2-160/), val split", count=VAL)
center_ds = data.TensorImageDataset(val, tensor_transforms(False, px))
ten_ds = data.TensorImageDataset(val, data.ten_crop_transforms(px, resize))
center_loader = data.make_loader(center_ds, 100, train=False, workers=0)
ten_loader = data.make_loader(ten_ds, 20, train=False, workers=0)
start = time.perf_counter()
center = evaluate(model, center_loader, device=DEVICE)
t_center = time.perf_counter() - start
start = time.perf_counter()
ten = evaluate(model, ten_loader, device=DEVICE, ten_crop=True)
t_ten = time.perf_counter() - start
print(f"{source}; {center['count']:,} validation images of {px}x{px} crops from "
      f"{resize}x{resize}")
print(f"  centre crop: top-1 {100 * center['top1']:.2f}%  top-5 {100 * center['top5']:.2f}%  "
      f"({t_center:.1f} s)")
print(f"  ten crops:   top-1 {100 * ten['top1']:.2f}%  top-5 {100 * ten['top5']:.2f}%  "
      f"({t_ten:.1f} s)")
print(f"  ten crops: {100 * (ten['top1'] - center['top1']):+.2f} points of top-1, "
      f"for {t_ten / t_center:.1f}x the time")
assert center["count"] == ten["count"] == len(val)
if SIZE != "smoke":
    # averaging ten views does not make things much worse
    assert ten["top1"] >= center["top1"] - 0.02
if SIZE == "cpu":  # the stored run: ten crops gained, as the text says
    assert ten["top1"] > center["top1"]

# %% tags=["nbval-ignore-output"]
display(plots.plot_confusion(ten["confusion"], names))

# %% [markdown]
# Ten crops cost ten forward passes per image: the ten-crop loop sends ten times as many crops through the
# network (200 crops, from 20 images, a call, against 100 images a call for the centre crop), while the
# preparation of the same 2,000 small images, cropping and normalising them in memory, is a small part of
# either pass. The stored run took 7.9 times as long, close to ten; each timing is of one pass, timed once,
# with no other program running. On a busy machine the ratio would measure its load as much as the
# cost of ten crops, which the count of forward passes gives better.
#
# Ten crops gained 1.15 points of top-1 here. How
# much they buy depends on the model and the resolution: the paper's Table 3 numbers are ten-crop, and its
# best single-model result averages more scales still (shorter side 224 to 640, fully convolutional). At a
# low resolution the ten crops differ by a few pixels only (32 px crops of a 37 px image), so the mirror
# image may be much of what they add; exercise 4 measures it. torchvision's single centre crop at 224 from
# 256 (232 for V2) is the convention most papers now report. The confusion matrix shows which of the ten
# classes the small model mixes up; ImageNet has a thousand.
#
# ## Summary

# %% tags=["nbval-ignore-output"]
print(f"run size {SIZE} on {HARDWARE}")
print(f"  ResNet-50 training throughput, best setting: {best_name}")
print(f"    {best:.1f} images/s on {measured_on} -> {hours:,.0f} {unit}-hours for 90 "
      f"ImageNet epochs")
print(f"  Imagenette, {RUN.arch} at {RUN.size} px, {RUN.epochs} epochs: "
      f"val top-1 {100 * h[-1]['val_top1']:.1f}% (centre crop),\n"
      f"    {100 * ten['top1']:.1f}% with ten crops on {ten['count']:,} images")
print(f"  this notebook ran for {time.perf_counter() - T0:.0f} s")

# %% [markdown]
# - The paper's recipe is short: SGD, batch 256, lr 0.1 divided by 10 at plateaus, weight decay 1e-4, up to
#   600,000 iterations (about 120 epochs); torchvision's reference training of it, and the library's
#   `imagenet-resnet50` recipe, use 90 epochs with drops at 30 and 60. torchvision's V2 recipe keeps the
#   network and gains 4.7 points of top-1 with a cosine schedule, label smoothing, mixup and cutmix,
#   stronger augmentation, EMA and 600 epochs.
# - Mixed precision is the largest switch where the hardware has the instructions for it: on the stored
#   table's CPU, bfloat16 autocast with `channels_last` trained ResNet-50 2.6 times as fast as float32, and
#   about twice as fast in this page's short measurement on another. The library's default leaves it off
#   on a CPU, for float32 arithmetic. Measure it as `python benchmarks/precision.py` does: a few steps on a
#   busy machine can show the opposite.
# - The library trains the paper's recipe on any number of GPUs with one command under `torchrun`, and
#   resumes it from `last.pt`.
# - Measure before buying: the throughput printed above, times the epochs, gives the device-hours. On a CPU a
#   full ImageNet run is out of reach, which is why this book's ImageNet experiments run on ten classes at
#   low resolution unless a GPU is at hand.
#
# ## Exercises
#
# 1. Train `imagenette-resnet18` with `torchrun --standalone --nproc_per_node=2 -m resnet_lib imagenette-resnet18
#    --subset 256 --epochs 2` on a CPU (two processes, the gloo backend) and then with one process. Compare
#    the images per second and the final training loss. Why is the loss not identical?
#
#    :::{admonition} Hint
#    :class: dropdown
#    Each process sees half of every global batch, and BatchNorm computes its statistics per process (no
#    `sync_bn` on a CPU): a batch of 64 normalises with statistics of 32 images.
#    :::
# 2. Interrupt a run with Ctrl-C after its first epoch and resume it with `--resume DIR/last.pt`. Compare
#    the history with that of a run that was not interrupted. Which numbers must be identical, and which
#    (the wall time, the images per second) need not be?
#
#    :::{admonition} Hint
#    :class: dropdown
#    The checkpoint holds the weights, the optimizer's momentum, the schedule, the random generators and
#    the history, so on the same machine and thread count the losses and accuracies continue bit for bit;
#    the clock does not.
#    :::
# 3. The paper's scale augmentation resizes the shorter side to a random length in [256, 480] and takes a
#    random $224 \times 224$ crop. Write it with torchvision's `v2.RandomShortestSize` and `v2.RandomCrop`,
#    and compare, on a few Imagenette images, the share of the image a crop covers with
#    `v2.RandomResizedCrop(224)`'s 8% to 100%.
#
#    :::{admonition} Hint
#    :class: dropdown
#    A $224 \times 224$ crop of an image whose shorter side is 256 to 480 covers $(224/256)^2 \approx 77\%$
#    down to $(224/480)^2 \approx 22\%$ of a square image: milder than random-resized crops.
#    :::
# 4. Evaluate the Imagenette network with the mirror image only (two crops: the centre crop and its flip,
#    their softmax averaged). How much of the ten-crop gain does the flip alone give?
#
#    :::{admonition} Hint
#    :class: dropdown
#    `evaluate` does it for you: `evaluate(model, center_loader, device=DEVICE, flip=True)` scores each
#    centre crop and its mirror image and averages the two softmaxes. Compare its top-1 with the centre
#    crop's and the ten crops' printed above, on the same images.
#    :::
# 5. From the throughput you measured, how many GPU-hours would the paper's 600,000 iterations of 256
#    take, and how many the 90 epochs of the library's recipe? How many GPUs would finish either overnight?
#
#    :::{admonition} Hint
#    :class: dropdown
#    At $T$ images per second, the paper's run is $600{,}000 \times 256 / T$ seconds and the recipe's
#    $90 \times 1{,}281{,}167 / T$ seconds of one GPU, the `device_hours` of the cost cell. To finish
#    overnight, in about 12 hours, divide the GPU-hours by 12 for the number of GPUs: a lower bound, which
#    assumes perfect scaling and a data pipeline that keeps up. On many GPUs the recipe's 256 images leave
#    each GPU a small batch, hence the larger batch and learning rate of Goyal et al. (above).
#    :::
