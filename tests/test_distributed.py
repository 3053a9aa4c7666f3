"""Data-parallel training: two CPU processes under torchrun (gloo) end with identical weights, train the
same model as one process with the same global batch, and only rank 0 writes files."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from resnet_lib import models
from resnet_lib.data import CifarLoader, load_cifar10
from resnet_lib.checkpoint import load_checkpoint
from resnet_lib.distributed import cleanup_distributed, setup_distributed
from resnet_lib.train import History, TrainConfig, fit

HERE = Path(__file__).resolve().parent
GLOBAL_BATCH = 32


class SmallNet(nn.Module):
    """Convolutions without BatchNorm: one process on a batch of 32 and two on 16 each compute the same
    gradient (with BatchNorm, each process would normalise over its own half)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.features(x))


def train(out: Path, data_dir: Path, rank: int = 0, world_size: int = 1, names=("small", "resnet8")) -> dict:
    """Train SmallNet and ResNet-8 (or those of `names`) for 2 epochs on 128 real CIFAR-10 images (rank's
    share of them); only SmallNet's run writes to out/run. Returns the final state dicts by name."""
    cifar = load_cifar10("train", root=data_dir)
    result = {}
    builders = {"small": SmallNet, "resnet8": lambda: models.build("cifar_resnet8")}
    for name in names:
        torch.manual_seed(0)
        model = builders[name]()
        loader = CifarLoader(cifar, GLOBAL_BATCH // world_size, train=True, subset=128, rank=rank,
                             world_size=world_size)
        val = CifarLoader(cifar, 50, train=False, subset=100, rank=rank, world_size=world_size)
        config = TrainConfig(epochs=2, lr=0.05, batch_size=GLOBAL_BATCH, progress=False)
        fit(model, loader, val, config, out_dir=out / "run" if name == "small" else None)
        result[name] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return result


SCRIPT = """
import sys
from pathlib import Path
import torch
sys.path.insert(0, sys.argv[2])
from test_distributed import train, setup_distributed, cleanup_distributed
info = setup_distributed()
assert info.world_size == 2 and torch.distributed.get_backend() == "gloo"
out = Path(sys.argv[1])
weights = train(out, Path(sys.argv[3]), info.rank, info.world_size)
torch.save(weights, out / f"rank{info.rank}.pt")
cleanup_distributed()
"""


def test_two_processes_train_like_one_with_the_same_global_batch(data_dir, tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
           str(tmp_path), str(HERE), str(data_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name in ("small", "resnet8"):  # gradients averaged, BatchNorm buffers broadcast from rank 0
        assert all(torch.equal(rank0[name][k], rank1[name][k]) for k in rank0[name]), name
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.pt", "history.json", "last.pt"]

    single = train(tmp_path / "single", data_dir, names=("small",))
    for k, v in single["small"].items():
        torch.testing.assert_close(rank0["small"][k], v, rtol=1e-4, atol=1e-5, msg=k)

    ddp = History.load(tmp_path / "run" / "history.json")
    one = History.load(tmp_path / "single" / "run" / "history.json")
    assert ddp.meta["world_size"] == 2 and ddp.meta["config"]["batch_size"] == GLOBAL_BATCH
    assert [r["iteration"] for r in ddp] == [r["iteration"] for r in one] == [4, 8]
    # Metrics are summed over both processes' shards: the same numbers as one process over all images.
    for a, b in zip(ddp, one):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["train_top1"] == b["train_top1"] and a["val_top1"] == b["val_top1"]
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    assert load_checkpoint(tmp_path / "run" / "last.pt", SmallNet()).epoch == 2


def test_without_torchrun_setup_is_a_single_process(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    info = setup_distributed()
    assert (info.rank, info.world_size, info.local_rank) == (0, 1, 0)
    assert not torch.distributed.is_initialized()
    cleanup_distributed()  # nothing to leave: no error
