"""resnet_lib.pretrain: in-memory images, tensor augmentation, the Imagenette run and its cache (real data)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from resnet_lib import data, pretrain
from resnet_lib.pretrain import (ImagenetteRun, book_run, imagenette_pretrained, in_memory, resize_for,
                                 tensor_transforms)

# A run small enough for a test: 20 training and 10 validation images at 32 px, one epoch.
TINY = ImagenetteRun("resnet18", size=32, epochs=1, batch_size=10, train_images=20, val_images=10)


def test_resize_for_keeps_imagenet_ratio():
    assert resize_for(224) == 256
    assert resize_for(32) == 37
    assert resize_for(64) == 73
    assert resize_for(160) == 183


def test_key_names_the_run_and_changes_with_every_setting():
    run = ImagenetteRun()
    assert run.key() == ImagenetteRun().key()  # the same settings, the same name
    assert run.key().startswith("imagenette-resnet18-64px-4ep-")
    other = {"arch": "resnet34", "size": 96, "epochs": 5, "batch_size": 32, "lr": 0.1, "weight_decay": 1e-4,
             "min_scale": 0.08, "train_images": 100, "val_images": 50, "seed": 1}
    assert set(other) == {f.name for f in dataclasses.fields(ImagenetteRun)}  # every setting is tried
    keys = {run.key()} | {dataclasses.replace(run, **{name: value}).key() for name, value in other.items()}
    assert len(keys) == len(other) + 1


def test_key_changes_with_format(monkeypatch):
    before = ImagenetteRun().key()
    monkeypatch.setattr(pretrain, "FORMAT", pretrain.FORMAT + 1)
    assert ImagenetteRun().key() != before


def test_config_is_the_run():
    c = TINY.config()
    assert (c.model, c.model_kwargs, c.epochs, c.batch_size, c.lr, c.weight_decay, c.schedule, c.seed) == \
        ("resnet18", {"num_classes": 10}, 1, 10, 0.05, 5e-4, "cosine", 0)
    assert c.progress is False


def test_in_memory_pets_shapes_labels_and_dataset_untouched(data_dir):
    test = data.pets("test", data_dir)
    transform_before = test.transform
    t = in_memory(test, 40, count=10)
    assert t.images.shape == (10, 3, 40, 40) and t.images.dtype == torch.uint8
    assert t.labels.dtype == torch.int64
    spread = [i * len(test) // 10 for i in range(10)]  # evenly over the data set, which is sorted by class
    assert t.labels.tolist() == [test.targets[i] for i in spread]
    assert t.classes == test.classes and len(t.classes) == 37
    assert test.transform is transform_before  # the data set keeps its own transform
    assert test[0][0].shape == (3, 224, 224)
    picked = in_memory(test, 24, source="three", indices=[0, 5, len(test) - 1])
    assert picked.images.shape == (3, 3, 24, 24) and picked.source == "three"
    assert picked.labels.tolist() == [test.targets[0], test.targets[5], test.targets[-1]]
    assert torch.equal(picked.images[0], in_memory(test, 24, indices=[0]).images[0])  # decoding is deterministic


def test_in_memory_refuses_nothing(data_dir):
    with pytest.raises(ValueError, match="no images"):
        in_memory(data.pets("test", data_dir), 32, indices=[])


def test_tensor_transforms_shapes_and_centre_crop():
    images = torch.randint(0, 256, (3, 37, 37), dtype=torch.uint8)
    x = tensor_transforms(False, 32)(images)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    mean = torch.tensor(data.IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(data.IMAGENET_STD).view(3, 1, 1)
    centre = images[:, 2:34, 2:34].float() / 255  # (37 - 32) // 2 = 2 pixels off each side
    assert torch.allclose(x, (centre - mean) / std, atol=1e-5)
    torch.manual_seed(0)
    y = tensor_transforms(True, 32)(images)
    assert y.shape == (3, 32, 32) and y.dtype == torch.float32


def test_book_run_sizes():
    assert [book_run(s).size for s in ("smoke", "cpu", "gpu")] == [32, 32, 224]
    assert book_run("smoke").train_images == 160 and book_run("cpu").train_images is None
    r50 = book_run("cpu", "resnet50")
    assert r50.arch == "resnet50" and dataclasses.replace(r50, arch="resnet18") == book_run("cpu")
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        book_run("laptop")


def test_imagenette_run_trains_once_then_reads_the_cache(data_dir, data_copy, tmp_path, monkeypatch):
    first = imagenette_pretrained(TINY, root=data_dir, cache=tmp_path)
    assert not first.cached
    assert first.folder == tmp_path / "imagenette-runs" / TINY.key()
    assert (first.folder / "last.pt").is_file() and not (first.folder / "best.pt").exists()
    assert len(first.history) == 1 and first.history.meta["status"] == "finished"
    assert first.history.meta["data"] == {
        "full": "Imagenette (imagenette2-160/), train split",
        "sample": "Imagenette, the library's sample (resnet_lib/sample_data/imagenette2-160/, 22 images a class), "
                  "train split"}[data_copy]
    assert first.history[0]["iteration"] == 2  # 20 images in batches of 10
    assert not first.model.training and first.model.fc.out_features == 10
    assert next(first.model.parameters()).device.type == "cpu"

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run was trained again")

    monkeypatch.setattr(pretrain, "fit", no_training)
    second = imagenette_pretrained(TINY, root=data_dir, cache=tmp_path)
    assert second.cached and second.folder == first.folder
    assert second.history.records == first.history.records
    for (name, a), (_, b) in zip(first.model.state_dict().items(), second.model.state_dict().items()):
        assert torch.equal(a, b), name
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        # equal weights; the trained model is still channels_last, the loaded one not: float rounding differs
        assert torch.allclose(first.model(x), second.model(x), rtol=1e-4, atol=1e-4)

    # Other settings are another run: not in the cache, so it would be trained.
    with pytest.raises(AssertionError, match="trained again"):
        imagenette_pretrained(dataclasses.replace(TINY, seed=1), root=data_dir, cache=tmp_path)


def test_unfinished_run_is_not_taken_from_the_cache(data_dir, tmp_path, monkeypatch):
    folder = tmp_path / "imagenette-runs" / TINY.key()
    folder.mkdir(parents=True)
    (folder / "last.pt").write_bytes(b"")
    (folder / "history.json").write_text(json.dumps({"meta": {"status": "interrupted in epoch 1"}, "records": []}))
    calls = []
    monkeypatch.setattr(pretrain, "fit", lambda *a, **k: calls.append(k) or pretrain.History())
    result = imagenette_pretrained(TINY, root=data_dir, cache=tmp_path)
    assert not result.cached and len(calls) == 1 and calls[0]["resume"] is True
