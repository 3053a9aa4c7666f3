"""The GPU pass: every gpu-size number of the book from one command on one CUDA GPU, in priority order, each
result written the moment it is done, so that a pass cut short keeps what finished.

1. bench     benchmarks/throughput.py's table on CUDA: CIFAR ResNet-20 and ResNet-56 at batch 128, ResNet-50 at
             224 (batch 64), with the library's GPU defaults (bf16, channels_last), without and with
             torch.compile: the library's loop against its ceiling, b/c.
2. runs      Figure 6's four networks (plain-20, plain-56, ResNet-20, ResNet-56) and the rest of Table 6
             (ResNet-32, -44, -110) by the paper's full recipe: `recipes.prepare` + `train.fit`, 64k iterations
             of 128 on the 45k split, the 5k split validated after each epoch, the 10,000 test images once at
             the end; the data on the GPU, bf16, channels_last, torch.compile with CUDA graphs. One process a
             run, all at once: a 32 px ResNet at batch 128 leaves most of a large GPU idle.
3. chapters  each chapter executed at RESNET_RUN_SIZE=gpu in a temporary copy, timed: what a Colab user waits.

Each item's time is estimated before it starts, and what does not fit in what is left of --budget is skipped
and says why: the benchmark's from a table, the runs' and chapters' from the speed the benchmark measured.
The runs are judged again on their own speed once they train side by side: if one would end after the budget,
the run of lowest priority stops. Runs write last.pt into --runs-dir after every epoch, and the same command
continues them. `--items runs` (or bench, chapters) runs only those; `--mps` shares the GPU between the runs'
processes through NVIDIA's Multi-Process Service where it works (without it their kernels take turns).

From a fresh checkout, on a machine with one CUDA GPU:

    pip install -e ".[book]" && python benchmarks/gpu_pass.py --data ~/data --download --budget 3600

--data is a folder holding cifar-10-batches-py/ (what --download fetches there) or the JPEG copy
cifar10-jpeg.tar.gz, and imagenette2-160/ for the ResNet-50 row (else the library's sample is used for it).
The pass writes into --out (default results/gpu/):

    pass.json              the plan and what became of each item (estimate, status, seconds), provenance
    benchmark.json         the throughput table, rows as in results/benchmark-cpu.json
    cifar10-resnet56.json  one run: history, test metrics on 10,000 images, provenance (GPU, torch, CUDA,
                           commit, command, date, wall time), as tools/run_cifar_cpu.py writes them
    cifar10-resnet56.pt    its weights (a state dict: models.build("cifar_resnet56").load_state_dict)
    chapters.json          each chapter's wall time at the gpu size

`--dry-run --out DIR` runs every item for a few iterations on the CPU (small batches and subsets, no
compile, the first chapter at the smoke size) and writes the same files into DIR: tests/test_gpu_pass.py.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import throughput  # benchmarks/throughput.py, beside this file
from resnet_lib import data, recipes, train
from resnet_lib.checkpoint import atomic_write
from resnet_lib.provenance import command_line, provenance, timestamp

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------- config

BENCH_MODELS = ("cifar_resnet20", "cifar_resnet56", "resnet50")
RUNS = ("cifar10-resnet20", "cifar10-resnet56", "cifar10-plain20", "cifar10-plain56",  # Figure 6 (and Table 6)
        "cifar10-resnet32", "cifar10-resnet44", "cifar10-resnet110")                   # the rest of Table 6
CHAPTERS = tuple(sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")))
# The depths of the networks a chapter trains by the full recipe at the gpu size (eagerly, as fit's default).
CHAPTER_TRAINS = {"01_why_depth_is_hard": (20, 56), "02_residual_learning": (20, 56, 20, 56),
                  "05_cifar10_from_scratch": (20, 56, 20, 56)}
FULL_ITERATIONS = 64_000

# Seconds, before anything is measured. GPU: guesses for one H100-class GPU (the benchmark replaces `step` and
# `compile` with measured numbers, and each run its own after its first epochs). Dry run: this CPU.
GUESS = {
    "gpu": {"bench": {"cifar_resnet20": 60, "cifar_resnet56": 90, "resnet50": 150},
            "step": {20: 0.003, 56: 0.007},          # an iteration of fit, compiled (the runs)
            "eager_step": {20: 0.004, 56: 0.010},    # ... not compiled (the chapters)
            "compile": {20: 60, 56: 100},            # compiling the training graph
            "chapter": {"00_models_at_a_glance": 30, "03_basic_vs_bottleneck": 60, "04_resnet_vs_vgg": 120,
                        "06_transfer_pets": 600, "07_imagenet_at_scale": 300}},
    "dry": {"bench": {"cifar_resnet20": 10, "cifar_resnet56": 20, "resnet50": 20},
            "step": {20: 0.05, 56: 0.15}, "eager_step": {20: 0.05, 56: 0.15}, "compile": {20: 0, 56: 0},
            "chapter": {}},
}
START_S = 15         # a run's process: imports, data to the GPU, the test set at the end
EVAL_SHARE = 1.05    # validating 5,000 images after each of the ~180 epochs
CHAPTER_EXTRA_S = 60  # a chapter's cells around its training
END_MARGIN_S = 20    # kept free at the end of the budget: stopping runs, writing pass.json
# The dry run: batches, subsets and lengths a 2-core CPU does in seconds.
DRY = {"batch": 8, "subset": 256, "iterations": 2, "test_subset": 100, "bench_batch": 32, "bench_batch_224": 1,
       "chapters": ("00_models_at_a_glance",)}


# ---------------------------------------------------------------------------------------------- files

def write_json(path: Path, obj) -> None:
    text = json.dumps(obj, indent=1) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def machine(device: str) -> dict:
    """Provenance: the machine, torch, the commit, the date; the GPU and CUDA where there is one."""
    origin = provenance(ROOT, command_line(__file__, sys.argv[1:], ROOT), device)
    if torch.device(device).type == "cuda":
        origin.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version())
    return origin


def depth_of(name: str) -> int:
    """20 for "cifar10-resnet20", "cifar10-plain20" and "cifar_resnet20"."""
    return int(name.rsplit("resnet" if "resnet" in name else "plain", 1)[-1])


def read_history(folder: Path) -> dict:
    """A run's history.json as fit last wrote it ({} before its first epoch)."""
    try:
        return json.loads((folder / "history.json").read_text())
    except (OSError, ValueError):
        return {}


class Report:
    """pass.json: every item with its estimate and what became of it, rewritten at each change."""

    def __init__(self, args, started: float):
        self.path, self.started, self.items = args.out / "pass.json", started, []
        self.head = {"what": "the GPU pass (benchmarks/gpu_pass.py): items in priority order",
                     "dry_run": args.dry_run, "budget_s": args.budget, "compile_mode": args.compile_mode,
                     "runs_at_once": args.jobs, "provenance": machine(args.device)}

    def __call__(self, item: str, status: str, **fields) -> None:
        entry = next((e for e in self.items if e["item"] == item), None)
        if entry is None:
            entry = {"item": item}
            self.items.append(entry)
        entry.update(status=status, **{k: round(v, 1) if isinstance(v, float) else v for k, v in fields.items()})
        print(f"[{time.time() - self.started:6.0f} s] {item}: {status}", flush=True)
        self.write()

    def write(self) -> None:
        wall = round(time.time() - self.started, 1)
        write_json(self.path, {**self.head, "wall_seconds": wall, "items": self.items})


# ---------------------------------------------------------------------------------------------- estimates

class Costs:
    """Seconds each item is expected to take: from the benchmark's rows once there are any, else GUESS."""

    def __init__(self, dry_run: bool):
        self.dry_run, self.guess = dry_run, GUESS["dry" if dry_run else "gpu"]
        self.measured = {True: {}, False: {}}  # compiled? -> {depth: (seconds an iteration, warm-up seconds)}

    def learn(self, rows: list[dict]) -> None:
        for r in rows:
            if r["model"].startswith("cifar_resnet"):
                compiled = "compile on" in r["library"]
                self.measured[compiled][depth_of(r["model"])] = (r["batch_size"] / r["b"], r["warmup_seconds"]["b"])

    @staticmethod
    def _per_depth(depth: int, points: dict) -> float:
        """Linear in depth, as the work of a CIFAR ResNet is: through the two depths known, or in proportion
        to the one known."""
        (d0, y0), *rest = sorted(points.items())
        if not rest:
            return y0 * depth / d0
        d1, y1 = rest[0]
        return max(y0 + (y1 - y0) * (depth - d0) / (d1 - d0), 0.0)

    def step(self, depth: int, compiled: bool = True) -> float:
        points = {d: s for d, (s, _) in self.measured[compiled].items()}
        return self._per_depth(depth, points or self.guess["step" if compiled else "eager_step"])

    def compile(self, depth: int) -> float:
        points = {d: w for d, (_, w) in self.measured[True].items()}
        return self._per_depth(depth, points or self.guess["compile"])

    def run(self, depth: int, iterations: int, compiled: bool) -> float:
        return START_S + (self.compile(depth) if compiled else 0) + iterations * self.step(depth, compiled) * EVAL_SHARE

    def chapter(self, stem: str) -> float:
        if stem in CHAPTER_TRAINS and not self.dry_run:  # (a dry run runs chapters at the smoke size)
            return CHAPTER_EXTRA_S + sum(FULL_ITERATIONS * self.step(d, compiled=False) for d in CHAPTER_TRAINS[stem])
        return self.guess["chapter"].get(stem, 30)


# ---------------------------------------------------------------------------------------------- 1. bench

def bench(args, deadline: float, costs: Costs, report: Report) -> None:
    gpu = not args.dry_run
    ns = argparse.Namespace(data=args.data, compile=gpu, repeats=3 if gpu else 1, warmup=10 if gpu else 1,
                            steps=30 if gpu else 1, batch_size=128 if gpu else DRY["bench_batch"],
                            batch_size_224=64 if gpu else DRY["bench_batch_224"])
    device = torch.device(args.device)
    path, rows, started = args.out / "benchmark.json", [], time.time()
    for name in BENCH_MODELS:
        item, estimate = f"bench {name}", costs.guess["bench"][name]
        if time.time() + estimate > deadline:
            report(item, "skipped: does not fit", estimate_s=estimate, left_s=deadline - time.time())
            continue
        report(item, "running", estimate_s=estimate)
        t0 = time.time()
        try:
            if name == "resnet50":  # the Imagenette folders if --data has them, else the library's sample
                root = data.data_root(args.data)
                root = root if (root / "imagenette2-160").is_dir() else data.SAMPLE_ROOT
                new = throughput.resnet50_rows(argparse.Namespace(**{**vars(ns), "data": root}), device)
                source = data.imagenette("train", root).source
            else:
                new = throughput.cifar_rows(name, ns, device)
                source = data.load_cifar10("train", args.data).source
        except Exception as e:  # a missing data set, an out-of-memory: the other items still run
            report(item, f"failed: {type(e).__name__}: {e}", estimate_s=estimate, wall_s=time.time() - t0)
            continue
        rows += [{**r, "data": source} for r in throughput.summarise(new)]
        costs.learn(new)
        settings = throughput.describe_settings(device, compile=False)
        summary = (f"training throughput on {device.type}; {ns.warmup} warm-up steps, then the median of "
                   f"{ns.repeats} rounds of {ns.steps} steps")
        print(throughput.table(rows, summary, []), flush=True)
        write_json(path, {"what": "images/s of the whole training step: (a) seed-style, (b) library, (c) ceiling",
                          **machine(args.device), "wall_seconds": round(time.time() - started, 1),
                          "device": device.type, "warmup_steps": ns.warmup,
                          "steps": ns.steps, "repeats": ns.repeats, "library_settings": settings,
                          "b_over_c": {f"{r['model']}, {r['library']}": round(r["b_over_c"], 3) for r in rows},
                          "rows": rows})
        report(item, "done", estimate_s=estimate, wall_s=time.time() - t0, file=path.name)
    if device.type == "cuda":  # the runs' processes get the GPU to themselves
        torch._dynamo.reset()
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------- 2. runs

def train_one(args) -> None:
    """One run, in a process of its own: the recipe, `fit` (continuing from last.pt if there is one), the
    test set, then the result files."""
    name, gpu = args.run, not args.dry_run
    t0 = time.perf_counter()
    origin = machine(args.device)
    if gpu:
        torch.backends.cudnn.benchmark = True  # one batch shape throughout: let cuDNN pick its fastest kernels
    else:
        torch.set_num_threads(1)
    short = {} if gpu else {"iterations": DRY["iterations"], "batch_size": DRY["batch"]}
    model, train_loader, val_loader, config = recipes.prepare(
        name, data_root=args.data, subset=None if gpu else DRY["subset"], device=args.device, channels_last=True,
        compile=gpu, progress=False, **short)
    # fit compiles with torch.compile's default mode; the mode's options (CUDA graphs) apply while it compiles.
    mode = torch._inductor.list_mode_options(args.compile_mode) if gpu else None
    with torch._inductor.config.patch(mode) if mode else contextlib.nullcontext():
        history = train.fit(model, train_loader, val_loader, config, out_dir=args.runs_dir / name, resume=True)
    recipe = recipes.get_recipe(name)
    test_loader = recipes.split_loader(recipe, recipe.test_split, config, data_root=args.data,
                                       subset=None if gpu else DRY["test_subset"])
    m = train.evaluate(model, test_loader, amp=config.amp, channels_last=True)
    weights = args.out / f"{name}.pt"
    atomic_write(weights, lambda f: torch.save(model.state_dict(), f))
    last = history.records[-1]
    write_json(args.out / f"{name}.json", {
        "recipe": name, "model": config.model, "run_size": "gpu" if gpu else "dry-run",
        "provenance": {**origin, "wall_seconds": round(time.perf_counter() - t0, 1), "data": train_loader.source,
                       "train_images": len(train_loader.labels), "val_images": len(val_loader.labels),
                       "compile_mode": args.compile_mode if gpu else None, "runs_at_once": args.jobs,
                       "finished": timestamp()},
        "config": config.to_dict(), "epochs": len(history.records), "resumes": history.meta.get("resumes", []),
        "train_seconds": round(sum(r["seconds"] + r.get("eval_seconds", 0.0) for r in history.records), 1),
        "iterations": last["iteration"],
        "final_val_error_pct": 100 * (1 - last["val_top1"]) if "val_top1" in last else None,
        "test": {"split": recipe.test_split, "loss": m["loss"], "top1": m["top1"], "error_pct": 100 * (1 - m["top1"]),
                 "count": m["count"], "per_class": m["per_class"].tolist(), "confusion": m["confusion"].tolist()},
        "weights": weights.name, "history": history.records})


class Job:
    """A run in its own process (and process group: compile workers go with it)."""

    def __init__(self, name: str, args, estimate: float):
        self.name, self.estimate, self.started = name, estimate, time.time()
        self.folder = args.runs_dir / name
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, __file__, "--run", name, *args.forward]
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1",
                   TORCHINDUCTOR_COMPILE_THREADS=str(max(1, (os.cpu_count() or 1) // args.jobs)))
        self.log = open(self.folder / "log.txt", "w")
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        # Its speed counts from its second epoch in this process on (the first one compiles).
        self.judge_from = len(self.history().get("records", [])) + 2

    def history(self) -> dict:
        return read_history(self.folder)

    def predicted_end(self) -> float | None:
        """When it will end at the speed of its last epoch; None until that speed counts (judge_from)."""
        h = self.history()
        records, total = h.get("records", []), h.get("meta", {}).get("total_iterations")
        if len(records) < self.judge_from or not total:
            return None
        r, before = records[-1], records[-2]
        per_iteration = (r["seconds"] + r.get("eval_seconds", 0.0)) / (r["iteration"] - before["iteration"])
        return time.time() + (total - r["iteration"]) * per_iteration + START_S

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()

    def where(self) -> str:
        records = self.history().get("records", [])
        done = records[-1]["iteration"] if records else 0
        return f"at iteration {done}" + (f"; {self.folder / 'last.pt'} continues it" if records else "")

    def tail(self) -> str:
        self.log.flush()
        return (self.folder / "log.txt").read_text(errors="replace")[-1500:]


@contextlib.contextmanager
def multi_process_service(report: Report):
    """NVIDIA's Multi-Process Service while the runs train: their kernels then share the GPU's multiprocessors
    at once, where processes otherwise take turns on the whole GPU. Used only if a process can compute
    through it; quit at the end."""
    control = shutil.which("nvidia-cuda-mps-control")
    folder = Path(tempfile.mkdtemp(prefix="mps-"))
    env = {"CUDA_MPS_PIPE_DIRECTORY": str(folder / "pipe"), "CUDA_MPS_LOG_DIRECTORY": str(folder / "log")}
    for path in env.values():
        Path(path).mkdir()
    works = False
    if control and subprocess.run([control, "-d"], env={**os.environ, **env}).returncode == 0:
        probe = [sys.executable, "-c", "import torch; print(torch.ones(2, device='cuda').sum().item())"]
        try:
            works = subprocess.run(probe, env={**os.environ, **env}, timeout=120).returncode == 0
        except subprocess.TimeoutExpired:
            pass
    report("mps", "on" if works else "off: " + ("it does not work here" if control else
                                               "no nvidia-cuda-mps-control on the PATH") + "; runs take turns")
    saved = {k: os.environ.get(k) for k in env}
    if works:
        os.environ.update(env)  # the runs' processes connect to it
    try:
        yield
    finally:
        if control:
            subprocess.run([control], input="quit\n", text=True, env={**os.environ, **env})
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(folder, ignore_errors=True)


def runs(args, deadline: float, costs: Costs, report: Report) -> None:
    gpu = not args.dry_run
    iterations = FULL_ITERATIONS if gpu else DRY["iterations"]
    pending, running = list(args.recipes), []
    while pending or running:
        while pending and len(running) < args.jobs:
            name = pending.pop(0)
            result = args.out / f"{name}.json"
            if result.is_file() and json.loads(result.read_text())["iterations"] == iterations:
                report(f"run {name}", "done by an earlier pass", files=[result.name, f"{name}.pt"])
                continue
            done_before = read_history(args.runs_dir / name).get("records", [])  # an earlier pass's, cut short
            left_iterations = iterations - (done_before[-1]["iteration"] if done_before else 0)
            estimate = costs.run(depth_of(name), left_iterations, compiled=gpu)
            if time.time() + estimate > deadline:
                report(f"run {name}", "skipped: does not fit", estimate_s=estimate, left_s=deadline - time.time())
                continue
            running.append(Job(name, args, estimate))
            report(f"run {name}", "running", estimate_s=estimate)
        time.sleep(0.5 if args.dry_run else 5)
        for job in [j for j in running if j.proc.poll() is not None]:
            running.remove(job)
            ok = job.proc.returncode == 0 and (args.out / f"{job.name}.json").is_file()
            ending = {"files": [f"{job.name}.json", f"{job.name}.pt"]} if ok else {"log_tail": job.tail()}
            job.log.close()
            report(f"run {job.name}", "done" if ok else f"failed (exit code {job.proc.returncode})",
                   estimate_s=job.estimate, wall_s=time.time() - job.started, **ending)
        if time.time() > deadline:
            for job in running:
                job.stop()
                report(f"run {job.name}", f"cut short at the budget {job.where()}", estimate_s=job.estimate,
                       wall_s=time.time() - job.started)
            for name in pending:
                report(f"run {name}", "skipped: does not fit", left_s=0.0)
            return
        # Measured: will every running run end in time, at the speed it has now? If not, stop the run of
        # lowest priority, and judge the others again once each has trained another epoch at the new speed.
        ends = {j: end for j in running if (end := j.predicted_end()) is not None}
        late = max(ends, key=ends.get, default=None)
        if late is not None and ends[late] > deadline:
            victim = running.pop()  # started last: lowest priority
            victim.stop()
            report(f"run {victim.name}", f"stopped: at the speed of {len(running) + 1} at once, {late.name} "
                   f"would end {ends[late] - deadline:.0f} s after the budget; stopped {victim.where()}",
                   estimate_s=victim.estimate, wall_s=time.time() - victim.started)
            for job in running:
                job.judge_from = len(job.history().get("records", [])) + 1


# ---------------------------------------------------------------------------------------------- 3. chapters

def chapters(args, deadline: float, costs: Costs, report: Report) -> None:
    size = "smoke" if args.dry_run else "gpu"
    path, timed = args.out / "chapters.json", []
    if importlib.util.find_spec("nbconvert") is None:
        for stem in args.chapters:
            report(f"chapter {stem}", "skipped: nbconvert is not installed (pip install -e '.[book]')")
        return
    for stem in sorted(args.chapters, key=costs.chapter):  # the quickest first: the most chapters in the budget
        item, estimate, left = f"chapter {stem}", costs.chapter(stem), deadline - time.time()
        if estimate > left:
            report(item, "skipped: does not fit", estimate_s=estimate, left_s=left)
            continue
        report(item, "running", estimate_s=estimate)
        t0 = time.time()
        with tempfile.TemporaryDirectory() as tmp:  # the chapter's files (runs/, downloads) go there
            shutil.copy(ROOT / "notebooks" / f"{stem}.ipynb", tmp)
            env = dict(os.environ, RESNET_RUN_SIZE=size, RESNET_PROGRESS="0",
                       RESNET_DATA=str(data.data_root(args.data)))
            with open(Path(tmp) / "log.txt", "w") as log:
                proc = subprocess.Popen([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
                                         "--ExecutePreprocessor.timeout=-1", "--output", f"{stem}.executed",
                                         f"{stem}.ipynb"], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
                try:
                    status = "done" if proc.wait(timeout=max(1.0, left)) == 0 else "failed"
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)  # nbconvert and its kernel
                    proc.wait()
                    status = "stopped at the budget"
            tail = (Path(tmp) / "log.txt").read_text(errors="replace")[-1500:]
        wall = time.time() - t0
        timed.append({"chapter": stem, "run_size": size, "status": status, "wall_seconds": round(wall, 1),
                      **({"log_tail": tail} if status != "done" else {})})
        write_json(path, {"what": f"each chapter executed at RESNET_RUN_SIZE={size}, timed",
                          **machine(args.device), "chapters": timed})
        report(item, status, estimate_s=estimate, wall_s=wall, file=path.name)


# ---------------------------------------------------------------------------------------------- main

def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="data root (default $RESNET_DATA, else ~/.cache/resnet-book/data)")
    p.add_argument("--download", action="store_true", help="download CIFAR-10 into --data if it is not there")
    p.add_argument("--out", type=Path, help="where the results go (default results/gpu)")
    p.add_argument("--runs-dir", type=Path, help="the runs' checkpoints (default runs/gpu, OUT/runs in a dry run)")
    p.add_argument("--budget", type=float, default=3600, help="seconds for the whole pass (default 3600)")
    p.add_argument("--items", nargs="+", default=["bench", "runs", "chapters"], choices=["bench", "runs", "chapters"])
    p.add_argument("--recipes", nargs="+", default=list(RUNS), help="the runs, in priority order")
    p.add_argument("--chapters", nargs="+", help="the chapters (default all; the first in a dry run)")
    p.add_argument("--jobs", type=int, help="runs at once (default all of them; 2 in a dry run)")
    p.add_argument("--compile-mode", default="reduce-overhead",
                   help="torch.compile mode of the runs: reduce-overhead (CUDA graphs), max-autotune, default")
    p.add_argument("--mps", action="store_true",
                   help="run the runs under NVIDIA's Multi-Process Service (if it works here): kernels of several "
                        "runs side by side")
    p.add_argument("--dry-run", action="store_true", help="every item for a few iterations on the CPU")
    p.add_argument("--run", help=argparse.SUPPRESS)  # one run, in its own process (the pass starts these)
    args = p.parse_args(argv)
    if args.dry_run and args.out is None:
        p.error("--dry-run needs --out DIR (it never writes into results/)")
    started = time.time()
    args.out = args.out or ROOT / "results" / "gpu"
    args.runs_dir = args.runs_dir or (args.out / "runs" if args.dry_run else ROOT / "runs" / "gpu")
    args.chapters = args.chapters or (list(DRY["chapters"]) if args.dry_run else list(CHAPTERS))
    args.jobs = args.jobs or (2 if args.dry_run else len(args.recipes))
    args.device = "cpu" if args.dry_run else "cuda"
    # what each run's process is told: the same data, folders and settings
    args.forward = ["--out", str(args.out), "--runs-dir", str(args.runs_dir), "--compile-mode", args.compile_mode,
                    "--jobs", str(args.jobs), *(["--data", args.data] if args.data else []),
                    *(["--dry-run"] if args.dry_run else [])]
    if args.run:
        return train_one(args)
    if not args.dry_run and not torch.cuda.is_available():
        p.error("no CUDA GPU here: the pass is for one (--dry-run runs it on the CPU)")

    if args.dry_run:
        torch.set_num_threads(1)  # small shared machines (CI): threads that wait for a busy core cost more
    args.out.mkdir(parents=True, exist_ok=True)
    deadline = started + args.budget - END_MARGIN_S
    report, costs = Report(args, started), Costs(args.dry_run)
    if "bench" not in args.items and (args.out / "benchmark.json").is_file():  # an earlier pass measured it
        costs.learn(json.loads((args.out / "benchmark.json").read_text())["rows"])
    for split in ("train", "test"):  # download or decode once, before the runs' processes all want it
        data.load_cifar10(split, args.data, download=args.download)
    if "bench" in args.items:
        bench(args, deadline, costs, report)
    if "runs" in args.items:
        with multi_process_service(report) if args.mps and not args.dry_run else contextlib.nullcontext():
            runs(args, deadline, costs, report)
    if "chapters" in args.items:
        chapters(args, deadline, costs, report)
    report.write()
    print(f"wrote {args.out} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
