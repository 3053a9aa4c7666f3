"""resnet_lib.data: where the data is, CIFAR-10 as tensors, the two CIFAR loaders, ImageNet-style data sets."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from resnet_lib import data, runsize
from resnet_lib.data import CIFAR10_CLASSES, CifarLoader, ImageTensors

# ------------------------------------------------------------------------------------------------ roots


def test_data_root_order(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("RESNET_DATA", raising=False)
    monkeypatch.setenv("RESNET_RUN_SIZE", "cpu")
    assert data.data_root() == tmp_path / "xdg" / "resnet-book" / "data"
    monkeypatch.setenv("RESNET_DATA", str(tmp_path / "env"))
    assert data.data_root() == tmp_path / "env"
    assert data.data_root(tmp_path / "arg") == tmp_path / "arg"


def test_cache_dir_is_created(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_CACHE", str(tmp_path / "a" / "b"))
    assert data.cache_dir() == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    monkeypatch.delenv("RESNET_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "resnet-book"


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    """No $RESNET_DATA and an empty home cache: a fresh machine."""
    monkeypatch.delenv("RESNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "resnet-book" / "data"


def test_the_smoke_size_falls_back_to_the_sample(no_data, monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_RUN_SIZE", "smoke")
    assert data.data_root() == data.SAMPLE_ROOT
    assert data.load_cifar10("val").source == data.SAMPLE_SOURCE
    assert data.pets("test").source.startswith("Oxford-IIIT Pet, the library's sample (")
    assert data.imagenette("val").source.startswith("Imagenette, the library's sample (")
    with pytest.raises(FileNotFoundError, match=r"^no CIFAR-10 in "):  # a folder given is the folder meant
        data.load_cifar10(root=tmp_path)
    monkeypatch.setenv("RESNET_DATA", str(tmp_path / "elsewhere"))  # set, but without the data sets
    assert data.data_root() == tmp_path / "elsewhere" and len(data.load_cifar10("test")) == 1_000
    monkeypatch.delenv("RESNET_DATA")
    no_data.mkdir(parents=True)
    assert data.data_root() == no_data  # the default folder once it exists; the data sets still fall back
    assert data.imagenette("train").source.endswith("22 images a class), train split")


@pytest.mark.parametrize("size", ["cpu", "gpu"])
def test_the_larger_sizes_need_the_real_data(no_data, monkeypatch, size):
    monkeypatch.setenv("RESNET_RUN_SIZE", size)
    assert data.data_root() == no_data
    for load, missing in ((data.load_cifar10, f"no CIFAR-10 in {no_data}: "),
                          (data.pets, f"no Oxford-IIIT Pet in {no_data / 'oxford-iiit-pet'}: "),
                          (data.imagenette, f"no Imagenette in {no_data / 'imagenette2-160'}: ")):
        with pytest.raises(FileNotFoundError) as e:
            load()
        assert str(e.value).startswith(missing + "pass download=True, or set RESNET_DATA to a folder holding ")


def test_cpu_flags_reads_what_linux_reports(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx512_bf16 avx512f\n")
    assert runsize.cpu_flags(("avx512_bf16", "amx_bf16", "avx512f"), cpuinfo) == ["avx512_bf16", "avx512f"]
    assert runsize.cpu_flags(("avx512_bf16",), tmp_path / "none") == []


def test_describe_gives_the_run_size_then_the_hardware(monkeypatch):
    monkeypatch.setattr(runsize, "hardware", lambda: "CPU (Test), 2 threads")
    assert runsize.describe("cpu").split("\n") == [
        "run size: cpu (set RESNET_RUN_SIZE=smoke|cpu|gpu to change)",
        f"hardware: CPU (Test), 2 threads; torch {torch.__version__}"]


def test_download_for_a_run_size(monkeypatch):
    import sys
    import types

    from resnet_lib.runsize import download_for
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert [download_for(size) for size in ("smoke", "cpu", "gpu")] == [False, True, True]
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert [download_for(size) for size in ("smoke", "cpu", "gpu")] == [True, True, True]
    with pytest.raises(ValueError, match="^size must be one of smoke, cpu, gpu, got 'tiny'$"):
        download_for("tiny")


@pytest.fixture
def offline(monkeypatch):
    """No network: every URL fails as a failed DNS look-up does."""
    import socket
    import urllib.error
    import urllib.request

    def fail(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
    monkeypatch.setattr(urllib.request, "urlopen", fail)


@pytest.mark.parametrize("load, what, url, layout", [
    (data.load_cifar10, "CIFAR-10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
     "cifar-10-batches-py/ (that archive, extracted)"),
    (data.pets, "Oxford-IIIT Pet", "https://www.robots.ox.ac.uk/~vgg/data/pets/data/",
     "oxford-iiit-pet/{images,annotations}"),
    (data.imagenette, "Imagenette", "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
     "imagenette2-160/{train,val}/<wnid>/"),
], ids=["cifar10", "pets", "imagenette"])
def test_download_with_no_network_says_one_line(offline, tmp_path, load, what, url, layout):
    with pytest.raises(ConnectionError) as e:
        load(root=tmp_path, download=True)
    assert str(e.value) == (f"could not download {what} from {url} ([Errno -2] Name or service not known): put "
                            f"{layout} in {tmp_path} yourself, or set RESNET_DATA to a folder holding it")
    assert e.value.__cause__ is None and e.value.__suppress_context__  # no chain of tracebacks


def test_download_is_only_for_what_is_missing(offline, data_dir, data_copy):
    # The data is there: download=True reads it and fetches nothing.
    assert len(data.load_cifar10("test", root=data_dir, download=True)) == CIFAR_SIZES[data_copy]["test"]
    assert len(data.pets("test", root=data_dir, download=True).classes) == 37
    assert len(data.imagenette("val", root=data_dir, download=True).classes) == 10


# ---------------------------------------------------------- CIFAR-10 (the real copy, or the library's sample)

# Images of each split: the full JPEG copy's, the sample's (its first 100 training images of each class, its
# last 50 as validation, the first 100 test images of each class).
CIFAR_SIZES = {"full": {"train": 45_000, "val": 5_000, "train+val": 50_000, "test": 10_000},
               "sample": {"train": 1_000, "val": 500, "train+val": 1_500, "test": 1_000}}


@pytest.fixture(scope="session")
def cifar(data_dir) -> dict[str, ImageTensors]:
    return {split: data.load_cifar10(split, root=data_dir) for split in data.CIFAR10_SPLITS}


def test_cifar10_splits(cifar, data_copy):
    sizes = {split: len(d) for split, d in cifar.items()}
    assert sizes == CIFAR_SIZES[data_copy]
    per_class = {split: torch.bincount(d.labels, minlength=10).tolist() for split, d in cifar.items()}
    assert per_class == {split: [n // 10] * 10 for split, n in CIFAR_SIZES[data_copy].items()}
    for d in cifar.values():
        assert d.images.dtype == torch.uint8 and d.images.shape[1:] == (3, 32, 32)
        assert d.labels.dtype == torch.int64 and d.images.shape[0] == d.labels.shape[0]
        assert d.classes == CIFAR10_CLASSES
        assert d.source == {"full": data.JPEG_SOURCE, "sample": data.SAMPLE_SOURCE}[data_copy]
        assert "JPEG" in d.source and "6/255" in d.source and "\n" not in d.source
    # Classes interleaved, so that any prefix is balanced.
    assert cifar["train+val"].labels[:20].tolist() == list(range(10)) * 2
    assert cifar["test"].labels[:10].tolist() == list(range(10))


def test_cifar10_val_is_last_500_of_each_class(cifar, data_copy):
    full = cifar["train+val"]
    is_val = torch.zeros(len(full), dtype=torch.bool)
    for c in range(10):
        is_val[(full.labels == c).nonzero().flatten()[-{"full": 500, "sample": 50}[data_copy]:]] = True
    assert torch.equal(cifar["val"].images, full.images[is_val])
    assert torch.equal(cifar["train"].images, full.images[~is_val])
    assert torch.equal(cifar["train"].labels, full.labels[~is_val])


def test_cifar10_pixels_are_rgb(cifar, data_copy):
    # The channel means of the training images are CIFAR10_MEAN to within JPEG's error (and the sample's
    # chance: 0.0028 on its 1,500 images); BGR would be 0.05 off.
    mean = cifar["train+val"].images.float().mean(dim=(0, 2, 3)) / 255
    assert torch.allclose(mean, torch.tensor(data.CIFAR10_MEAN), atol={"full": 0.001, "sample": 0.005}[data_copy])


def test_cifar10_cache_is_used(cifar, data_dir, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")
    monkeypatch.setattr(data, "_decode", no_decoding)
    assert torch.equal(data.load_cifar10("test", root=data_dir).images, cifar["test"].images)


def test_cifar10_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^no CIFAR-10 in .*download=True.*RESNET_DATA.*"
                                                r"cifar-10-batches-py/ or cifar10-jpeg.tar.gz$") as e:
        data.load_cifar10(root=tmp_path)
    assert "\n" not in str(e.value)
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(ValueError, match=r"cifar-10-batches-py is incomplete or corrupted .*: delete it and pass "
                                         r"download=True$"):
        data.load_cifar10(root=tmp_path)
    with pytest.raises(ValueError, match="split must be one of train, val, train\\+val, test"):
        data.load_cifar10("validation", root=tmp_path)


# ---------------------------------------------------- the JPEG copy's decoding, on small made-up archives


def _image(label: int, number: int) -> torch.Tensor:
    """A flat colour that tells the image apart: red = class, green = number."""
    return torch.tensor([20 * label + 10, 30 * number + 10, 99], dtype=torch.uint8).view(3, 1, 1).expand(3, 32, 32)


def _make_archive(path: Path, per_class: dict[str, int], classes=CIFAR10_CLASSES, shift: int = 0,
                  broken: str | None = None) -> Path:
    """A JPEG copy of CIFAR-10 with `per_class` images a class in each split; the file `broken` cut short."""
    with tarfile.open(path, "w:gz") as tf:
        for split, n in per_class.items():
            for c, name in enumerate(classes):
                for i in range(n):
                    buffer = io.BytesIO()
                    Image.fromarray((_image(c, i) + shift).permute(1, 2, 0).numpy()).save(buffer, "JPEG", quality=100)
                    info = tarfile.TarInfo(f"cifar10-jpeg/{split}/{name}/{i:04d}.jpg")
                    jpeg = buffer.getvalue()[:100] if info.name == broken else buffer.getvalue()
                    info.size = len(jpeg)
                    tf.addfile(info, io.BytesIO(jpeg))
    return path


@pytest.fixture
def small_cifar(monkeypatch, tmp_path):
    """CIFAR-10 with 3 training and 2 test images a class, 1 of each class held out for validation."""
    monkeypatch.setattr(data, "_JPEG_COUNTS", {"train": 3, "test": 2})
    monkeypatch.setattr(data, "VAL_PER_CLASS", 1)
    monkeypatch.setenv("RESNET_CACHE", str(tmp_path / "cache"))
    (tmp_path / "a").mkdir()
    return _make_archive(tmp_path / "a" / "cifar10-jpeg.tar.gz", {"train": 3, "test": 2})


def test_jpeg_copy_decoding(small_cifar, tmp_path):
    root = small_cifar.parent
    test = data.load_cifar10("test", root=root)
    assert test.labels.tolist() == list(range(10)) * 2
    expected = torch.stack([_image(c, i) for i in range(2) for c in range(10)])
    assert (test.images.int() - expected.int()).abs().max() <= 1  # JPEG at quality 100 on flat colours
    val, train = data.load_cifar10("val", root=root), data.load_cifar10("train", root=root)
    assert len(train) == 20 and len(val) == 10 and val.labels.tolist() == list(range(10))
    assert ((val.images[:, 1, 0, 0].int() - 70).abs() <= 1).all()  # the last image (number 2) of each class
    assert len(list((tmp_path / "cache").glob("cifar10-jpeg-*.pt"))) == 1
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_jpeg_copy_new_archive_new_cache(small_cifar, tmp_path):
    first = data.load_cifar10("test", root=small_cifar.parent)
    (tmp_path / "b").mkdir()
    other = _make_archive(tmp_path / "b" / "cifar10-jpeg.tar.gz", {"train": 3, "test": 2}, shift=5)
    second = data.load_cifar10("test", root=other.parent)
    assert (second.images.int() - first.images.int()).median() == 5
    assert len(list((tmp_path / "cache").glob("cifar10-jpeg-*.pt"))) == 2


def test_jpeg_copy_extracted_folder(small_cifar, tmp_path):
    with tarfile.open(small_cifar) as tf:
        tf.extractall(tmp_path / "x", filter="data")
    from_folder = data.load_cifar10("train", root=tmp_path / "x")
    assert torch.equal(from_folder.images, data.load_cifar10("train", root=small_cifar.parent).images)


def test_jpeg_copy_wrong_layout(small_cifar, tmp_path):
    expected = r"expected cifar10-jpeg/\{train,test\}/<class>/NNNN.jpg with the ten CIFAR-10 classes"
    (tmp_path / "few").mkdir()
    _make_archive(tmp_path / "few" / "cifar10-jpeg.tar.gz", {"train": 3, "test": 1})
    with pytest.raises(ValueError, match=r"has 10 test images \(\[1, 1, .*\] a class\): " + expected):
        data.load_cifar10("test", root=tmp_path / "few")
    (tmp_path / "names").mkdir()
    _make_archive(tmp_path / "names" / "cifar10-jpeg.tar.gz", {"train": 3, "test": 2},
                  classes=[f"class{i}" for i in range(10)])
    with pytest.raises(ValueError, match=r"unexpected file cifar10-jpeg/train/class0/0000.jpg in .*: " + expected):
        data.load_cifar10("test", root=tmp_path / "names")
    assert not list((tmp_path / "cache").glob("*"))  # nothing cached from a bad archive


# ------------------------------------------------------------------------------------------- CifarLoader


def _tensors(n: int) -> ImageTensors:
    """n random images; the label of image i is i, so a label tells which image a sample is."""
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return ImageTensors(images, torch.arange(n), list(CIFAR10_CLASSES), "random")


def _epoch(loader: CifarLoader, epoch: int = 0):
    loader.set_epoch(epoch)
    xs, ys = zip(*loader)
    return torch.cat(xs), torch.cat(ys)


def test_loader_lengths():
    d = _tensors(100)
    assert len(CifarLoader(d, 32, train=True)) == 3  # drops the last 4 images
    assert len(CifarLoader(d, 32, train=False)) == 4
    assert len(CifarLoader(d, 32, train=True, drop_last=False)) == 4
    assert len(CifarLoader(d, 32, train=True, subset=64)) == 2
    batches = list(CifarLoader(d, 32, train=False))
    assert [len(y) for _, y in batches] == [32, 32, 32, 4]
    loader = CifarLoader(d, 32, train=True)
    assert loader.num_examples == 100 and loader.classes == CIFAR10_CLASSES and len(list(loader)) == 3


def test_loader_determinism():
    loader = CifarLoader(_tensors(100), 25, train=True)
    x0, y0 = _epoch(loader, 0)
    x0_again, y0_again = _epoch(loader, 0)
    assert torch.equal(x0, x0_again) and torch.equal(y0, y0_again)
    x1, y1 = _epoch(loader, 1)
    assert not torch.equal(y0, y1) and sorted(y0.tolist()) == list(range(100))
    x_seed, y_seed = _epoch(CifarLoader(_tensors(100), 25, train=True, seed=1), 0)
    assert not torch.equal(y0, y_seed)


def test_loader_eval_is_the_torchvision_pipeline(cifar):
    test = cifar["test"]
    x, y = next(iter(CifarLoader(test, 64, train=False)))
    transform = data.cifar_transforms(train=False)
    expected = torch.stack([transform(image) for image in test.images[:64]])
    assert x.dtype == torch.float32 and x.shape == (64, 3, 32, 32)
    assert torch.equal(x, expected) and torch.equal(y, test.labels[:64])


def test_loader_dtype_and_channels_last():
    x, _ = next(iter(CifarLoader(_tensors(8), 8, train=True, dtype=torch.bfloat16, channels_last=True)))
    assert x.dtype == torch.bfloat16 and x.is_contiguous(memory_format=torch.channels_last)
    assert not x.is_contiguous()


def test_loader_errors():
    with pytest.raises(ValueError, match="rank must be in 0..world_size-1, got rank 2 of world_size 2"):
        CifarLoader(_tensors(8), 4, train=True, rank=2, world_size=2)
    with pytest.raises(ValueError, match=r"subset must be between 1 and 8 \(the data set's size\), got 9"):
        CifarLoader(_tensors(8), 4, train=True, subset=9)


def test_loader_shards_train():
    d = _tensors(100)
    x, y = _epoch(CifarLoader(d, 11, train=True, drop_last=False), 3)
    shards = [_epoch(CifarLoader(d, 11, train=True, drop_last=False, rank=r, world_size=3), 3) for r in range(3)]
    assert [len(ys) for _, ys in shards] == [33, 33, 33]
    assert len(set(torch.cat([ys for _, ys in shards]).tolist())) == 99  # disjoint
    for r, (xs, ys) in enumerate(shards):  # each rank: every third sample of the one-process epoch, same crops
        assert torch.equal(ys, y[r:99:3]) and torch.equal(xs, x[r:99:3])


def test_loader_shards_eval_cover_everything():
    d = _tensors(10)
    shards = [CifarLoader(d, 2, train=False, rank=r, world_size=3) for r in range(3)]
    assert [len(s) for s in shards] == [2, 2, 2]
    labels = [_epoch(s)[1].tolist() for s in shards]
    assert labels == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]


def _crops_of(image: torch.Tensor) -> torch.Tensor:
    """The 162 augmentations of one image, as cifar_transforms(False) normalises them, indexed
    (dy * 9 + dx) * 2 + flip."""
    padded = F.pad(image, (4, 4, 4, 4))
    normalise = data.cifar_transforms(train=False)
    crops = []
    for dy in range(9):
        for dx in range(9):
            crop = padded[:, dy:dy + 32, dx:dx + 32]
            crops += [normalise(crop), normalise(crop.flip(-1))]
    return torch.stack(crops)


def _identify(samples: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Index of the candidate each sample is (exactly, or the test fails)."""
    project = torch.randn(3 * 32 * 32, 8, generator=torch.Generator().manual_seed(0))
    nearest = torch.cdist(samples.flatten(1) @ project, candidates.flatten(1) @ project).argmin(1)
    assert (samples - candidates[nearest]).abs().max() < 1e-6, "a sample is none of the 162 augmentations"
    return nearest


def test_augmentation_matches_torchvision():
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    candidates = _crops_of(image)
    n, epochs = 1620, 5  # 8,100 samples each: 50 expected per cell
    same_image = ImageTensors(image.expand(n, 3, 32, 32).clone(), torch.zeros(n, dtype=torch.int64),
                              list(CIFAR10_CLASSES), "one image")
    loader = CifarLoader(same_image, n, train=True)
    ours = torch.cat([_epoch(loader, e)[0] for e in range(epochs)])
    torch.manual_seed(0)
    transform = data.cifar_transforms(train=True)
    theirs = torch.stack([transform(image) for _ in range(n * epochs)])
    expected = n * epochs / 162
    for samples in (ours, theirs):
        counts = torch.bincount(_identify(samples, candidates), minlength=162).double()
        assert (counts > 0).all()  # all 9 x 9 offsets, flipped and not
        chi2 = ((counts - expected) ** 2 / expected).sum().item()
        assert chi2 < 250, chi2  # 161 degrees of freedom: P(chi2 > 250) < 1e-4 for a uniform draw


def test_cifar_dataset(data_dir, data_copy):
    val = data.cifar_dataset("val", root=data_dir)
    assert len(val) == CIFAR_SIZES[data_copy]["val"] and val.classes == CIFAR10_CLASSES and "JPEG" in val.source
    x, y = val[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == 0
    assert torch.equal(x, data.cifar_transforms(False)(val.images[0]))  # not augmented by default
    train = data.cifar_dataset("train+val", root=data_dir)
    torch.manual_seed(0)
    assert not torch.equal(train[0][0], train[0][0])  # augmented: two draws differ


# -------------------------------------------------------------------------------------------- ImageNet-style


def test_imagenet_transforms_shapes():
    image = Image.new("RGB", (300, 200), (255, 128, 0))
    for train in (True, False):
        x = data.imagenet_transforms(train)(image)
        assert x.shape == (3, 224, 224) and x.dtype == torch.float32
        assert torch.allclose(x[:, 100, 100], (torch.tensor([1, 128 / 255, 0]) - torch.tensor(data.IMAGENET_MEAN))
                              / torch.tensor(data.IMAGENET_STD), atol=1e-5)
    assert data.imagenet_transforms(False, size=128, resize=146)(image).shape == (3, 128, 128)


def test_ten_crop():
    image = torch.randint(0, 256, (3, 256, 256), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    crops = data.ten_crop_transforms()(image)
    assert crops.shape == (10, 3, 224, 224)
    assert torch.equal(crops[4], crops[9].flip(-1))  # the centre crop and its mirror
    assert torch.equal(crops[5], crops[1].flip(-1))  # top-left of the mirror = mirrored top-right


def test_pets(data_dir, data_copy):
    trainval, test = data.pets("trainval", root=data_dir), data.pets("test", root=data_dir)
    assert len(trainval) == len(test) == {"full": 470, "sample": 74}[data_copy]
    assert len(trainval.classes) == 37 and trainval.classes[0] == "Abyssinian"
    per_breed = [{"full": 5, "sample": 2}[data_copy]] * 37
    if data_copy == "full":
        for big in ("Abyssinian", "American Bulldog", "Bengal"):  # 200 images each, the other breeds 10
            per_breed[trainval.classes.index(big)] = 100
    assert torch.bincount(torch.tensor(trainval.targets)).tolist() == per_breed
    assert torch.bincount(torch.tensor(test.targets)).tolist() == per_breed
    species = [data.pets(split, root=data_dir, target="species") for split in ("trainval", "test")]
    assert species[0].classes == ["Cat", "Dog"]
    counts = sum(torch.bincount(torch.tensor(s.targets), minlength=2) for s in species)
    assert counts.tolist() == {"full": [500, 440], "sample": [48, 100]}[data_copy]  # 12 cat breeds, 25 dog breeds
    assert trainval.source == {"full": "Oxford-IIIT Pet (oxford-iiit-pet/), trainval split",
                               "sample": "Oxford-IIIT Pet, the library's sample (resnet_lib/sample_data/"
                                         "oxford-iiit-pet/, 2 images a breed), trainval split"}[data_copy]
    x, y = species[1][0]
    assert x.shape == (3, 224, 224) and y == 0


def test_pets_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^no Oxford-IIIT Pet in .*: pass download=True, or set RESNET_DATA"):
        data.pets(root=tmp_path)
    with pytest.raises(ValueError, match="target must be 'breed' or 'species', got 'cat'"):
        data.pets(root=tmp_path, target="cat")


IMAGENETTE_PER_CLASS = {"full": {"train": 400, "val": 200}, "sample": {"train": 16, "val": 6}}


def test_imagenette(data_dir, data_copy):
    train, val = data.imagenette("train", root=data_dir), data.imagenette("val", root=data_dir)
    per_class = IMAGENETTE_PER_CLASS[data_copy]
    assert len(train) == 10 * per_class["train"] and len(val) == 10 * per_class["val"]
    assert len(train.classes) == 10 and train.classes[0] == "tench" and train.wnids[0] == "n01440764"
    assert torch.bincount(torch.tensor(train.targets)).tolist() == [per_class["train"]] * 10
    assert torch.bincount(torch.tensor(val.targets)).tolist() == [per_class["val"]] * 10
    assert val.source == {"full": "Imagenette (imagenette2-160/), val split",
                          "sample": "Imagenette, the library's sample (resnet_lib/sample_data/imagenette2-160/, "
                                    "22 images a class), val split"}[data_copy]
    x, y = val[0]
    assert x.shape == (3, 128, 128) and y == 0
    with pytest.raises(FileNotFoundError, match="^no Imagenette in "):
        data.imagenette(root=data_dir / "oxford-iiit-pet")


def test_image_folder_and_imagenet_on_imagenette(data_dir, data_copy):
    folder, images = data_dir / "imagenette2-160", 10 * IMAGENETTE_PER_CLASS[data_copy]["val"]
    ds = data.image_folder(folder, "val", size=160)
    assert len(ds) == images and len(ds.classes) == 10 and ds.classes[0] == "n01440764"
    assert ds[0][0].shape == (3, 160, 160)
    assert len(data.imagenet("val", root=folder)) == images  # the ImageNet code path on ImageNet's layout


def test_image_folder_wrong_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^no folder .*train: expected .*train/<class>/<image>$"):
        data.image_folder(tmp_path, "train")
    (tmp_path / "train").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "train" / "loose.jpg")
    with pytest.raises(ValueError, match=r"^no class folders in .*train: expected .*/<class>/<image>, one folder"):
        data.image_folder(tmp_path, "train")
    (tmp_path / "train" / "cat").mkdir()
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"^no images in 1 class folder\(s\) of .*train \(e.g. cat/\)"):
        data.image_folder(tmp_path, "train")


def test_imagenet_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^no ImageNet val folder in .*https://image-net.org.*terms.*"
                                                r"train/<wnid>/\*.JPEG.*class folders") as e:
        data.imagenet("val", root=tmp_path)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------------------------- make_loader


@pytest.mark.parametrize("workers", [0, 2])
def test_make_loader_epochs(workers):
    dataset = torch.utils.data.TensorDataset(torch.arange(20))
    loader = data.make_loader(dataset, 8, train=True, workers=workers, seed=3)
    assert len(loader) == 2 and isinstance(loader.sampler.sampler, torch.utils.data.RandomSampler)

    def order(epoch):
        loader.set_epoch(epoch)
        return torch.cat([b for (b,) in loader]).tolist()

    assert order(0) == order(0) and order(0) != order(1) and len(set(order(0))) == 16
    evaluation = data.make_loader(dataset, 8, train=False, workers=0)
    assert torch.cat([b for (b,) in evaluation]).tolist() == list(range(20))


def test_make_loader_distributed(tmp_path):
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        loader = data.make_loader(torch.utils.data.TensorDataset(torch.arange(20)), 8, train=True, workers=0)
        assert isinstance(loader.sampler.sampler, torch.utils.data.DistributedSampler)
        loader.set_epoch(5)
        assert loader.sampler.sampler.epoch == 5
    finally:
        dist.destroy_process_group()


def test_dogs_vs_cats_reads_the_folders_and_says_what_to_do_without_them(tmp_path):

    with pytest.raises(FileNotFoundError, match=r"no Dogs vs. Cats photos in .*dogs-vs-cats/train: download them "
                                                r"from https://www.kaggle.com/c/dogs-vs-cats/data"):
        data.dogs_vs_cats("train", tmp_path)
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        data.dogs_vs_cats("val", tmp_path)
    for name, n in (("cat", 2), ("dog", 3)):
        (tmp_path / "dogs-vs-cats" / "test" / name).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (40, 30), (i, 0, 0)).save(tmp_path / "dogs-vs-cats" / "test" / name / f"{name}.{i}.jpg")
    ds = data.dogs_vs_cats("test", tmp_path, size=32)
    assert ds.classes == ["cat", "dog"] and ds.targets == [0, 0, 1, 1, 1]
    assert ds.source == "Dogs vs. Cats (Kaggle, dogs-vs-cats/), test split, 5 photos"
    assert ds[0][0].shape == (3, 32, 32)
    (tmp_path / "dogs-vs-cats" / "test" / "horse").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "dogs-vs-cats" / "test" / "horse" / "h.jpg")
    with pytest.raises(ValueError, match=r"should hold the class folders cat/ and dog/, found \['cat', 'dog', "
                                         r"'horse'\]"):
        data.dogs_vs_cats("test", tmp_path)
