"""Pretrained weights: torchvision's files load into our ResNets from torch.hub's cache, with a one-line error
when the file is not there; freezing trains the head alone and keeps the backbone's BatchNorm statistics.

No weights can be downloaded here: the "pretrained" file is torchvision's own resnet18, randomly initialised,
saved under the file name torch.hub would give the real one."""

import pytest
import torch
import torchvision
from torch import nn

from resnet_lib import models
from resnet_lib.transfer import freeze_backbone, load_pretrained, pretrained_weights, unfreeze, weights_file

R18_FILE = "resnet18-f37072fd.pth"
R18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch.hub cache: $TORCH_HOME/hub/checkpoints."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert torch.hub.get_dir() == str(tmp_path / "hub")  # nobody called torch.hub.set_dir in this process
    return tmp_path / "hub" / "checkpoints"


@pytest.fixture
def tv_resnet18(hub):
    """torchvision's resnet18 (random weights) saved in the hub cache as if it were IMAGENET1K_V1."""
    torch.manual_seed(0)
    reference = torchvision.models.resnet18()
    for m in reference.modules():  # non-trivial BN statistics, so that loading them is tested too
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    hub.mkdir(parents=True)
    torch.save(reference.state_dict(), hub / R18_FILE)
    return reference.eval()


def test_the_file_and_its_address():
    weights = pretrained_weights(models.resnet18())
    assert weights is torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    assert weights.url == R18_URL and weights_file(weights).name == R18_FILE
    v2 = pretrained_weights(models.resnet50(), "IMAGENET1K_V2")
    assert weights_file(v2).name == "resnet50-11ad3fa6.pth"
    assert pretrained_weights(models.resnet50(), v2) is v2


def test_loads_torchvision_weights_key_for_key(tv_resnet18):
    ours = load_pretrained(models.resnet18(), "IMAGENET1K_V1").eval()
    reference = tv_resnet18.state_dict()
    assert ours.state_dict().keys() == reference.keys()
    assert all(torch.equal(t, reference[k]) for k, t in ours.state_dict().items())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), tv_resnet18(x))


def test_another_head_keeps_its_own(tv_resnet18):
    torch.manual_seed(1)
    ours = models.resnet18(num_classes=37)
    head = {k: t.clone() for k, t in ours.fc.state_dict().items()}
    load_pretrained(ours)
    reference = tv_resnet18.state_dict()
    for k, t in ours.state_dict().items():
        if k.startswith("fc."):
            assert torch.equal(t, head[k.removeprefix("fc.")])
        else:
            assert torch.equal(t, reference[k]), k
    assert ours.fc.weight.shape == (37, 512)


def test_offline_error_names_the_file_the_url_and_the_folder(hub):
    with pytest.raises(FileNotFoundError) as e:
        load_pretrained(models.resnet18())
    assert str(e.value) == (f"no pretrained weights {R18_FILE} in {hub}: download {R18_URL} into that folder, "
                            f"or pass download=True")


def test_wrong_models_and_names(tv_resnet18):
    with pytest.raises(ValueError, match="resnet18, 34, 50, 101 and 152 only, not for this CifarResNet"):
        load_pretrained(models.build("cifar_resnet20"))
    with pytest.raises(ValueError, match="not for this ResNet"):
        load_pretrained(models.plain18())
    with pytest.raises(ValueError, match="variant 'v1.5'.*build it with variant='v1.5'"):
        load_pretrained(models.resnet50(variant="v1"))
    with pytest.raises(ValueError, match="no resnet18 weights 'IMAGENET1K_V9'; valid names: IMAGENET1K_V1, DEFAULT"):
        load_pretrained(models.resnet18(), "IMAGENET1K_V9")
    with pytest.raises(ValueError, match="are not weights for resnet18: use ResNet18_Weights"):
        load_pretrained(models.resnet18(), torchvision.models.ResNet50_Weights.IMAGENET1K_V1)


def test_a_file_for_another_model_is_named(hub):
    hub.mkdir(parents=True)
    torch.save(models.resnet34().state_dict(), hub / R18_FILE)
    with pytest.raises(ValueError, match=rf"{R18_FILE} does not fit this model: 'layer1.2.conv1.weight' of the "
                                         "file is not in the model"):
        load_pretrained(models.resnet18())
    (hub / R18_FILE).write_bytes(b"not a state dict")
    with pytest.raises(ValueError, match=rf"{R18_FILE} is not a readable state dict"):
        load_pretrained(models.resnet18())


def test_freeze_trains_the_head_alone_with_fixed_bn_statistics():
    torch.manual_seed(0)
    model = models.resnet18(num_classes=37)
    before = {k: t.clone() for k, t in model.state_dict().items()}
    freeze_backbone(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sum(p.numel() for p in trainable) == 512 * 37 + 37
    model.train()
    opt = torch.optim.SGD(trainable, lr=0.1)
    x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    after = model.state_dict()
    changed = sorted(k for k in after if not torch.equal(after[k], before[k]))
    assert changed == ["fc.bias", "fc.weight"]  # running means, variances and batch counts included
    assert not model.bn1.training and model.training

    unfreeze(model)
    assert all(p.requires_grad for p in model.parameters()) and model.bn1.training
    model(x)
    assert not torch.equal(model.bn1.running_mean, before["bn1.running_mean"])
    assert not model._forward_pre_hooks and not any(m._forward_pre_hooks for m in model.modules())


# ------------------------------------------------------------------------- a stored run as the backbone

def test_new_network_from_a_stored_run_keeps_every_weight_but_the_head():
    from resnet_lib import results
    from resnet_lib.transfer import new_network

    stored = results.load_model("fig6-cifar10-plain20")
    net = new_network("cifar_plain20", 2, backbone="fig6-cifar10-plain20", seed=3)
    mine, theirs = net.state_dict(), stored.state_dict()
    assert sorted(mine) == sorted(theirs)
    assert all(torch.equal(mine[k], theirs[k]) for k in mine if not k.startswith("fc."))
    assert mine["fc.weight"].shape == (2, 64) and net.training
    again = new_network("cifar_plain20", 2, backbone="fig6-cifar10-plain20", seed=3)
    assert torch.equal(again.fc.weight, net.fc.weight)  # the seed draws the head
    other = new_network("cifar_plain20", 2, backbone="fig6-cifar10-plain20", seed=4)
    assert not torch.equal(other.fc.weight, net.fc.weight)
    scratch = new_network("cifar_plain20", 2, seed=3)
    assert not torch.equal(scratch.conv1.weight, net.conv1.weight)
    with pytest.raises(ValueError, match="fig6-cifar10-plain20 is a cifar_plain20, not a cifar_resnet20"):
        new_network("cifar_resnet20", 2, backbone="fig6-cifar10-plain20")


def test_train_at_32px_trains_every_weight_and_tests_on_all_images(data_dir):
    from resnet_lib.data import load_cifar10
    from resnet_lib.transfer import new_network, train_at_32px

    torch.set_num_threads(1)
    images = load_cifar10("test", data_dir)
    two = (images.labels == 3) | (images.labels == 5)  # cat and dog
    keep = two.nonzero().squeeze(1)[:96]
    t = type(images)(images.images[keep], (images.labels[keep] == 5).long(), ["cat", "dog"], images.source)
    net = new_network("cifar_resnet20", 2, seed=0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    history, metrics = train_at_32px(net, t, t, epochs=2, lr=0.05, seed=1, batch_size=32)
    assert len(history) == 2 and [r["iteration"] for r in history] == [3, 6]  # 96 / 32 batches an epoch
    assert metrics["count"] == 96 and 0 <= metrics["top1"] <= 1
    assert history[-1]["val_top1"] == metrics["top1"]  # validated on the test images after the last epoch
    changed = [k for k, v in net.state_dict().items() if k.endswith("weight") and not torch.equal(v, before[k])]
    assert "conv1.weight" in changed and "fc.weight" in changed
