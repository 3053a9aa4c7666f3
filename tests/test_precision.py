"""benchmarks/precision.py: each model in each setting of chapter 7's table, timed round by round."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_setting_of_every_model_is_timed_and_compared_with_float32(tmp_path):
    out = tmp_path / "precision.json"
    done = subprocess.run([sys.executable, "benchmarks/precision.py", "--models", "cifar_resnet20", "resnet18",
                           "--batch", "4", "--batch-224", "1", "--warmup", "1", "--steps", "1", "--repeats", "2",
                           "--threads", "1", "--json", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    settings = ["float32", "float32, channels_last", "bfloat16 autocast", "bfloat16 autocast, channels_last"]
    assert [(r["model"], r["setting"]) for r in result["rows"]] == [(m, s) for m in ("cifar_resnet20", "resnet18")
                                                                    for s in settings]
    assert [(r["image_size"], r["batch_size"]) for r in result["rows"]] == [(32, 4)] * 4 + [(224, 1)] * 4
    for r in result["rows"]:
        assert len(r["rounds"]) == 2  # the median of two rounds (stored rounded to 0.01)
        assert abs(r["images_per_s"] - sum(r["rounds"]) / 2) <= 0.01
    assert [r["vs_float32"] for r in result["rows"] if r["setting"] == "float32"] == [1.0, 1.0]
    assert result["threads"] == 1 and result["command"].startswith("python benchmarks/precision.py")
