"""The recipes say what the paper says, and `prepare` turns them into a model, loaders and a TrainConfig:
the right splits, batches and classes, the schedule moved with the run's length, pretrained weights loaded."""

import dataclasses
import os

import pytest
import torch
import torchvision

from resnet_lib import paper
from resnet_lib.recipes import Recipe, describe, get_recipe, prepare, recipe_names
from resnet_lib.train import TrainConfig, evaluate, fit

CIFAR = ["cifar10-resnet20", "cifar10-resnet32", "cifar10-resnet44", "cifar10-resnet56", "cifar10-resnet110",
         "cifar10-plain20", "cifar10-plain56"]


def test_names():
    assert recipe_names() == [*CIFAR, "cifar10-resnet20-fast", "pets-resnet50", "catsdogs-resnet18",
                              "imagenet-resnet50", "imagenette-resnet18"]
    with pytest.raises(ValueError, match=r"unknown recipe 'cifar10-resnet18'; valid recipes: cifar10-resnet20, "
                                         r"cifar10-resnet32, .*, imagenette-resnet18$"):
        get_recipe("cifar10-resnet18")


@pytest.mark.parametrize("name", CIFAR)
def test_cifar_recipes_are_section_4_2(name):
    r = get_recipe(name)
    c, p = r.config, paper.CIFAR_RECIPE
    assert (c.batch_size, c.lr, c.momentum, c.weight_decay, c.iterations, c.milestones) == (
        p["batch_size"], p["lr"], p["momentum"], p["weight_decay"], p["iterations"], p["milestones"])
    assert (c.schedule, c.gamma, c.epochs) == ("step", 0.1, None)
    assert (r.dataset, r.train_split, r.val_split, r.test_split, r.image_size, r.augment, r.pretrained) == (
        "cifar10", "train", "val", "test", 32, "pad-crop-flip", None)
    depth = int(name.removeprefix("cifar10-resnet").removeprefix("cifar10-plain"))
    assert c.model == ("cifar_resnet" if "resnet" in name else "cifar_plain") + str(depth)
    warmup = (400, "constant", 0.01) if depth == 110 else (0, "constant", None)
    assert (c.warmup_iters, c.warmup, c.warmup_lr) == warmup


def test_the_fast_recipe_trains_the_papers_resnet20_on_all_50k_and_never_looks_at_the_test_set(data_dir):
    r = get_recipe("cifar10-resnet20-fast")
    c = r.config
    assert (c.model, c.model_kwargs) == ("cifar_resnet20", {})  # the paper's network, unchanged
    assert (r.train_split, r.val_split, r.test_split, r.test_flip, r.augment) == (
        "train+val", None, "test", True, "pad-crop-flip")
    assert (c.schedule, c.warmup, c.nesterov, c.no_decay_bn_bias, c.amp, c.channels_last) == (
        "linear", "linear", True, True, "bf16", True)
    assert describe(r).splitlines()[4:6] == [
        "data      cifar10, 32x32, augmentation pad-crop-flip; train on train+val, no validation, test on",
        "          test at the end (with flips)"]
    model, train, val, config = prepare(r, data_root=data_dir, subset=256, epochs=1, batch_size=64, device="cpu")
    assert val is None and (len(train), train.num_examples) == (4, 256)
    history = fit(model, train, val, dataclasses.replace(config, amp="off", progress=False))
    assert [sorted(k for k in rec if k.startswith("val_")) for rec in history.records] == [[]]


def test_imagenet_and_fine_tuning_recipes():
    r = get_recipe("imagenet-resnet50")
    c = r.config
    assert (c.model, c.batch_size, c.lr, c.momentum, c.weight_decay, c.epochs, r.milestone_epochs) == (
        "resnet50", 256, 0.1, 0.9, 1e-4, 90, (30, 60))
    assert (r.image_size, r.num_classes, r.pretrained) == (224, 1000, None)
    pets = get_recipe("pets-resnet50")
    assert (pets.num_classes, pets.pretrained, pets.config.backbone_lr_mult, pets.config.schedule,
            pets.image_size) == (37, "IMAGENET1K_V1", 0.1, "cosine", 224)
    cd = get_recipe("catsdogs-resnet18")
    assert (cd.dataset, cd.train_split, cd.val_split, cd.num_classes, cd.pretrained) == (
        "folder", "train", "val", 2, "IMAGENET1K_V1")
    get_recipe("pets-resnet50").config.lr = 1.0  # a copy
    assert get_recipe("pets-resnet50").config.lr == 0.01
    with pytest.raises(ValueError, match="augment for cifar10 must be one of pad-crop-flip, none"):
        Recipe("x", "x", "cifar10", TrainConfig(model="cifar_resnet20", epochs=1), augment="resized-crop-flip")


def test_describe():
    lines = describe(get_recipe("cifar10-resnet110")).splitlines()
    assert lines[2:] == [
        "model     cifar_resnet110, from scratch",
        "data      cifar10, 32x32, augmentation pad-crop-flip; train on train, validate on val, test on",
        "          test at the end",
        "training  64,000 iterations of batch 128; SGD lr 0.1, momentum 0.9, weight decay 0.0001; lr x0.1",
        "          at iterations 32000, 48000, warm-up 400 iterations (constant, from 0.01)"]
    fast = describe(get_recipe("cifar10-resnet20-fast")).split("\ntraining  ")[1]
    assert fast == ("70 epochs of batch 128; SGD lr 0.2, Nesterov momentum 0.9, weight decay 0.0005 (not on\n"
                    "          BN and biases); linear lr, warm-up 390 iterations (linear, from 0.02); label smoothing\n"
                    "          0.1; bfloat16 autocast")
    for name in recipe_names():  # within the book's code column
        assert max(len(line) for line in describe(get_recipe(name)).splitlines()) <= 98, name


def test_prepare_cifar(data_dir):
    model, train, val, config = prepare("cifar10-resnet110", data_root=data_dir, subset=256, iterations=10,
                                        batch_size=64, device="cpu")
    assert model.depth == 110 and model.fc.out_features == 10
    assert (config.iterations, config.epochs, config.batch_size, config.lr) == (10, None, 64, 0.1)
    assert config.milestones == (5, 8)  # the paper's 32k and 48k of 64k, at the same fractions of 10
    assert (config.warmup_iters, config.warmup_lr) == (400, 0.01)  # the warm-up keeps its length
    assert (len(train), train.num_examples, train.augment, train.batch_size) == (4, 256, True, 64)
    assert (len(val), val.num_examples, val.augment, val.train) == (1, 256, False, False)
    x, y = next(iter(train))
    assert x.shape == (64, 3, 32, 32) and x.dtype == torch.float32 and y.shape == (64,)
    epochs = prepare("cifar10-resnet20", data_root=data_dir, subset=256, epochs=3, batch_size=64).config
    assert (epochs.epochs, epochs.iterations, epochs.milestones) == (3, None, (6, 9))
    # milestones given are this run's iterations: a step schedule for a recipe that has none
    step = prepare("cifar10-resnet20-fast", data_root=data_dir, subset=256, epochs=3, batch_size=64,
                   schedule="step", milestones=(6, 9)).config
    assert (step.schedule, step.milestones, step.epochs) == ("step", (6, 9), 3)
    full = prepare("cifar10-resnet20", data_root=data_dir, subset=256).config
    assert (full.iterations, full.milestones) == (64_000, (32_000, 48_000))
    with pytest.raises(ValueError, match="give epochs or iterations, not both"):
        prepare("cifar10-resnet20", data_root=data_dir, epochs=1, iterations=1)
    with pytest.raises(ValueError, match="unknown TrainConfig field.*: batch"):
        prepare("cifar10-resnet20", data_root=data_dir, batch=1)
    with pytest.raises(FileNotFoundError, match="no CIFAR-10 in"):
        prepare("cifar10-resnet20", data_root=data_dir / "oxford-iiit-pet")


def test_prepare_the_imagenet_path_on_imagenette_folders(data_dir, data_copy):
    root = data_dir / "imagenette2-160"  # laid out as ImageNet: train/<wnid>/, val/<wnid>/
    with pytest.raises(ValueError, match=r"imagenet-resnet50 is a 1000-class recipe, but the train data has 10 "
                                         r"classes \(n01440764, n02102040, n02979186, n03000684, n03028079, ...\)"):
        prepare("imagenet-resnet50", data_root=root, subset=64, batch_size=16, workers=0)
    recipe = get_recipe("imagenet-resnet50")
    recipe.config = dataclasses.replace(recipe.config, model_kwargs={"num_classes": 10})
    _, train, val, config = prepare(recipe, data_root=root, subset=64, batch_size=16, workers=0)
    assert (len(train), len(train.dataset), len(val.dataset)) == (4, 64, {"full": 64, "sample": 60}[data_copy])
    assert config.milestones == (120, 240)  # epochs 30 and 60 of 4 iterations
    assert sorted(torch.bincount(torch.tensor(train.dataset.targets)).tolist()) == [6] * 6 + [7] * 4
    short = prepare(recipe, data_root=root, subset=64, batch_size=16, workers=0, epochs=3).config
    assert short.milestones == (4, 8)  # epochs 1 and 2 of 3
    x, _ = next(iter(train))
    assert x.shape == (16, 3, 224, 224)


@pytest.fixture
def catsdogs(data_dir, tmp_path):
    """The seed tutorial's layout, train/{cat,dog}/ and val/{cat,dog}/, from Oxford-IIIT Pet images
    (cat breeds are capitalised): 6 + 6 images to train on, 4 + 4 held out."""
    images = sorted((data_dir / "oxford-iiit-pet" / "images").glob("*.jpg"))
    cats = [p for p in images if p.name[0].isupper()][:10]
    dogs = [p for p in images if p.name[0].islower()][:10]
    for split, part in (("train", slice(0, 6)), ("val", slice(6, 10))):
        for cls, files in (("cat", cats), ("dog", dogs)):
            (tmp_path / "catsdogs" / split / cls).mkdir(parents=True)
            for p in files[part]:
                os.symlink(p, tmp_path / "catsdogs" / split / cls / p.name)
    return tmp_path / "catsdogs"


def test_catsdogs_fine_tunes_from_imagenet_and_evaluates_the_held_out_folder(catsdogs, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(FileNotFoundError, match="no pretrained weights resnet18-f37072fd.pth in"):
        prepare("catsdogs-resnet18", data_root=catsdogs, batch_size=4, workers=0)
    torch.manual_seed(0)
    imagenet = torchvision.models.resnet18().state_dict()  # stands for the real file, which we cannot download
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(imagenet, tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth")

    model, train, val, config = prepare("catsdogs-resnet18", data_root=catsdogs, batch_size=4, workers=0)
    assert model.fc.out_features == 2 and config.model_kwargs == {"num_classes": 2}
    assert all(torch.equal(t, imagenet[k]) for k, t in model.state_dict().items() if not k.startswith("fc."))
    assert (train.dataset.root, val.dataset.root) == (catsdogs / "train", catsdogs / "val")
    assert train.dataset.classes == val.dataset.classes == ["cat", "dog"]
    assert (len(train), len(val)) == (3, 2)
    result = evaluate(model, val, device="cpu")
    assert result["count"] == 8 and result["confusion"].sum(1).tolist() == [4, 4]  # the whole val folder
    assert (config.lr, config.backbone_lr_mult, config.schedule, config.epochs) == (0.01, 0.1, "cosine", 5)

    (catsdogs / "train" / "bird").mkdir()
    os.symlink(next((catsdogs / "train" / "cat").iterdir()), catsdogs / "train" / "bird" / "b.jpg")
    with pytest.raises(ValueError, match=r"catsdogs-resnet18 is a 2-class recipe, but the train data has 3 "
                                         r"classes \(bird, cat, dog\)"):
        prepare("catsdogs-resnet18", data_root=catsdogs, batch_size=4, workers=0, pretrained=False)


def test_val_classes_must_match_train(catsdogs):
    for p in (catsdogs / "val" / "dog").iterdir():
        p.unlink()
    (catsdogs / "val" / "dog").rmdir()
    with pytest.raises(ValueError, match=r"the val classes \(cat\) differ from the train classes \(cat, dog\)"):
        prepare("catsdogs-resnet18", data_root=catsdogs, batch_size=4, workers=0, pretrained=False)


def test_prepare_pets(data_dir, data_copy):
    model, train, val, config = prepare("pets-resnet50", data_root=data_dir, subset=74, batch_size=8, workers=0,
                                        pretrained=False)
    assert model.fc.out_features == 37 and len(train.dataset.classes) == 37
    assert (len(train.dataset), len(val.dataset), len(train)) == (74, 74, 9)
    assert train.dataset.source == {"full": "Oxford-IIIT Pet (oxford-iiit-pet/), trainval split",
                                    "sample": "Oxford-IIIT Pet, the library's sample (resnet_lib/sample_data/"
                                              "oxford-iiit-pet/, 2 images a breed), trainval split"}[data_copy]
