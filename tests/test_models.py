"""The models are the paper's: exact parameter counts, multiply-adds to the paper's figures, torchvision's
state dicts load key for key and give the same outputs."""

import pytest
import torch
import torchvision

from resnet_lib import complexity, models, paper

def on_meta(name, **kwargs):
    """Build without allocating or initialising weights: counting needs only shapes."""
    with torch.device("meta"):
        return models.build(name, **kwargs)


DEPTHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
WEIGHTS = {"resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights", "resnet50": "ResNet50_Weights",
           "resnet101": "ResNet101_Weights", "resnet152": "ResNet152_Weights"}

# Exact parameter counts (torchvision's, which the paper's architectures have at 1000 classes).
IMAGENET_PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                   "resnet101": 44_549_160, "resnet152": 60_192_808, "plain18": 11_515_688,
                   "plain34": 21_623_848}
# Exact MACs at 224x224: the paper's bottleneck (v1) and torchvision's (v1.5).
MACS_V1 = {"resnet18": 1_814_073_344, "resnet34": 3_663_761_408, "resnet50": 3_857_973_248,
           "resnet101": 7_570_194_432, "resnet152": 11_282_415_616}
MACS_V15 = {"resnet50": 4_089_184_256, "resnet101": 7_801_405_440, "resnet152": 11_513_626_624}
CIFAR_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


@pytest.mark.parametrize("name", list(IMAGENET_PARAMS))
def test_imagenet_parameter_counts(name):
    assert complexity.count_params(on_meta(name)) == IMAGENET_PARAMS[name]


@pytest.mark.parametrize("name", DEPTHS)
def test_macs_regenerate_table1(name):
    macs = complexity.count_macs(on_meta(name, variant="v1"))
    assert macs == MACS_V1[name]
    # The paper prints one decimal and is not consistent about rounding (3.66 -> "3.6", 7.57 -> "7.6"):
    # ours is within its last printed digit.
    assert abs(macs / 1e9 - paper.TABLE1_GMACS[name]) < 0.07


def test_vgg_and_plain_macs_match_the_paper():
    assert round(complexity.count_macs(on_meta("vgg19")) / 1e9, 1) == paper.VGG19_GMACS
    assert round(complexity.count_macs(on_meta("plain34")) / 1e9, 1) == paper.PLAIN34_GMACS


@pytest.mark.parametrize("name", DEPTHS)
def test_v15_agrees_with_torchvision_metadata(name):
    meta = getattr(torchvision.models, WEIGHTS[name]).IMAGENET1K_V1.meta
    model = on_meta(name, variant="v1.5")
    assert complexity.count_params(model) == meta["num_params"]
    assert complexity.count_macs(model) / 1e9 == pytest.approx(meta["_ops"], abs=5e-4)
    if name in MACS_V15:
        assert complexity.count_macs(model) == MACS_V15[name]


@pytest.mark.parametrize("depth", list(CIFAR_PARAMS))
def test_cifar_parameter_counts_match_table6(depth):
    params = complexity.count_params(models.cifar_resnet(depth))
    assert params == CIFAR_PARAMS[depth]
    assert round(params / 1e6, 2 if depth < 110 else 1) == paper.TABLE6_PARAMS_M[depth]


def test_cifar_resnet1202_has_19_4M_parameters():
    assert round(complexity.count_params(on_meta("cifar_resnet1202")) / 1e6, 1) == 19.4


def test_shortcut_options_cost():
    a, b, c = (complexity.count_params(models.cifar_resnet(20, shortcut=s)) for s in "ABC")
    # B adds two projections (16->32, 32->64: 1x1 conv + BN); C also projects every identity shortcut.
    assert b - a == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert c > b
    plain = complexity.count_params(models.cifar_resnet(20, residual=False))
    assert plain == a  # option A shortcuts have no parameters


@pytest.mark.parametrize("name", DEPTHS)
def test_torchvision_state_dict_loads_and_gives_same_outputs(name):
    with torch.device("meta"):  # skip the (slow) initialisation: the weights come next
        reference = getattr(torchvision.models, name)(weights=None).eval()
        ours = models.build(name).eval()
    assert list(ours.state_dict()) == list(reference.state_dict())
    torch.manual_seed(0)
    # Random weights stand in for torchvision's pretrained ones (not downloadable here); BN variances > 0.
    theirs = {k: (torch.rand(v.shape) + 0.5 if k.endswith("running_var") else torch.randn(v.shape) * 0.05)
              if v.is_floating_point() else torch.zeros(v.shape, dtype=v.dtype)
              for k, v in reference.state_dict().items()}
    reference.load_state_dict(theirs, assign=True)
    ours.load_state_dict(theirs, assign=True)  # strict: every key, every shape
    x = torch.randn(2, 3, 64, 64)  # shape test only: the equality is of two functions of the same weights
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_v1_puts_the_stride_in_the_first_1x1():
    v1, v15 = models.resnet50(variant="v1"), models.resnet50(variant="v1.5")
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)
    assert list(v1.state_dict()) == list(v15.state_dict())  # same weights, different computation


@pytest.mark.parametrize("name,size,classes", [
    ("resnet18", 64, 1000), ("resnet50", 64, 37), ("plain18", 64, 2), ("vgg11", 64, 5),
    ("cifar_resnet20", 32, 10), ("cifar_plain20", 32, 10), ("cifar_resnet32", 32, 100),
])
def test_output_shapes(name, size, classes):
    model = models.build(name, num_classes=classes).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, size, size)).shape == (2, classes)


def test_every_name_builds():
    for name in models.model_names():
        if name in ("cifar_resnet1202", "cifar_plain1202"):
            continue  # 19M parameters: covered by its own test
        assert isinstance(on_meta(name), torch.nn.Module)


def test_features_and_head():
    model = models.resnet50(num_classes=1000)
    assert model.forward_features(torch.randn(1, 3, 64, 64)).shape == (1, 2048)
    model.reset_classifier(37)
    assert model.fc.out_features == 37 and model.fc.in_features == 2048
    cifar = models.cifar_resnet(20)
    assert cifar.forward_features(torch.randn(1, 3, 32, 32)).shape == (1, 64)


def test_plain_nets_have_no_shortcuts():
    plain = models.plain34()
    assert all(not block.residual and block.downsample is None
               for stage in (plain.layer1, plain.layer2, plain.layer3, plain.layer4) for block in stage)


def test_zero_init_residual_makes_blocks_start_as_identity():
    model = models.resnet50(zero_init_residual=True).eval()
    block = model.layer1[1]
    x = torch.rand(1, 256, 8, 8)  # non-negative, like a ReLU output
    with torch.no_grad():
        assert torch.equal(block(x), x)


def test_residual_nets_learn_a_fixed_batch():
    torch.manual_seed(0)
    model = models.cifar_resnet(20)
    x, y = torch.randn(16, 3, 32, 32), torch.arange(16) % 10  # mechanics only; chapters train on CIFAR-10
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.7


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown model 'resnet51'; valid names: resnet18, .*cifar_resnet56"):
        models.build("resnet51")


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_bad_num_classes(bad):
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        models.build("resnet18", num_classes=bad)
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        models.cifar_resnet(20, num_classes=bad)


def test_bad_depth_shortcut_variant():
    with pytest.raises(ValueError, match="6n\\+2"):
        models.cifar_resnet(21)
    with pytest.raises(ValueError, match="shortcut must be one of"):
        models.cifar_resnet(20, shortcut="D")
    with pytest.raises(ValueError, match="variant must be one of"):
        models.resnet50(variant="v2")


def test_stage_table_follows_table1():
    rows = complexity.stage_table(models.resnet50(variant="v1"))
    assert [r.name for r in rows] == ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "pool, fc", "total"]
    assert [r.output_shape[2:] for r in rows[:5]] == [(112, 112), (56, 56), (28, 28), (14, 14), (7, 7)]
    assert sum(r.macs for r in rows[:-1]) == rows[-1].macs == MACS_V1["resnet50"]
    assert sum(r.params for r in rows[:-1]) == rows[-1].params == IMAGENET_PARAMS["resnet50"]


def test_forward_seconds_times_only_the_repeats_after_the_warmup():
    calls = []

    class Counting(torch.nn.Module):
        def forward(self, x):
            calls.append(torch.is_inference_mode_enabled())
            return x * 2

    times = complexity.forward_seconds(Counting(), torch.ones(3), warmup=3, repeats=4)
    assert len(times) == 4 and all(t > 0 for t in times)
    assert calls == [True] * 7  # 3 warm-up + 4 timed passes, all without autograd
