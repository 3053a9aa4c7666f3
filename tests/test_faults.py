"""Faults and bad input: kill -9 at any moment, a checkpoint every N iterations that resumes inside an epoch,
damaged files, hidden folders, mistakes on the command line. Each test reproduces one gap that a
fault-injection pass found, and checks that it is closed."""

import json
import os
import random
import shutil
import signal
import stat
import time
import traceback
from pathlib import Path

import pytest
import torch
from torch import nn

from resnet_lib import checkpoint, data, models, train
from resnet_lib.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from resnet_lib.data import CifarLoader, ImageTensors, load_cifar10, make_loader
from resnet_lib.train import History, TrainConfig, TrainingError, fit
from test_cli import run as run_cli  # (exit status, stdout, stderr) of the command line
from test_data import _make_archive as make_archive  # a small made-up JPEG copy of CIFAR-10

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def cifar(data_dir):
    return load_cifar10("train", root=data_dir)


def states_equal(a: nn.Module | dict, b: nn.Module | dict) -> bool:
    a, b = (m.state_dict() if isinstance(m, nn.Module) else m for m in (a, b))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def interrupt_at(model: nn.Module, step: int) -> nn.Module:
    """Make the `step`-th training forward pass (from 1) of `model` raise KeyboardInterrupt, as Ctrl-C would."""
    calls = [0]

    def hook(module, args):
        if module.training:
            calls[0] += 1
            if calls[0] == step:
                raise KeyboardInterrupt
    model.register_forward_pre_hook(hook)
    return model



# ---------------------------------------------------------------------------------------------- a checkpoint
# every N iterations, resumed inside an epoch


def numbers(history) -> list[dict]:
    """The records of a history without their timings."""
    return [{k: v for k, v in r.items() if "seconds" not in k and k != "images_per_s"} for r in history]


def test_checkpoint_every_resumes_inside_an_epoch_exactly(cifar, tmp_path):
    config = TrainConfig(model="cifar_resnet8", iterations=10, lr=0.05, checkpoint_every=3, progress=False)
    loaders = lambda: (CifarLoader(cifar, 16, train=True, subset=64), CifarLoader(cifar, 50, train=False, subset=50))
    torch.manual_seed(0)
    straight = fit(models.build("cifar_resnet8"), *loaders(), config, out_dir=tmp_path / "straight")

    torch.manual_seed(0)  # 4 batches an epoch: the 7th step is batch 3 of epoch 2, after the checkpoint at 6
    with pytest.raises(KeyboardInterrupt) as e:
        fit(interrupt_at(models.build("cifar_resnet8"), 7), *loaders(), config, out_dir=tmp_path / "split")
    assert str(e.value) == (f"interrupted in epoch 2: {tmp_path / 'split' / 'last.pt'} holds iteration 6 (batch 2 "
                            f"of epoch 2); fit(..., resume=True) continues from it")
    kept = load_checkpoint(tmp_path / "split" / "last.pt")
    assert (kept.epoch, kept.iteration, kept.mid_epoch["batch"], len(kept.history)) == (1, 6, 2, 1)

    torch.manual_seed(99)  # another model and random state: the checkpoint restores everything
    resumed = fit(models.build("cifar_resnet8"), *loaders(), config, out_dir=tmp_path / "split", resume=True)
    a, b = (load_checkpoint(tmp_path / run / "last.pt") for run in ("straight", "split"))
    assert states_equal(a.model, b.model) and (b.epoch, b.iteration, b.mid_epoch) == (3, 10, None)
    assert numbers(resumed) == numbers(straight)  # the epoch's loss and accuracy too, summed across the resume
    assert resumed.meta["resumes"][0]["iteration"] == 6


class GlobalRandom(torch.utils.data.Dataset):
    """Images with noise from torch's global generator: a data set that the library's loaders do not know."""

    def __init__(self, cifar):
        self.x, self.y = cifar.images[:48].float() / 255, cifar.labels[:48]

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i] + 0.1 * torch.randn(self.x[i].shape), self.y[i]


def test_any_loader_replays_its_first_batches_when_resumed_inside_an_epoch(cifar, tmp_path):
    config = TrainConfig(model="cifar_resnet8", epochs=2, lr=0.05, checkpoint_every=2, progress=False)
    loader = lambda: torch.utils.data.DataLoader(GlobalRandom(cifar), batch_size=16, shuffle=True)  # torch's
    torch.manual_seed(0)  # generator draws the order and the noise
    straight = fit(models.build("cifar_resnet8"), loader(), config=config, out_dir=tmp_path / "straight")
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):  # 3 batches an epoch: step 6 is the last of epoch 2, after the
        fit(interrupt_at(models.build("cifar_resnet8"), 6), loader(), config=config, out_dir=tmp_path / "split")
    assert load_checkpoint(tmp_path / "split" / "last.pt").mid_epoch["batch"] == 1  # checkpoint at step 4
    resumed = fit(models.build("cifar_resnet8"), loader(), config=config, out_dir=tmp_path / "split", resume=True)
    assert states_equal(*(load_checkpoint(tmp_path / run / "last.pt").model for run in ("straight", "split")))
    assert numbers(resumed) == numbers(straight)


def test_a_checkpoint_inside_an_epoch_resumes_on_as_many_processes(cifar, tmp_path):
    config = TrainConfig(model="cifar_resnet8", iterations=4, lr=0.05, checkpoint_every=1, progress=False)
    with pytest.raises(KeyboardInterrupt):
        fit(interrupt_at(models.build("cifar_resnet8"), 2), CifarLoader(cifar, 16, train=True, subset=64),
            config=config, out_dir=tmp_path)
    ckpt = torch.load(tmp_path / "last.pt", weights_only=True)
    ckpt["mid_epoch"]["world_size"] = 2
    torch.save(ckpt, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match=r"last\.pt was written inside an epoch by 2 process\(es\): resume it "
                                              r"with as many \(this run has 1\)$"):
        fit(models.build("cifar_resnet8"), CifarLoader(cifar, 16, train=True, subset=64), config=config,
            out_dir=tmp_path, resume=True)


def test_checkpoint_every_on_the_command_line(capsys, data_dir, tmp_path):
    code, _, err = run_cli(capsys, "cifar10-resnet20", "--data", data_dir, "--subset", "64", "--batch-size", "32",
                           "--iterations", "3", "--checkpoint-every", "1", "--out", tmp_path / "run")
    assert (code, err) == (0, "")
    assert load_checkpoint(tmp_path / "run" / "last.pt").config["checkpoint_every"] == 1
    code, _, err = run_cli(capsys, "cifar10-resnet20", "--checkpoint-every", "0")
    assert (code, err) == (2, "resnet-train: error: argument --checkpoint-every: expected a positive int, got '0' "
                              "(see resnet-train --help)\n")


# ---------------------------------------------------------------------------------------------- 1. workers


@pytest.fixture(scope="module")
def images(data_dir):
    """16 real Imagenette images through a random crop and flip, as tensors of 32 x 32."""
    folder = data.imagenette("train", root=data_dir, size=32)
    return torch.utils.data.Subset(folder, range(0, len(folder), len(folder) // 16))


def epoch_batches(loader, epoch: int, start: int = 0) -> list[torch.Tensor]:
    loader.set_epoch(epoch)
    if start:
        loader.start_at(start)
    return [x for x, _ in loader]


def test_with_workers_an_images_augmentation_depends_on_the_epoch_alone(images):
    """A worker's generator carried on from the images it made before: a loader made anew (a resume) gave
    other crops in the same epoch."""
    first = make_loader(images, 4, train=True, workers=2, seed=7)
    epoch_batches(first, 0)
    after_epoch_0 = epoch_batches(first, 1)
    fresh = make_loader(images, 4, train=True, workers=2, seed=7)
    assert all(torch.equal(a, b) for a, b in zip(after_epoch_0, epoch_batches(fresh, 1), strict=True))
    one_worker = make_loader(images, 4, train=True, workers=1, seed=7)
    assert all(torch.equal(a, b) for a, b in zip(after_epoch_0, epoch_batches(one_worker, 1), strict=True))
    from_batch_2 = make_loader(images, 4, train=True, workers=2, seed=7)
    assert all(torch.equal(a, b) for a, b in zip(after_epoch_0[2:], epoch_batches(from_batch_2, 1, start=2),
                                                  strict=True))
    assert len(epoch_batches(from_batch_2, 1)) == 4  # start_at holds for one pass
    assert not torch.equal(epoch_batches(fresh, 2)[0], after_epoch_0[0])


def test_fit_with_workers_resumes_exactly(images, tmp_path):
    config = TrainConfig(model="cifar_resnet8", epochs=2, lr=0.05, checkpoint_every=3, progress=False)
    loader = lambda: make_loader(images, 4, train=True, workers=2, seed=config.seed)
    torch.manual_seed(0)
    straight = fit(models.build("cifar_resnet8"), loader(), config=config, out_dir=tmp_path / "straight")
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):  # epoch-end checkpoint at step 4, another at 6; stopped in step 7
        fit(interrupt_at(models.build("cifar_resnet8"), 7), loader(), config=config, out_dir=tmp_path / "split")
    resumed = fit(models.build("cifar_resnet8"), loader(), config=config, out_dir=tmp_path / "split", resume=True)
    assert states_equal(*(load_checkpoint(tmp_path / run / "last.pt").model for run in ("straight", "split")))
    assert numbers(resumed) == numbers(straight)


# ---------------------------------------------------------------------------------------------- 2. best.pt


def scripted_evaluate(top1s):
    """An `evaluate` that returns these validation top-1 scores, one a call."""
    scores = iter(top1s)
    return lambda *args, **kwargs: {"loss": 1.0, "top1": next(scores)}


def test_best_pt_catches_up_after_a_kill_between_last_pt_and_best_pt(cifar, tmp_path, monkeypatch):
    monkeypatch.setattr(train, "evaluate", scripted_evaluate([0.5, 0.7]))
    real_replace, best_writes = os.replace, []

    def killed_at_the_second_best_pt(src, dst):
        if Path(dst).name == "best.pt":
            best_writes.append(dst)
            if len(best_writes) == 2:
                raise KeyboardInterrupt  # epoch 2's last.pt is written, its best.pt is not
        real_replace(src, dst)
    monkeypatch.setattr(os, "replace", killed_at_the_second_best_pt)
    config = TrainConfig(model="cifar_resnet8", epochs=2, lr=0.05, progress=False)
    loader = lambda: CifarLoader(cifar, 16, train=True, subset=32)
    with pytest.raises(KeyboardInterrupt):
        fit(models.build("cifar_resnet8"), loader(), [()], config, out_dir=tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)
    assert (load_checkpoint(tmp_path / "last.pt").epoch, load_checkpoint(tmp_path / "best.pt").epoch) == (2, 1)

    history = fit(models.build("cifar_resnet8"), loader(), [()], config, out_dir=tmp_path, resume=True)
    assert history.series("val_top1") == [0.5, 0.7]
    assert load_checkpoint(tmp_path / "best.pt").epoch == 2


# ---------------------------------------------------------------------------------------------- 3. nan


def test_a_non_finite_validation_loss_stops_the_run(cifar, tmp_path):
    torch.manual_seed(0)
    config = TrainConfig(model="cifar_resnet8", iterations=2, lr=1e6, progress=False)  # --lr 1e6
    with pytest.raises(TrainingError, match=r"^the validation loss became nan after epoch 1 \(iteration 2\); "
                                            r"training stopped, no checkpoint of this run was written\. Try a "
                                            r"lower lr, a warm-up \(warmup_iters\) or amp='off'$"):
        fit(models.build("cifar_resnet8"), CifarLoader(cifar, 32, train=True, subset=64),
            CifarLoader(cifar, 32, train=False, subset=64), config, out_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json"]
    assert History.load(tmp_path / "history.json").meta["status"].startswith("failed: the validation loss")


# ---------------------------------------------------------------------------------------------- 4. damaged data


PER_CLASS = {"train": 2, "test": 1}  # images a class in the small JPEG copy


@pytest.fixture
def small_jpeg_copy(monkeypatch, tmp_path):
    """A JPEG copy of 2 training and 1 test image a class in tmp_path/root, and an empty cache."""
    monkeypatch.setattr(data, "_JPEG_COUNTS", PER_CLASS)
    monkeypatch.setattr(data, "VAL_PER_CLASS", 1)
    monkeypatch.setenv("RESNET_CACHE", str(tmp_path / "cache"))
    (tmp_path / "root").mkdir()
    return make_archive(tmp_path / "root" / "cifar10-jpeg.tar.gz", PER_CLASS)


@pytest.mark.parametrize("damage", ["random bytes", "cut in half"])
def test_a_damaged_archive_is_named_in_one_line(small_jpeg_copy, damage):
    whole = small_jpeg_copy.read_bytes()
    small_jpeg_copy.write_bytes(os.urandom(2000) if damage == "random bytes" else whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=rf"^{small_jpeg_copy} is not a readable tar\.gz archive \(truncated or "
                                         rf"corrupt: .*\): replace it with a complete copy$") as e:
        load_cifar10("test", root=small_jpeg_copy.parent)
    assert "\n" not in str(e.value)


def test_an_unreadable_image_in_the_archive_is_named(small_jpeg_copy):
    make_archive(small_jpeg_copy, PER_CLASS, broken="cifar10-jpeg/train/cat/0001.jpg")
    with pytest.raises(ValueError) as e:
        load_cifar10("test", root=small_jpeg_copy.parent)
    assert str(e.value) == (f"{small_jpeg_copy} holds cifar10-jpeg/train/cat/0001.jpg, which is not a readable JPEG "
                            f"image: replace it with a complete copy")


def test_a_truncated_cache_is_decoded_again(small_jpeg_copy, tmp_path):
    first = load_cifar10("test", root=small_jpeg_copy.parent).images.clone()  # not the file's memory map, which
    (cached,) = (tmp_path / "cache").glob("cifar10-jpeg-*.pt")                  # the cut below would unmap
    cached.write_bytes(cached.read_bytes()[:1000])  # what a crash left before the cache was written atomically
    with pytest.warns(UserWarning, match=rf"^deleted {cached}, a decoded copy of CIFAR-10 that is unreadable "
                                         rf"\(truncated or corrupt\); decoding the images again$"):
        again = load_cifar10("test", root=small_jpeg_copy.parent)
    assert torch.equal(again.images, first) and len(cached.read_bytes()) > 1000


def test_the_cache_is_on_the_disk_before_it_is_renamed(small_jpeg_copy, monkeypatch):
    events, real_fsync, real_replace = [], os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda src, dst: (events.append(Path(dst).name), real_replace(src, dst))[1])
    load_cifar10("test", root=small_jpeg_copy.parent)
    assert len(events) == 3 and events[0] == "fsync" and events[1].startswith("cifar10-jpeg-")
    assert events[2] == "fsync"  # the folder, so that the rename itself is on the disk


# ---------------------------------------------------------------------------------------------- 5, 6. out_dir


class Counted:
    """A loader that counts the batches it gave."""

    def __init__(self, batches):
        self.batches, self.given = batches, 0

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for b in self.batches:
            self.given += 1
            yield b


def test_out_dir_that_is_a_file_fails_before_training(cifar, tmp_path, capsys):
    (tmp_path / "taken").write_text("a file")
    loader = Counted(list(CifarLoader(cifar, 16, train=True, subset=32)))
    with pytest.raises(ValueError, match=r"^out_dir .*taken is a file, not a folder: choose another out_dir$"):
        fit(models.build("cifar_resnet8"), loader, config=TrainConfig(epochs=1, progress=False),
            out_dir=tmp_path / "taken")
    assert loader.given == 0
    code, out, err = run_cli(capsys, "cifar10-resnet20", "--out", tmp_path / "taken")
    assert (code, out, err) == (2, "", f"resnet-train: error: --out {tmp_path / 'taken'} is a file, not a folder: "
                                       f"choose another --out\n")


def test_what_a_killed_write_left_is_deleted(cifar, tmp_path):
    left = [tmp_path / ".last.pt.8c1f0e2a.tmp", tmp_path / ".best.pt.0a9d77e1.tmp",
            tmp_path / ".history.json.5b2c3d4e.tmp", tmp_path / ".last.pt.3kq_x9vb.tmp"]  # the last: mkstemp's
    for p in left:
        p.write_bytes(b"half a file")
    (tmp_path / "notes.tmp").write_text("not ours")
    fit(models.build("cifar_resnet8"), CifarLoader(cifar, 16, train=True, subset=32),
        config=TrainConfig(epochs=1, progress=False), out_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "last.pt", "notes.tmp"]


# ---------------------------------------------------------------------------------------------- 7. checkpoints


def test_an_unreadable_checkpoint_is_named_for_what_it_is(tmp_path):
    torch.save({"model": {"w": torch.ones(1)}, "where": Path("/runs")}, tmp_path / "pickled.pt")
    torch.save({"w": torch.ones(1)}, tmp_path / "whole.pt")
    (tmp_path / "random.pt").write_bytes(random.Random(0).randbytes(1000))
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "half.pt").write_bytes((tmp_path / "whole.pt").read_bytes()[:300])
    (tmp_path / "text.pt").write_text("hello\n")
    blocked = type(Path("/runs")).__module__ + "." + type(Path("/runs")).__name__  # pathlib.PosixPath
    with pytest.raises(CheckpointError) as e:
        checkpoint.read(tmp_path / "pickled.pt")
    assert str(e.value) == (f"{tmp_path / 'pickled.pt'} holds a {blocked} object, which a weights-only load does not "
                            f"build: it is not a checkpoint or state dict of tensors")
    for name in ("random.pt", "empty.pt", "half.pt", "text.pt"):
        with pytest.raises(CheckpointError) as e:
            checkpoint.read(tmp_path / name)
        assert str(e.value) == f"{tmp_path / name} is not a checkpoint (truncated or corrupt, or not a torch file)"


# ---------------------------------------------------------------------------------------------- 8. images


def photos(data_dir):
    """Real photos (JPEG files of Imagenette)."""
    return iter(sorted((data_dir / "imagenette2-160" / "train").glob("*/*.JPEG")))


def test_a_corrupt_image_read_by_a_worker_is_named(data_dir, tmp_path):
    files = photos(data_dir)
    for cls in ("cat", "dog"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for i in range(2):
            shutil.copy(next(files), tmp_path / "train" / cls / f"{i}.jpg")
    broken = tmp_path / "train" / "dog" / "1.jpg"
    broken.write_bytes(broken.read_bytes()[:200])  # cut short: PIL cannot identify it
    loader = make_loader(data.image_folder(tmp_path, "train", size=32), 2, train=False, workers=2)
    with pytest.raises(data.UnreadableImageError) as e:
        list(loader)
    assert str(e.value) == f"{broken} is not a readable image (truncated or corrupt?): delete or replace it"


# ---------------------------------------------------------------------------------------------- 9. permissions


def test_files_get_the_umasks_permissions(small_jpeg_copy, cifar, tmp_path):
    old = os.umask(0o022)
    try:
        fit(models.build("cifar_resnet8"), CifarLoader(cifar, 16, train=True, subset=32),
            CifarLoader(cifar, 32, train=False, subset=32), TrainConfig(epochs=1, progress=False),
            out_dir=tmp_path / "run")
        load_cifar10("test", root=small_jpeg_copy.parent)
    finally:
        os.umask(old)
    (cached,) = (tmp_path / "cache").iterdir()
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in [*(tmp_path / "run").iterdir(), cached]}
    assert modes == {"best.pt": "0o644", "history.json": "0o644", "last.pt": "0o644", cached.name: "0o644"}


# ---------------------------------------------------------------------------------------------- 10, 11. the CLI


def test_the_command_line_says_its_own_options(capsys, data_dir, tmp_path, monkeypatch):
    code, _, err = run_cli(capsys, "cifar10-resnet20", "--data", tmp_path, "--out", tmp_path / "run")
    assert code == 2 and "pass --download" in err and "download=True" not in err

    real_fit = train.fit

    def fit_stopped_by_ctrl_c(model, *args, **kwargs):
        return real_fit(interrupt_at(model, 3), *args, **kwargs)
    monkeypatch.setattr(train, "fit", fit_stopped_by_ctrl_c)
    code, _, err = run_cli(capsys, "cifar10-resnet20", "--data", data_dir, "--subset", "64", "--batch-size", "32",
                           "--iterations", "4", "--out", tmp_path / "run")
    last = tmp_path / "run" / "last.pt"
    assert (code, err) == (130, f"resnet-train: interrupted in epoch 2: {last} holds epoch 1; continue with "
                                f"--resume {last}\n")


def test_resuming_with_fewer_epochs_than_done_is_refused(capsys, data_dir, tmp_path):
    args = ["cifar10-resnet20", "--data", data_dir, "--subset", "64", "--batch-size", "32", "--out", tmp_path]
    assert run_cli(capsys, *args, "--epochs", "2")[0] == 0
    before = (tmp_path / "history.json").read_text()
    code, out, err = run_cli(capsys, *args, "--epochs", "1", "--resume", tmp_path / "last.pt")
    assert (code, err) == (2, f"resnet-train: error: {tmp_path / 'last.pt'} holds 2 epochs (4 iterations), more than "
                              f"this run's 1 (2 iterations): a resumed run must be at least as long as the run so "
                              f"far\n")
    assert (tmp_path / "history.json").read_text() == before


# ---------------------------------------------------------------------------------------------- 12. dot-folders


def test_hidden_folders_are_neither_classes_nor_images(data_dir, tmp_path):
    files = photos(data_dir)
    for folder in ("train/cat", "train/dog", "train/.ipynb_checkpoints", "train/cat/.ipynb_checkpoints"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(next(files), tmp_path / folder / "a.jpg")
    (tmp_path / "train" / ".DS_Store").write_bytes(b"\0")
    ds = data.image_folder(tmp_path, "train", size=32)
    assert ds.classes == ["cat", "dog"]
    assert [Path(p).relative_to(tmp_path).as_posix() for p, _ in ds.samples] == ["train/cat/a.jpg", "train/dog/a.jpg"]


# ---------------------------------------------------------------------------------------------- kill -9

CONFIG = TrainConfig(model="cifar_resnet8", iterations=18, batch_size=16, lr=0.05, checkpoint_every=2, progress=False)
KILLS = 10


def loaders(cifar, announce=None):
    """6 batches of 16 an epoch, 48 validation images; `announce(line)` is told of every batch."""
    class Announced(CifarLoader):
        def __iter__(self):
            for batch in super().__iter__():
                announce("batch")
                yield batch
    return ((Announced if announce else CifarLoader)(cifar, 16, train=True, subset=96),
            CifarLoader(cifar, 48, train=False, subset=48))


def train_until_killed(out: Path, cifar, events: int) -> None:
    """The run of CONFIG in a forked process, resumed from out/last.pt if it is there. It tells the parent on
    the pipe `events` of each batch it takes and each file it renames into place, and waits a moment before
    each rename, so that kills land in the moment between a file written in full and its rename too."""
    announce = lambda line: os.write(events, f"{line}\n".encode())
    real_replace = os.replace

    def slow_replace(src, dst):
        announce("write")
        time.sleep(0.05)
        real_replace(src, dst)
    os.replace = slow_replace  # in this process only
    torch.set_num_threads(1)  # as the uninterrupted run; one thread is also what a forked process may use
    torch.manual_seed(0)
    fit(models.build(CONFIG.model), *loaders(cifar, announce), CONFIG, out_dir=out, resume=True)


def forked(target, *args) -> tuple[int, object]:
    """(pid, the lines it writes) of a child process running target(*args, write_end_of_a_pipe). A child still
    running after two minutes ends, so that a hang fails the test instead of stalling it."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the test
        os.close(read)
        signal.alarm(120)  # SIGALRM ends it
        code = 1
        try:
            target(*args, write)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write)
    return pid, os.fdopen(read)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks its training processes")
def test_kill_9_at_random_moments_then_resume_to_the_same_weights(cifar, tmp_path, monkeypatch):
    """A training process killed with SIGKILL again and again, half of the times as it renames a file it has
    written: every file it leaves loads, every checkpoint is the uninterrupted run's at its iteration, and
    the run, resumed after each kill, ends with the uninterrupted run's weights."""
    reference = {}  # the uninterrupted run's weights at each of its checkpoints, by iteration

    def save_and_keep(path, model, *args, iteration, **kwargs):
        reference[iteration] = {k: v.clone() for k, v in model.state_dict().items()}
        return save_checkpoint(path, model, *args, iteration=iteration, **kwargs)
    monkeypatch.setattr(train, "save_checkpoint", save_and_keep)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        fit(models.build(CONFIG.model), *loaders(cifar), CONFIG, out_dir=tmp_path / "reference")
    finally:
        torch.set_num_threads(threads)
        monkeypatch.undo()

    out, rng = tmp_path / "killed", random.Random(13)
    loadable = on_path = left = 0  # after how many kills: all files loaded; all were the reference's; a .tmp
    for kill in range(KILLS):
        pid, lines = forked(train_until_killed, out, cifar)
        during_a_write = kill % 2 == 0
        wanted, seen = rng.randint(1, 4), 0
        for line in lines:
            seen += line.startswith("write" if during_a_write else "batch")
            if seen == wanted:
                break
        time.sleep(rng.uniform(0, 0.03))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        lines.close()
        files = {p.name: p for p in out.iterdir()} if out.exists() else {}
        left += any(name.endswith(".tmp") for name in files)
        if "history.json" in files:
            json.loads(files["history.json"].read_text())
        ckpts = [load_checkpoint(files[name]) for name in ("last.pt", "best.pt") if name in files]
        loadable += 1  # nothing above raised
        on_path += all(states_equal(c.model, reference[c.iteration]) for c in ckpts)
    pid, lines = forked(train_until_killed, out, cifar)
    lines.read()
    assert os.waitpid(pid, 0)[1] == 0

    final = load_checkpoint(out / "last.pt")
    assert final.iteration == 18 and states_equal(final.model, reference[18])
    assert (loadable, on_path) == (KILLS, KILLS) and left >= 1  # some kills did land inside a write
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    best = max(final.history, key=lambda r: r["val_top1"])  # the first of equals
    assert load_checkpoint(out / "best.pt").epoch == best["epoch"]


# ---------------------------------------------------------------------------------------------- old checkpoints


class Tiny(nn.Module):
    """A network small enough for a checkpoint kept in the repository (tests/fixtures/)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=4)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


def tiny_loaders():
    g = torch.Generator().manual_seed(0)
    images = ImageTensors(torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=g),
                          torch.arange(64) % 10, list(data.CIFAR10_CLASSES), "random images")
    return CifarLoader(images, 16, train=True), CifarLoader(images, 32, train=False)


TINY_CONFIG = dict(epochs=3, lr=0.05, milestones=(6,), progress=False)


def make_old_checkpoint(folder: Path) -> None:
    """How tests/fixtures/checkpoint-format-1/last.pt was made, with the code of commit 64ab5e7: a run of 3
    epochs stopped by Ctrl-C after its first."""
    torch.manual_seed(0)
    try:
        fit(interrupt_at(Tiny(), 5), *tiny_loaders(), TrainConfig(**TINY_CONFIG), out_dir=folder)
    except KeyboardInterrupt:
        pass


def test_a_checkpoint_of_the_first_format_resumes_as_one_written_today(tmp_path):
    """last.pt files written before checkpoints could stand inside an epoch (no `mid_epoch`, a config without
    checkpoint_every) load, and continue exactly as the same state written by today's code."""
    shutil.copytree(HERE / "fixtures" / "checkpoint-format-1", tmp_path / "old")
    old = torch.load(tmp_path / "old" / "last.pt", weights_only=True)
    assert "mid_epoch" not in old and "checkpoint_every" not in old["config"]
    ckpt = load_checkpoint(tmp_path / "old" / "last.pt", Tiny(), restore_rng=True)
    optimizer = torch.optim.SGD(ckpt.model.parameters(), lr=0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1.0)
    load_checkpoint(tmp_path / "old" / "last.pt", ckpt.model, optimizer, scheduler)  # the lr, momenta, step
    save_checkpoint(tmp_path / "new" / "last.pt", ckpt.model, optimizer, scheduler, epoch=ckpt.epoch,
                    iteration=ckpt.iteration, config=ckpt.config, history=ckpt.history, meta=ckpt.meta)
    for run in ("old", "new"):
        fit(Tiny(), *tiny_loaders(), TrainConfig(**TINY_CONFIG), out_dir=tmp_path / run, resume=True)
    a, b = (load_checkpoint(tmp_path / run / "last.pt", Tiny()) for run in ("old", "new"))
    assert (ckpt.epoch, a.epoch, a.iteration) == (1, 3, 12) and (b.epoch, b.iteration) == (3, 12)
    assert states_equal(a.model, b.model) and numbers(a.history) == numbers(b.history)
