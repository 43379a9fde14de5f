"""How close training runs to the CPU's (or GPU's) matmul speed limit.

FLOPs are counted as the matrix products of one training step, 2*m*n*k each:
forward, the input projection once per sequence (2 x 2*784*N per pair) and T-1
recurrent products with the 2N x 2N matrix (2*(2N)^2 each; the first step has h = 0);
backward, the input-weight gradient (the images need none) and, per recurrent product,
one for the state gradient and one for the weight gradient; readouts likewise.
Element-wise work (tanh, optimisers, Deep-R) is not counted: it is the overhead.
The common shortcut "backward = 2 x forward", with the first step's product with h = 0
counted too, gives about a third more (2.15 against 1.60 MFLOP per pair for the standard
model, ~100 GFLOP per model-epoch); the project's speed target (1.3 x the floor) was set
under that count, so the benchmark prints the ratio under it as well (chapter "Training").
The floor is FLOPs / throughput, with the throughput measured in the same process on the
same products, so that a busy machine moves both numbers together. One more epoch is
timed phase by phase (batch, loss and gradients, Adadelta, Deep-R) to show where the time
beyond the products goes. With ``workers`` > 1 it also times that many models trained at
once in separate processes that share the threads, as ``sweep --workers`` trains them,
and the last line is their ratio: the time per model-epoch is then the wall time over all
the model-epochs they did together, and the floor is measured by those processes too, all
at once, since several one-thread products side by side can outrun one two-thread product.
"""

from __future__ import annotations

import multiprocessing
import platform
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import torch

from modlib.model import ModelConfig, require
from modlib.train import Split, TrainConfig, new_model, train_epoch


def flops_per_pair(cfg: ModelConfig) -> dict[str, int]:
    """Matmul FLOPs of one training step, per pair, by part."""
    n2, d, c = 2 * cfg.n_hidden, cfg.n_inputs, cfg.n_classes
    head = 2 * (2 * cfg.n_hidden * cfg.bottleneck + 2 * cfg.bottleneck * c) if cfg.bottleneck else 2 * n2 * c
    forward = 2 * d * n2 + (cfg.n_steps - 1) * 2 * n2 * n2 + head
    backward = 2 * d * n2 + 2 * (cfg.n_steps - 1) * 2 * n2 * n2 + 2 * head
    return {"forward": forward, "backward": backward, "total": forward + backward}


def conventional_flops_per_pair(cfg: ModelConfig) -> int:
    """Matmul FLOPs of one training step, per pair, as 3 x forward with all T recurrent products:
    what a step would cost if the backward pass also computed the images' gradient and the
    products with h = 0 were not skipped."""
    counts = flops_per_pair(cfg)
    return 3 * (counts["forward"] + 2 * (2 * cfg.n_hidden) ** 2)


def matmul_throughput(cfg: ModelConfig, batch: int, device: str = "cpu", seconds: float = 1.0) -> float:
    """FLOP/s of the step's products alone (no autograd, no element-wise work)."""
    n = cfg.n_hidden
    x = torch.rand(2, batch, cfg.n_inputs, device=device)
    w_ih = torch.rand(2, cfg.n_inputs, n, device=device)
    h = torch.rand(batch, 2 * n, device=device)
    w = torch.rand(2 * n, 2 * n, device=device)
    dz = torch.rand(2, batch, n, device=device)

    def step():
        torch.bmm(x, w_ih)                       # input projection
        for _ in range(cfg.n_steps - 1):
            torch.mm(h, w)                       # forward recurrence
            torch.mm(h, w.t()), torch.mm(h.t(), h)  # backward: state and weight gradients
        torch.bmm(x.transpose(1, 2), dz)         # input-weight gradient

    flops = 2 * batch * (2 * cfg.n_inputs * n) * 2 + batch * 3 * (cfg.n_steps - 1) * 2 * (2 * n) ** 2
    step()
    sync(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        count += 1
    sync(device)
    return flops * count / (time.perf_counter() - start)


def processor(device: str = "cpu") -> str:
    """What ran the products: a GPU's name, or the CPU's model name (from /proc/cpuinfo where
    there is one) and the widest vector instructions PyTorch uses on it. The floor depends on
    it, so a ratio means little without it: the same step gave 1.2 times the floor on one
    machine and 1.9 on one whose products were half as fast again (chapter "Training")."""
    if str(device).startswith("cuda"):  # a cluster's login node may have none: its tasks' nodes do
        return torch.cuda.get_device_name(torch.device(device)) if torch.cuda.is_available() else "no CUDA GPU here"
    name, cpuinfo = platform.processor() or platform.machine(), Path("/proc/cpuinfo")
    if cpuinfo.exists():
        name = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                     if line.startswith("model name")), name)
    return f"{name}, {torch.backends.cpu.get_cpu_capability()}"


def sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


class PhaseClock:
    """Wall time per phase of a training step: called with a phase's name as it ends, it adds
    the time since the previous call (synchronising a GPU first)."""

    def __init__(self, device: str):
        self.device, self.seconds = device, {}
        sync(device)
        self.last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        sync(self.device)
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self.last
        self.last = now


def seconds_per_epoch(model_cfg: ModelConfig, train_cfg: TrainConfig, epochs: int = 2):
    """Best wall time of a full training epoch (after a warm-up epoch), its pair count, and,
    from one more epoch timed phase by phase, the mean seconds per step of each phase."""
    model, dense, sparse = new_model(model_cfg, train_cfg)
    split = Split.for_config("train", train_cfg)
    timed = []  # (seconds, pairs) per epoch
    for epoch in range(epochs + 2):
        pairs = split.pairs(epoch, train_cfg)
        clock = PhaseClock(train_cfg.device) if epoch > epochs else None
        start = time.perf_counter()
        train_epoch(model, dense, sparse, split, pairs, train_cfg, epoch, progress=False, clock=clock)
        sync(train_cfg.device)
        timed.append((time.perf_counter() - start, len(pairs[0])))
    seconds, n_pairs = min(timed[1:-1])
    n_steps = -(-len(pairs[0]) // train_cfg.batch_size)
    return seconds, n_pairs, {phase: s / n_steps for phase, s in clock.seconds.items()}


def seconds_as_ensemble(model_cfg: ModelConfig, train_cfg: TrainConfig, members: int, epochs: int = 1):
    """Wall time and pairs of ``members`` models (seeds as `worker_configs`) trained as one ensemble
    (`modlib.ensemble`) for ``epochs`` epochs after a warm-up epoch, and the throughput of the
    step's products on all their pairs at once."""
    from modlib.ensemble import Ensemble

    cfgs = worker_configs(train_cfg, members)
    ensemble = Ensemble([model_cfg] * members, cfgs)
    split = Split.for_config("train", train_cfg)
    seconds, n_pairs = 0.0, 0
    for epoch in range(epochs + 1):
        pairs = [split.pairs(1000 * cfg.seed + epoch, cfg) for cfg in cfgs]
        sync(train_cfg.device)
        start = time.perf_counter()
        ensemble.train_epoch(split, pairs, [True] * members, epoch)
        sync(train_cfg.device)
        if epoch:  # the first epoch warms up
            seconds += time.perf_counter() - start
            n_pairs += sum(len(i0) for i0, _ in pairs)
    return seconds, n_pairs, matmul_throughput(model_cfg, train_cfg.batch_size * members, train_cfg.device)


def threads_per_worker(workers: int) -> int:
    """Threads for each of ``workers`` processes that share this process's threads."""
    return max(1, torch.get_num_threads() // workers)


def run_processes(processes: list, grace: float) -> list[int]:
    """Start ``processes`` and wait for them all; returns the indices of those that failed
    (non-zero exit). On Ctrl-C, which reaches them too, they get ``grace`` seconds to end
    (a sweep's workers merge what they finished) before it is raised again."""
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        for process in processes:
            process.join(timeout=grace)
        raise
    return [w for w, process in enumerate(processes) if process.exitcode]


def seconds_side_by_side(model_cfg: ModelConfig, train_cfg: TrainConfig, workers: int, epochs: int = 2):
    """Wall time and pairs of ``workers`` models (`worker_configs`) each training ``epochs`` epochs
    at the same time, one process each, sharing this process's threads; timed from a common
    start after each has warmed up with one epoch. Also the throughput of the step's products
    when the processes all run them at once (summed over them). Plain processes that write
    their figures into shared memory, as the sweep's workers: with a pool, one worker's failure
    left the others waiting at the start for ever."""
    context = multiprocessing.get_context("spawn")  # as the sweep's workers
    start, timed = context.Barrier(workers), context.Array("d", 3 * workers)  # (seconds, pairs, FLOP/s) each
    processes = [context.Process(target=timed_worker, args=(model_cfg, cfg, threads_per_worker(workers), start,
                                                            epochs, timed, w))
                 for w, cfg in enumerate(worker_configs(train_cfg, workers))]
    failed = run_processes(processes, grace=10)
    if failed:
        raise RuntimeError(f"benchmark worker(s) {failed} failed (see above)")
    return max(timed[0::3]), int(sum(timed[1::3])), sum(timed[2::3])


def worker_configs(train_cfg: TrainConfig, workers: int) -> list[TrainConfig]:
    """One training config per worker, seeds ``train_cfg.seed``, ``train_cfg.seed + 1``, ...: the
    models differ, as a sweep's do, and ``--seed`` still chooses them."""
    return [replace(train_cfg, seed=train_cfg.seed + w) for w in range(workers)]


def timed_worker(model_cfg: ModelConfig, train_cfg: TrainConfig, threads: int, start, epochs: int, timed,
                 w: int) -> None:
    """Worker ``w`` of `seconds_side_by_side`: `timed_epochs`, its figures written to ``timed[3w:3w + 3]``.
    A worker that fails says so in one line and breaks the barrier, so the others do not wait for it."""
    torch.set_num_threads(threads)
    try:
        timed[3 * w:3 * w + 3] = timed_epochs(model_cfg, train_cfg, start, epochs)
    except KeyboardInterrupt:
        sys.exit(130)  # the parent says so, once
    except Exception as error:
        start.abort()
        if not isinstance(error, threading.BrokenBarrierError):  # the worker that failed first says why
            print(f"error in benchmark worker {w}: {error}", file=sys.stderr)
        sys.exit(1)


def timed_epochs(model_cfg: ModelConfig, train_cfg: TrainConfig, start, epochs: int) -> tuple[float, int, float]:
    """A warm-up epoch, then, in step with the other workers (``start``, a barrier): the products'
    throughput, ``epochs`` more epochs, and the throughput again. Returns the epochs' seconds and
    pairs, and the mean throughput."""
    model, dense, sparse = new_model(model_cfg, train_cfg)
    split = Split.for_config("train", train_cfg)
    pairs = [split.pairs(epoch, train_cfg) for epoch in range(epochs + 1)]
    train_epoch(model, dense, sparse, split, pairs[0], train_cfg, 0, progress=False)

    def throughput() -> float:
        start.wait()
        return matmul_throughput(model_cfg, train_cfg.batch_size, train_cfg.device)

    before = throughput()
    start.wait()
    begin = time.perf_counter()
    for epoch in range(1, epochs + 1):
        train_epoch(model, dense, sparse, split, pairs[epoch], train_cfg, epoch, progress=False)
    sync(train_cfg.device)
    seconds = time.perf_counter() - begin
    return seconds, sum(len(i0) for i0, _ in pairs[1:]), (before + throughput()) / 2


def run_benchmark(model_cfg: ModelConfig, train_cfg: TrainConfig, print_=print, workers: int = 1,
                  ensemble: int = 1) -> dict:
    """Print throughput, FLOPs per epoch, seconds per epoch, and (last) the ratio to the floor;
    with ``workers`` > 1, the ratio of that many models trained side by side; with ``ensemble`` > 1,
    that of that many models trained as one ensemble (`modlib.ensemble`). Returns the figures
    printed, by name, for a chapter's prose: ``alone_seconds``, ``alone_floor``, ``alone_ratio`` and
    ``alone_common_ratio`` (by the common count) for one model, the same four with ``side_`` for the
    models side by side and ``ensemble_`` for the ensemble, and ``ratio`` and ``common_ratio``, those
    of the last lines."""
    require([(workers >= 1, f"--workers must be >= 1, got {workers}"),
             (ensemble >= 1, f"--ensemble must be >= 1 (models trained as one), got {ensemble}"),
             (workers == 1 or ensemble == 1, "give --workers (models side by side, a process each) or --ensemble "
                                             "(models as one computation), not both")])
    device = train_cfg.device
    print_(f"device {device}, {torch.get_num_threads()} threads, batch {train_cfg.batch_size}, "
           f"N={model_cfg.n_hidden}, k={model_cfg.n_connections}, engine {train_cfg.engine}")
    print_(f"processor: {processor(device)}")
    throughput = matmul_throughput(model_cfg, train_cfg.batch_size, device)
    print_(f"matmul throughput on the model's shapes: {throughput / 1e9:.1f} GFLOP/s")
    seconds, n_pairs, phases = seconds_per_epoch(model_cfg, train_cfg)
    per_pair = flops_per_pair(model_cfg)["total"]
    flops = per_pair * n_pairs
    throughput = (throughput + matmul_throughput(model_cfg, train_cfg.batch_size, device)) / 2
    floor = flops / throughput
    print_(f"FLOPs per model-epoch: {flops / 1e9:.1f} GFLOP ({per_pair / 1e6:.2f} MFLOP per pair "
           f"x {n_pairs:,} pairs)")
    print_(f"measured: {seconds:.3f} s per model-epoch ({n_pairs / seconds:,.0f} pairs/s); floor {floor:.3f} s")
    products = per_pair * train_cfg.batch_size / throughput
    print_(f"one step of {train_cfg.batch_size} pairs: {sum(phases.values()) * 1e3:.2f} ms, of which the "
           f"products take {products * 1e3:.2f} ms")
    print_("by phase (ms): " + ", ".join(f"{phase} {s * 1e3:.2f}" for phase, s in phases.items()))
    common = conventional_flops_per_pair(model_cfg) / per_pair  # how many times ours the common count is
    figures = timing_figures("alone", seconds, floor, common)
    together = {  # at most one of them has more than one model
        "side": (workers, seconds_side_by_side, f"{workers} models side by side, {threads_per_worker(workers)} "
                                                f"thread(s) each", "their products"),
        "ensemble": (ensemble, seconds_as_ensemble, f"{ensemble} models as one ensemble",
                     f"their products on {ensemble} x {train_cfg.batch_size} pairs at once:")}
    for name, (count, measure, label, products) in together.items():
        if count == 1:
            continue
        print_(f"one model alone: ratio {figures['alone_ratio']:.2f} ({figures['alone_common_ratio']:.2f} by the "
               f"common count)")
        wall, pairs, throughput = measure(model_cfg, train_cfg, count)
        seconds, floor = wall * n_pairs / pairs, flops / throughput  # per model-epoch of n_pairs pairs
        print_(f"{label}: {seconds:.3f} s per model-epoch, {figures['alone_seconds'] / seconds:.2f} times as fast "
               f"as one alone")
        print_(f"  ({pairs / wall:,.0f} pairs/s in all; {products} {throughput / 1e9:.1f} GFLOP/s, "
               f"floor {floor:.3f} s)")
        figures |= timing_figures(name, seconds, floor, common)
    last = "side" if workers > 1 else "ensemble" if ensemble > 1 else "alone"  # the group the last lines report
    figures |= {"ratio": figures[f"{last}_ratio"], "common_ratio": figures[f"{last}_common_ratio"]}
    print_(f"common count, 3 x forward over all {model_cfg.n_steps} steps "
           f"({common * per_pair / 1e6:.2f} MFLOP/pair): ratio {figures['common_ratio']:.2f}")
    print_(f"ratio measured / floor: {figures['ratio']:.2f}")
    return figures


def timing_figures(prefix: str, seconds: float, floor: float, common: float) -> dict[str, float]:
    """Seconds per model-epoch, the floor, and their ratio by our count and by the common one
    (``common`` times as many FLOPs), named ``prefix_...``."""
    return {f"{prefix}_seconds": seconds, f"{prefix}_floor": floor, f"{prefix}_ratio": seconds / floor,
            f"{prefix}_common_ratio": seconds / floor / common}


def measure_seconds(model_cfg: ModelConfig, train_cfg: TrainConfig, print_=print) -> dict[str, float]:
    """What the per-step measures (`modlib.timecourse`) cost beside the paper's, on one model of each
    architecture trained as ``train_cfg`` says: seconds for the paper's metrics on ``h_T`` (the
    weight mask, correlation and CKA, or the bottleneck readouts; the weight mask only on the
    paper's trial, the only one it measures) and for every per-step measure, and their ratio,
    printed per architecture. Returns ``<architecture>_today``, ``_steps`` and ``_ratio``."""
    from modlib.metrics import METRIC_FUNCTIONS, MetricData, applicable_metrics
    from modlib.timecourse import timecourse_metric
    from modlib.train import train_model

    data, figures = MetricData.load(train_cfg), {}
    print_(f"processor: {processor(train_cfg.device)}; {torch.get_num_threads()} threads; T = {model_cfg.n_steps}, "
           f"noise {train_cfg.noise}, {train_cfg.onsets} onsets")
    for architecture, width in (("standard", None), ("bottleneck", 5)):
        model, _ = train_model(replace(model_cfg, bottleneck=width), train_cfg, progress=False,
                               splits=(data.train, data.test))
        names = applicable_metrics(model, train_cfg.trial.static)
        start = time.perf_counter()
        for name in names:
            METRIC_FUNCTIONS[name](model, data, progress=False)
        today = time.perf_counter() - start
        start = time.perf_counter()
        timecourse_metric(model, data)
        steps = time.perf_counter() - start
        print_(f"{architecture}: the paper's metrics ({', '.join(names)}) {today:.2f} s; every per-step measure "
               f"{steps:.2f} s; ratio {steps / today:.2f}")
        figures |= {f"{architecture}_today": today, f"{architecture}_steps": steps,
                    f"{architecture}_ratio": steps / today}
    return figures
