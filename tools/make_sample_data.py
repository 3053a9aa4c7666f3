"""Write resnet_lib/sample_data/, the small real sample the library falls back to at the smoke run size, from
the book's data folder (the full JPEG copy of CIFAR-10 and the subsets of Oxford-IIIT Pet and Imagenette):

    python tools/make_sample_data.py ../shared/data

The same data folder gives the same bytes: files in sorted order, fixed times, fixed JPEG settings. What the
sample holds, and under which terms, is in resnet_lib/sample_data/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import io
import shutil
import tarfile
from collections import defaultdict
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resnet_lib" / "sample_data"

# CIFAR-10: the first 100 training images of each class and its last 50 (the last 50 are the sample's
# validation split, as the last 500 are the full copy's), and the first 100 test images of each class.
CIFAR_TRAIN = [*range(100), *range(4950, 5000)]
CIFAR_TEST = range(100)
PETS_PER_SPLIT = 2         # images of each breed in trainval and in test: the first ones listed
PETS_SIDE = 128            # shorter side in pixels
IMAGENETTE = {"train": 16, "val": 6}  # images of each class: the first ones by file name
JPEG_QUALITY = 80


def cifar(source: Path, out: Path) -> None:
    wanted = {f"cifar10-jpeg/{split}/{{}}/{i:04d}.jpg" for split, numbers in (("train", CIFAR_TRAIN),
                                                                             ("test", CIFAR_TEST)) for i in numbers}
    members = {}
    with tarfile.open(source / "cifar10-jpeg.tar.gz") as tf:
        for m in tf:
            parts = m.name.split("/")
            if m.isfile() and len(parts) == 4 and "/".join(parts[:2] + ["{}", parts[3]]) in wanted:
                members[m.name] = tf.extractfile(m).read()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(members[name]), 0, 0o644
            tf.addfile(info, io.BytesIO(members[name]))
    with open(out / "cifar10-jpeg.tar.gz", "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
        gz.write(buffer.getvalue())


def _save(image: Image.Image, path: Path, side: int | None = None) -> None:
    image = image.convert("RGB")
    if side is not None and min(image.size) > side:
        scale = side / min(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=JPEG_QUALITY, optimize=True)


def pets(source: Path, out: Path) -> None:
    src, dst = source / "oxford-iiit-pet", out / "oxford-iiit-pet"
    for split in ("trainval", "test"):
        kept, per_breed = [], defaultdict(int)
        for line in (src / "annotations" / f"{split}.txt").read_text().splitlines():
            name, breed = line.split()[:2]
            if per_breed[breed] < PETS_PER_SPLIT:
                per_breed[breed] += 1
                kept.append(line)
                with Image.open(src / "images" / f"{name}.jpg") as image:
                    _save(image, dst / "images" / f"{name}.jpg", PETS_SIDE)
        (dst / "annotations").mkdir(parents=True, exist_ok=True)
        (dst / "annotations" / f"{split}.txt").write_text("\n".join(kept) + "\n")


def imagenette(source: Path, out: Path) -> None:
    for split, n in IMAGENETTE.items():
        for folder in sorted((source / "imagenette2-160" / split).iterdir()):
            for path in sorted(folder.glob("*.JPEG"))[:n]:
                with Image.open(path) as image:
                    _save(image, out / "imagenette2-160" / split / folder.name / path.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the book's data folder (e.g. ../shared/data)")
    source = parser.parse_args().data
    for name in ("cifar10-jpeg.tar.gz", "oxford-iiit-pet", "imagenette2-160"):
        path = OUT / name
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    cifar(source, OUT)
    pets(source, OUT)
    imagenette(source, OUT)
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT.relative_to(ROOT)}: {size / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
