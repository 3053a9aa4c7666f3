"""The training loop: it learns, resumes bit for bit, schedules the learning rate at the right iterations,
stops on a non-finite loss, and its checkpoints fail loudly without harming anything."""

import dataclasses
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_lib import models, plots
from resnet_lib.checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint
from resnet_lib.data import CIFAR10_MEAN, CIFAR10_STD, CifarLoader, load_cifar10
from resnet_lib.train import History, TrainConfig, TrainingError, evaluate, fit, make_scheduler, param_groups


@pytest.fixture(scope="module")
def cifar(data_dir):
    return load_cifar10("train", root=data_dir)


def normalised(images: torch.Tensor) -> torch.Tensor:
    mean, std = torch.tensor(CIFAR10_MEAN).view(3, 1, 1), torch.tensor(CIFAR10_STD).view(3, 1, 1)
    return (images.float() / 255 - mean) / std


class Batches:
    """A fixed list of batches as a loader: `set_epoch` is honoured; the batch at (epoch, index) `poison`
    has NaN images, and the one at `interrupt` raises KeyboardInterrupt (Ctrl-C)."""

    def __init__(self, batches, poison=None, interrupt=None):
        self.batches, self.poison, self.interrupt, self.epoch = batches, poison, interrupt, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for i, (x, y) in enumerate(self.batches):
            if (self.epoch, i) == self.interrupt:
                raise KeyboardInterrupt
            yield (torch.full_like(x, float("nan")) if (self.epoch, i) == self.poison else x), y


@pytest.fixture(scope="module")
def batches(cifar):
    """Three real batches of 32 images (the first 96 of the training split, all ten classes)."""
    return list(CifarLoader(cifar, 32, train=False, subset=96))


def quick(**kw) -> TrainConfig:
    kw = {"model": "cifar_resnet8", "epochs": 2, "lr": 0.05, "progress": False, **kw}
    return TrainConfig(**kw)


# ---------------------------------------------------------------------------------------------- learning

def test_loss_falls_on_a_fixed_real_batch(batches):
    torch.manual_seed(0)
    model = models.build("cifar_resnet8")
    history = fit(model, batches[:1], config=quick(epochs=15, lr=0.1))  # one batch of 32, 15 steps
    losses = history.series("train_loss")
    assert len(losses) == 15 and history[-1]["iteration"] == 15
    assert losses[0] > 2.0  # chance is ln 10 = 2.30
    assert all(b < a for a, b in zip(losses, losses[1:]))  # falls at every step
    assert losses[-1] < 0.4 * losses[0] and history[-1]["train_top1"] >= 0.75


def test_an_iteration_budget_ends_mid_epoch(batches):
    config = quick(epochs=None, iterations=4, milestones=(3,))  # 3 batches an epoch: 3 + 1 iterations
    history = fit(models.build("cifar_resnet8"), Batches(batches), config=config)
    assert [r["iteration"] for r in history] == [3, 4] and history.meta["total_iterations"] == 4
    assert [r["lr"] for r in history] == [0.05, pytest.approx(0.005, rel=1e-12)]  # lr of each epoch's last step


# ---------------------------------------------------------------------------------------------- resume

RESUME = """
import sys, torch
from resnet_lib.checkpoint import load_checkpoint
from resnet_lib.data import load_cifar10
from resnet_lib.models import build
from resnet_lib.train import TrainConfig, fit
sys.path.insert(0, sys.argv[3])
from test_train import resume_loaders
run, data = sys.argv[1], sys.argv[2]
config = TrainConfig.from_dict({**load_checkpoint(run + "/last.pt").config, "epochs": 2})  # the run's own config
torch.manual_seed(12345)  # a different model and random state: the checkpoint must restore everything
train, val = resume_loaders(load_cifar10("train", root=data))
fit(build(config.model, **config.model_kwargs), train, val, config, out_dir=run, resume=True)
"""


def resume_loaders(cifar):
    """A plain DataLoader shuffling with torch's global generator (so resuming must restore it) and a
    CifarLoader for validation."""
    x, y = normalised(cifar.images[:96]), cifar.labels[:96]
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True)
    return train, CifarLoader(cifar, 50, train=False, subset=100)


def test_resume_in_a_fresh_process_is_bit_exact(cifar, data_dir, tmp_path):
    config = quick(epochs=2, warmup_iters=2, milestones=(4,), nesterov=True, no_decay_bn_bias=True,
                   label_smoothing=0.1)
    torch.manual_seed(0)
    straight = models.build("cifar_resnet8")
    fit(straight, *resume_loaders(cifar), config, out_dir=tmp_path / "straight")

    torch.manual_seed(0)
    fit(models.build("cifar_resnet8"), *resume_loaders(cifar), dataclasses.replace(config, epochs=1),
        out_dir=tmp_path / "split")
    subprocess.run([sys.executable, "-c", RESUME, str(tmp_path / "split"), str(data_dir), str(Path(__file__).parent)],
                   check=True, timeout=120)

    a, b = (load_checkpoint(tmp_path / run / "last.pt") for run in ("straight", "split"))
    assert (a.epoch, a.iteration) == (b.epoch, b.iteration) == (2, 6)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    momenta_a = [s["momentum_buffer"] for s in a.state["optimizer"]["state"].values()]
    momenta_b = [s["momentum_buffer"] for s in b.state["optimizer"]["state"].values()]
    assert len(momenta_a) == 23 and all(torch.equal(p, q) for p, q in zip(momenta_a, momenta_b))
    assert a.state["scheduler"]["last_epoch"] == b.state["scheduler"]["last_epoch"] == 6
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]
    assert [r["val_top1"] for r in a.history] == [r["val_top1"] for r in b.history]
    assert b.meta["resumed_from"] == {"file": "last.pt", "epoch": 1}
    assert [r["device"] for r in b.meta["resumes"]] == [b.meta["device"]]  # each resume says where it ran
    assert b.meta["first_device"] == a.meta["first_device"] == a.meta["device"]  # and the start is kept


def test_history_json_records_the_run(cifar, tmp_path):
    config = quick(epochs=2)
    train, val = CifarLoader(cifar, 32, train=True, subset=64), CifarLoader(cifar, 50, train=False, subset=100)
    history = fit(models.build("cifar_resnet8"), train, val, config, out_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "history.json", "last.pt"]
    text = (tmp_path / "history.json").read_text()
    saved = json.loads(text)
    assert saved == json.loads(history.to_json())
    meta, records = saved["meta"], saved["records"]
    assert meta["config"] == dataclasses.replace(config, batch_size=32).to_dict()
    assert meta["torch"] == str(torch.__version__) and meta["device"].startswith("CPU (")
    assert meta["data"] == cifar.source and meta["val_data"] == cifar.source
    assert meta["status"] == "finished" and meta["wall_seconds"] > 0 and meta["started"].endswith("+00:00")
    assert (meta["world_size"], meta["amp"], meta["iterations_per_epoch"], meta["total_iterations"]) == (1, "off", 2, 4)
    assert len(socket.gethostname()) < 3 or socket.gethostname() not in text
    assert [r["epoch"] for r in records] == [1, 2] and [r["iteration"] for r in records] == [2, 4]
    assert set(records[0]) == {"epoch", "iteration", "lr", "train_loss", "train_top1", "seconds", "images_per_s",
                               "val_loss", "val_top1", "val_top5", "eval_seconds"}
    assert records[0]["images_per_s"] == pytest.approx(64 / records[0]["seconds"])
    assert all(0 <= r[k] <= 1 for r in records for k in ("train_top1", "val_top1", "val_top5"))
    assert all(r["val_top1"] == round(r["val_top1"] * 100) / 100 for r in records)  # out of 100 images
    best = max(records, key=lambda r: r["val_top1"])  # the first of equals
    assert load_checkpoint(tmp_path / "best.pt").epoch == best["epoch"]


# ---------------------------------------------------------------------------------------------- schedule

def lrs(config: TrainConfig, total: int, group: int = 0) -> list[float]:
    """The lr of each iteration 0..total as the loop sees it: a real optimizer stepped by the scheduler."""
    model = models.build("cifar_resnet8")
    opt = torch.optim.SGD(param_groups(model, config), lr=config.lr, momentum=0.9)
    sched = make_scheduler(opt, config, total)
    out = []
    for _ in range(total + 1):
        out.append(opt.param_groups[group]["lr"])
        opt.step()
        sched.step()
    return out


def test_step_schedule_with_the_papers_constant_warmup():
    config = TrainConfig(iterations=30, lr=0.1, milestones=(10, 20), warmup_iters=3)  # warmup_lr: lr / 10
    lr = lrs(config, 30)
    assert lr[:3] == pytest.approx([0.01] * 3, rel=1e-12)
    assert lr[3] == lr[9] == 0.1
    assert lr[10] == pytest.approx(0.01, rel=1e-12) and lr[19] == lr[10]
    assert lr[20] == pytest.approx(0.001, rel=1e-12) and lr[30] == lr[20]


def test_linear_warmup_cosine_end_and_constant():
    lr = lrs(TrainConfig(iterations=100, lr=0.1, warmup="linear", warmup_iters=4, warmup_lr=0.02,
                         schedule="cosine"), 100)
    assert lr[:5] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1], rel=1e-12)
    assert lr[52] == pytest.approx(0.05, rel=1e-12)  # halfway through the 96 cosine iterations
    assert lr[100] == 0.0
    assert lrs(TrainConfig(iterations=8, lr=0.2, schedule="constant"), 8) == [0.2] * 9


def test_linear_decay_after_warmup_reaches_zero_at_the_end():
    lr = lrs(TrainConfig(iterations=12, lr=0.4, warmup="linear", warmup_iters=2, warmup_lr=0.0,
                         schedule="linear"), 12)
    assert lr == pytest.approx([0.0, 0.2, 0.4, 0.36, 0.32, 0.28, 0.24, 0.2, 0.16, 0.12, 0.08, 0.04, 0.0],
                               rel=1e-12, abs=1e-15)


def test_backbone_lr_mult_follows_the_schedule():
    config = TrainConfig(iterations=4, lr=0.1, milestones=(2,), backbone_lr_mult=0.1)
    assert lrs(config, 4, group=0) == pytest.approx([0.01, 0.01, 0.001, 0.001, 0.001], rel=1e-12)  # backbone
    assert lrs(config, 4, group=1) == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.01], rel=1e-12)  # fc


def test_no_decay_groups_hold_exactly_the_bn_and_bias_parameters():
    model = models.build("cifar_resnet8")
    names = {id(p): n for n, p in model.named_parameters()}
    groups = {g["name"]: g for g in param_groups(model, TrainConfig(epochs=1, no_decay_bn_bias=True,
                                                                    backbone_lr_mult=0.5))}
    assert list(groups) == ["backbone", "backbone_no_decay", "head", "head_no_decay"]
    group_names = {k: sorted(names[id(p)] for p in g["params"]) for k, g in groups.items()}
    bn = sorted(n for n, _ in model.named_parameters() if ".bn" in f".{n}")
    assert len(bn) == 14  # 7 BatchNorm layers in ResNet-8, a weight and a bias each
    assert group_names["backbone_no_decay"] == bn
    assert group_names["head_no_decay"] == ["fc.bias"] and group_names["head"] == ["fc.weight"]
    assert group_names["backbone"] == sorted(n for n, _ in model.named_parameters() if ".conv" in f".{n}")
    assert [g["weight_decay"] for g in groups.values()] == [1e-4, 0.0, 1e-4, 0.0]
    assert [g["lr"] for g in groups.values()] == [0.05, 0.05, 0.1, 0.1]
    default = param_groups(model, TrainConfig(epochs=1))
    assert len(default) == 1 and len(default[0]["params"]) == len(names) == 23


def test_config_round_trip_and_errors():
    config = TrainConfig(model="cifar_resnet20", iterations=64_000, milestones=[32_000, 48_000])
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="exactly one of epochs or iterations"):
        TrainConfig()
    with pytest.raises(ValueError, match="schedule must be one of step, cosine, linear, constant, got 'poly'"):
        TrainConfig(epochs=1, schedule="poly")
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        TrainConfig.from_dict({"epochs": 1, "learning_rate": 0.1})


def test_loader_batch_size_must_match_the_config(cifar):
    with pytest.raises(ValueError, match=r"gives batches of 32 per process x 1 process\(es\), but config.batch_size "
                                         r"is 64: build the loader with batch_size=64"):
        fit(models.build("cifar_resnet8"), CifarLoader(cifar, 32, train=True, subset=64), config=quick(batch_size=64))


# ---------------------------------------------------------------------------------------------- failures

def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(batches, tmp_path):
    with pytest.raises(TrainingError, match=r"became nan at iteration 5 \(epoch 2\).*last.pt keeps epoch 1") as e:
        fit(models.build("cifar_resnet8"), Batches(batches, poison=(1, 1)), config=quick(epochs=3), out_dir=tmp_path)
    assert e.value.iteration == 5
    kept = load_checkpoint(tmp_path / "last.pt")
    assert (kept.epoch, kept.iteration) == (1, 3)
    assert all(torch.isfinite(t).all() for t in kept.model.state_dict().values())
    assert History.load(tmp_path / "history.json").meta["status"].startswith("failed: the loss became nan")


def test_ctrl_c_keeps_the_last_epoch_and_resume_finishes(batches, tmp_path):
    model = models.build("cifar_resnet8")
    with pytest.raises(KeyboardInterrupt) as e:
        fit(model, Batches(batches, interrupt=(1, 2)), config=quick(epochs=2), out_dir=tmp_path)
    assert str(e.value) == (f"interrupted in epoch 2: {tmp_path / 'last.pt'} holds epoch 1; fit(..., resume=True) "
                            f"continues from it")
    assert load_checkpoint(tmp_path / "last.pt").epoch == 1
    assert History.load(tmp_path / "history.json").meta["status"] == "interrupted in epoch 2"
    history = fit(models.build("cifar_resnet8"), Batches(batches), config=quick(epochs=2), out_dir=tmp_path,
                  resume=True)
    assert [r["iteration"] for r in history] == [3, 6] and history.meta["status"] == "finished"


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    model = models.build("cifar_resnet8")
    path = save_checkpoint(tmp_path / "run" / "last.pt", model, epoch=3, iteration=30,
                           config=TrainConfig(model="cifar_resnet8", epochs=5))
    return model, path


def test_checkpoint_round_trip_builds_the_model_from_its_config(saved):
    model, path = saved
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt.model, models.CifarResNet) and ckpt.model.depth == 8
    assert (ckpt.epoch, ckpt.iteration, ckpt.config["epochs"]) == (3, 30, 5)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ckpt.model.state_dict().values()))
    fresh = load_weights(models.build("cifar_resnet8"), path)
    assert torch.equal(fresh.fc.weight, model.fc.weight)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left beside it


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*nowhere\.pt"):
        load_checkpoint(tmp_path / "nowhere.pt")


def test_truncated_checkpoint_is_named_and_left_alone(saved):
    model, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    target = models.build("cifar_resnet8")
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"last\.pt is not a checkpoint \(truncated or corrupt, or not a torch "
                                              r"file\)$"):
        load_weights(target, path)
    assert path.read_bytes() == data[: len(data) // 2]
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_other_architecture_names_the_first_mismatching_key(saved):
    _, path = saved
    target = models.build("cifar_resnet8", num_classes=37)
    before = target.fc.weight.clone()
    with pytest.raises(CheckpointError, match=r"last\.pt does not fit this model \(it was saved from 'cifar_resnet8'"
                       r" with \{\}\): key 'fc\.weight' has shape \(10, 64\) in the file but \(37, 64\) in the model"):
        load_checkpoint(path, target)
    assert torch.equal(target.fc.weight, before)
    with pytest.raises(CheckpointError, match=r"key 'layer1\.1\.conv1\.weight' of the model is not in the file"):
        load_weights(models.build("cifar_resnet14"), path)


def test_resuming_another_architecture_changes_nothing(saved, batches):
    _, path = saved
    history = path.parent / "history.json"
    history.write_text("{}")
    before = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(CheckpointError,
                       match=r"is a checkpoint of 'cifar_resnet8', but config.model is 'cifar_resnet14'"):
        fit(models.build("cifar_resnet14"), Batches(batches), config=quick(model="cifar_resnet14"),
            out_dir=path.parent, resume=True)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before and history.read_text() == "{}"


# ---------------------------------------------------------------------------------------------- evaluate

def test_evaluate_on_a_hand_made_example():
    # 7 classes. Sample 0: right. Sample 1: the true class is second (top-5 only). Sample 2: the true class
    # is ranked last (neither). Sample 3: right.
    logits = torch.tensor([[9., 1, 2, 3, 4, 5, 6],
                           [0., 5, 1, 6, 2, 3, 4],
                           [6., 5, 0, 4, 3, 2, 1],
                           [0., 1, 2, 8, 3, 4, 5]])
    labels = torch.tensor([0, 1, 2, 3])
    loader = [(logits[:2], labels[:2]), (logits[2:], labels[2:])]
    r = evaluate(nn.Identity(), loader)
    assert (r["top1"], r["top5"], r["count"]) == (0.5, 0.75, 4)
    assert r["loss"] == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)
    expected = torch.zeros(7, 7, dtype=torch.int64)
    expected[0, 0] = expected[1, 3] = expected[2, 0] = expected[3, 3] = 1
    assert torch.equal(r["confusion"], expected)
    assert r["per_class"][:4].tolist() == [1.0, 0.0, 0.0, 1.0] and r["per_class"][4:].isnan().all()
    assert "top5" not in evaluate(nn.Identity(), [(logits[:, :5], labels)])  # top-5 of 5 classes says nothing
    with pytest.raises(ValueError, match="labels must lie in 0..6"):
        evaluate(nn.Identity(), [(logits, labels + 4)])


def test_ten_crop_averages_the_softmax_over_crops():
    # Sample 0 (label 0): nine crops mildly for class 0, one crop strongly for class 2. The mean softmax picks
    # class 0; the mean logit would pick class 2. Sample 1 (label 1): every crop for class 1.
    crops = torch.zeros(2, 10, 3)
    crops[0, :9, 0] = 1.0
    crops[0, 9, 2] = 10.0
    crops[1, :, 1] = 5.0
    assert crops[0].mean(0).argmax() == 2
    x, y = crops[..., None, None], torch.tensor([0, 1])  # B x crops x C x 1 x 1 "images"
    r = evaluate(nn.Flatten(), [(x, y)], ten_crop=True)
    assert r["top1"] == 1.0 and "top5" not in r
    probs = crops.softmax(-1).mean(1)
    assert r["loss"] == pytest.approx(-(probs[0, 0].log() + probs[1, 1].log()).item() / 2, rel=1e-6)
    assert torch.equal(r["confusion"], torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match=r"pass ten_crop=True"):
        evaluate(nn.Flatten(), [(x, y)])
    with pytest.raises(ValueError, match=r"ten_crop=True needs batches of shape \(B, crops, C, H, W\)"):
        evaluate(nn.Flatten(), [(x[:, 0], y)], ten_crop=True)



def test_flip_averages_the_softmax_of_each_image_and_its_mirror():
    # A "network" that reads the left column of a 2-pixel-wide image as three logits: the mirror shows it the
    # right column. Image 0 (label 0): left column class 0 by 4, right column class 2 by 3, so the flipped
    # view alone says 2 and the average of the two softmaxes says 0 (0.505 against 0.464).
    left = lambda x: x[..., 0].flatten(1)  # noqa: E731
    x = torch.zeros(2, 3, 1, 2)
    x[0, 0, 0, 0] = 4.0    # image 0, left column: class 0 by 4
    x[0, 2, 0, 1] = 3.0    # image 0, right column: class 2 by 3
    x[1, 1, 0, :] = 4.0    # image 1: class 1 in both columns
    y = torch.tensor([0, 1])

    class LeftColumn(nn.Module):
        def forward(self, images):
            return left(images)

    r = evaluate(LeftColumn(), [(x, y)], flip=True)
    probs = (left(x).softmax(-1) + left(x.flip(-1)).softmax(-1)) / 2
    assert probs.argmax(1).tolist() == [0, 1] and left(x.flip(-1)).argmax(1).tolist() == [2, 1]
    assert probs[0].tolist() == pytest.approx([0.50497, 0.03147, 0.46356], abs=1e-5)
    assert r["top1"] == 1.0
    assert r["loss"] == pytest.approx(-(probs[0, 0].log() + probs[1, 1].log()).item() / 2, rel=1e-6)
    assert evaluate(LeftColumn(), [(x.flip(-1), y)])["top1"] == 0.5  # the mirror alone gets image 0 wrong


# ---------------------------------------------------------------------------------------------- plots

def test_plots_return_figures():
    run = [{"epoch": e, "iteration": 10 * e, "lr": 0.1, "train_loss": 2.0 / e, "train_top1": 0.1 * e,
            "val_loss": 2.1 / e, "val_top1": 0.09 * e} for e in (1, 2, 3)]
    fig = plots.plot_history([run, History(run[:2])], metrics=("loss", "error", "lr"), labels=["a", "b"],
                             x="iteration")
    loss_ax, error_ax, lr_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train a", "val a", "train b", "val b"]
    assert list(error_ax.lines[1].get_ydata()) == pytest.approx([91.0, 82.0, 73.0])
    assert list(loss_ax.lines[0].get_xdata()) == [10, 20, 30] and len(lr_ax.lines) == 2
    short = plots.plot_history(run[:2], metrics=("loss",)).axes[0]  # epochs 1 and 2: no tick at 1.5
    assert all(t == int(t) for t in short.get_xticks())
    ticks = loss_ax.xaxis.get_major_formatter()  # iterations: 16000 as "16k", in a narrow panel
    assert [ticks(v, 0) for v in (0, 250, 8000, 16000, 64000, 1500)] == ["0", "250", "8k", "16k", "64k", "1.5k"]
    assert lr_ax.lines[0].get_drawstyle() == "steps-pre" and loss_ax.lines[0].get_drawstyle() == "default"
    fig6 = plots.plot_error_curves({"plain": {"p20": run, "p56": History(run[:2])}, "ResNets": {"r20": run}})
    plain, resnets = fig6.axes
    assert [line.get_label() for line in plain.lines] == ["p20, training", "p20, validation", "p56, training",
                                                          "p56, validation"]
    assert [(line.get_linestyle(), line.get_linewidth()) for line in plain.lines[:2]] == [("--", 1.0), ("-", 2.2)]
    assert list(plain.lines[0].get_ydata()) == pytest.approx([90.0, 80.0, 70.0])  # training error, %
    assert list(plain.lines[3].get_xdata()) == [10, 20] and resnets.get_title() == "ResNets"
    assert len(plots.plot_confusion(torch.eye(3, dtype=torch.int64), ["a", "b", "c"]).axes) == 2  # + colorbar
    grid = plots.image_grid(torch.zeros(6, 3, 8, 8, dtype=torch.uint8), titles=list("abcdef"), ncols=4)
    assert len(grid.axes) == 8 and grid.axes[5].get_title() == "f"
    # evaluated once, after the last epoch: one dot, named; never evaluated: no line and no legend entry
    once = [{k: v for k, v in r.items() if not k.startswith("val_") or r["epoch"] == 3} for r in run]
    never = [{k: v for k, v in r.items() if not k.startswith("val_")} for r in run]
    fig = plots.plot_history([once, never], metrics=("loss", "error"), labels=["a", "b"], legend="outside",
                             val_name="test")
    loss_ax, error_ax = fig.axes
    assert [line.get_label() for line in error_ax.lines] == ["train a", "test a", "train b"]
    assert list(error_ax.lines[1].get_ydata()) == pytest.approx([73.0]) and error_ax.lines[1].get_marker() == "o"
    assert error_ax.lines[0].get_marker() in (None, "None", "")  # a curve of several points: no markers
    # x in hours of training: each epoch's seconds and evaluation seconds, summed up to its end
    timed = [{**r, "seconds": 1800.0, "eval_seconds": 1800.0 * (r["epoch"] == 2)} for r in run]
    hours_ax, = plots.plot_history(timed, metrics=("error",), x="hours").axes
    assert list(hours_ax.lines[0].get_xdata()) == [0.5, 1.5, 2.0] and hours_ax.get_xlabel() == "hours of training"
    fig6 = plots.plot_error_curves({"ResNets": {"r20": timed}}, x="hours")
    assert list(fig6.axes[0].lines[1].get_xdata()) == [0.5, 1.5, 2.0]
    assert loss_ax.get_legend() is None and error_ax.get_legend() is None  # one legend, outside the panels
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["train a", "test a", "train b"]
    with pytest.raises(ValueError, match="legend"):
        plots.plot_history(run, legend="above")
    with pytest.raises(ValueError, match="x must be one of 'epoch', 'iteration', 'hours', got 'minutes'"):
        plots.plot_error_curves({"ResNets": {"r20": run}}, x="minutes")


def test_channels_last_by_default_on_cuda_and_cpu_only():
    from resnet_lib.train import uses_channels_last
    default, off = TrainConfig(epochs=1), TrainConfig(epochs=1, channels_last=False)
    assert uses_channels_last(default, torch.device("cpu"))
    assert uses_channels_last(default, torch.device("cuda"))
    assert not uses_channels_last(default, torch.device("mps"))
    assert not uses_channels_last(off, torch.device("cuda"))
