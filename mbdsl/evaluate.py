"""Accuracy on a labelled dataset, on any backend, sharded over processes or a Dask cluster.

A dataset is a folder per class (torchvision's ImageFolder layout: classes are the sorted
sub-folder names, class ``i`` is the network's output ``i``) or an ``.npz`` with ``images``
(N, H, W[, C]) uint8, ``labels`` (N,) and optionally ``classes`` (names). Every image
becomes a network input through :mod:`mbdsl.images` (the spec's input block says how).

The images are cut into shards (contiguous index ranges); each shard is decoded and run
by a :class:`Runner` in a worker process (``jobs``) or a Dask worker (``scheduler``), and
the shards' outputs are put back in index order, so results do not depend on the sharding.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

import attrs
import numpy as np

from . import backends, ir, reference
from .errors import MbdslError
from .files import check_file
from .images import RAW_SUFFIXES, from_array, read_image
from .params import Params

__all__ = ["BACKENDS", "Dataset", "load_dataset", "Runner", "Run", "run_sharded", "shard_ranges", "Scores", "score"]

BACKENDS = ("reference", "rtl", "hls", "gap8")
MAX_DATASET_BYTES = 2 << 30
"""Largest ``.npz`` dataset, on disk and unpacked (its members are checked before reading)."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm", ".tif", ".tiff", ".webp", ".gif", ".npy") + RAW_SUFFIXES


@attrs.frozen(eq=False)
class Dataset:
    """Labelled images, not yet decoded: each source is a file path or a uint8 array."""

    sources: list
    labels: np.ndarray
    classes: tuple[str, ...]
    names: list[str]

    def __len__(self) -> int:
        return len(self.sources)

    def subset(self, limit: int | None) -> Dataset:
        if limit is None or limit >= len(self):
            return self
        return Dataset(self.sources[:limit], self.labels[:limit], self.classes, self.names[:limit])


def load_dataset(path: str) -> Dataset:
    """A folder per class, or an ``.npz`` of images and labels."""
    if os.path.isdir(path):
        return _image_folder(path)
    if path.lower().endswith(".npz"):
        return _npz(path)
    raise MbdslError(
        f"dataset {path}: neither a folder nor an .npz",
        hint="give a folder with one sub-folder of images per class, or an .npz with 'images' and 'labels'",
    )


def _image_folder(path: str) -> Dataset:
    classes = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)) and not d.startswith("."))
    if not classes:
        raise MbdslError(f"dataset {path}: no class folders", hint="put each class's images in a sub-folder named after the class")
    sources, labels = [], []
    for i, c in enumerate(classes):
        folder = os.path.join(path, c)
        for f in sorted(os.listdir(folder)):
            if f.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(os.path.join(folder, f)):
                sources.append(os.path.join(folder, f))
                labels.append(i)
    if not sources:
        raise MbdslError(f"dataset {path}: the class folders hold no images", hint=f"image files end in {', '.join(IMAGE_SUFFIXES)}")
    names = [os.path.relpath(s, path) for s in sources]
    return Dataset(sources, np.array(labels, dtype=np.int64), tuple(classes), names)


def _npz(path: str) -> Dataset:
    check_file(path, "dataset", MAX_DATASET_BYTES, hint="give an .npz with 'images' and 'labels', or a folder per class")
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise MbdslError(f"dataset {path}: not an .npz archive ({exc})", hint="save it with np.savez(path, images=..., labels=...)") from None
    if unpacked > MAX_DATASET_BYTES:
        raise MbdslError(f"dataset {path}: its members unpack to {unpacked:,} bytes, more than {MAX_DATASET_BYTES:,}",
                         hint="split it, or give a folder per class (images are then read one by one)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise MbdslError(f"dataset {path}: cannot read it: {exc}") from None
    missing = [k for k in ("images", "labels") if k not in arrays]
    if missing:
        raise MbdslError(f"dataset {path}: no array {' or '.join(map(repr, missing))} (it has {sorted(arrays)})",
                         hint="save it with np.savez(path, images=..., labels=...)")
    images, labels = arrays["images"], arrays["labels"]
    if images.ndim not in (2, 3, 4) or len(images) != len(labels) or labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise MbdslError(
            f"dataset {path}: images {images.shape} and labels {labels.shape} {labels.dtype} do not match",
            hint="images (N, H, W[, C]) uint8 (or (N, bytes) NV12 frames) and integer labels (N,)",
        )
    if labels.size and labels.min() < 0:
        raise MbdslError(f"dataset {path}: negative label {int(labels.min())}")
    n_classes = int(labels.max()) + 1 if labels.size else 0
    classes = tuple(str(c) for c in arrays["classes"]) if "classes" in arrays else tuple(str(i) for i in range(n_classes))
    if len(classes) < n_classes:
        raise MbdslError(f"dataset {path}: label {n_classes - 1} but only {len(classes)} class names")
    return Dataset(list(images), labels.astype(np.int64), classes, [f"#{i}" for i in range(len(labels))])


def decode(net: ir.Network, sources: Sequence) -> list[np.ndarray]:
    """Network inputs of dataset sources (paths or arrays)."""
    return [read_image(s, net.input) if isinstance(s, str) else from_array(s, net.input) for s in sources]


@attrs.frozen
class Run:
    """A backend's outputs on some images: (N, k) int64, and simulated cycles (RTL) or
    modeled cycles (GAP8) summed over the images, if the backend has them."""

    outputs: np.ndarray
    cycles: int | None = None


@attrs.define
class Runner:
    """Runs one backend on decoded images. :meth:`prepare` builds once (generated sources
    under ``workdir``); :meth:`run` may then be called in any process that sees ``workdir``,
    and builds its own copy in a worker that does not (a remote Dask worker)."""

    backend: str
    net: ir.Network
    params: Params
    workdir: str
    _built: object = None

    def prepare(self, log: Callable[[str], None] = lambda s: None) -> float:
        """Generate and build; returns the seconds it took."""
        t0 = time.perf_counter()
        if self.backend == "hls":
            from .backends.hls import csim

            log("compiling the HLS C++ with g++")
            self._built = csim.build(backends.generate("hls", self.net, self.params), os.path.join(self.workdir, "hls"))
        elif self.backend == "rtl":
            from .backends.rtl import netsim
            from .output import write_tree

            rtl_dir = os.path.join(self.workdir, "rtl")
            write_tree(rtl_dir, backends.generate("rtl", self.net, self.params))
            log("building the RTL with Verilator")
            self._built = (rtl_dir, str(netsim.build(rtl_dir, os.path.join(self.workdir, "sim"), log=log)))
        elif self.backend == "gap8":
            from .backends.gap8 import host, plan_network

            log("compiling the GAP8 C for the host")
            d = os.path.join(self.workdir, "gap8")
            plan = plan_network(self.net)
            self._built = (host.build(self.net, self.params, d, plan), host.weights_file(self.net, d), plan)
        elif self.backend != "reference":
            raise ValueError(f"backend must be one of {BACKENDS}")
        return time.perf_counter() - t0

    def _ensure_built(self) -> None:
        if self.backend == "reference":
            return
        exe = {"hls": lambda b: b.exe, "rtl": lambda b: b[1], "gap8": lambda b: b[0]}[self.backend](self._built) if self._built else None
        if exe is None or not os.path.exists(exe):
            self.workdir = tempfile.mkdtemp(prefix=f"mbdsl-eval-{self.backend}-")
            self.prepare()

    def run(self, images: list[np.ndarray]) -> Run:
        self._ensure_built()
        if self.backend == "reference":
            return Run(reference.classify_batch(self.net, self.params, images).reshape(len(images), -1))
        if self.backend == "hls":
            from .backends.hls import csim

            return Run(csim.run(self._built, self.net, images).outputs)
        scratch = tempfile.mkdtemp(prefix=".shard-", dir=self.workdir)
        try:
            if self.backend == "rtl":
                from .backends.rtl import netsim

                rtl_dir, harness = self._built
                os.symlink(harness, os.path.join(scratch, "harness"))
                sim = netsim.simulate(self.net, self.params, images, rtl_dir, scratch, trace=False)
                if len(sim.outputs) != len(images):
                    raise MbdslError(f"the RTL simulation gave {len(sim.outputs)} outputs for {len(images)} images",
                                     hint="this is a bug of the RTL backend")
                return Run(np.stack(sim.outputs).astype(np.int64), sim.cycles)
            from .backends.gap8 import host

            exe, weights, plan = self._built
            _, results, _ = host.execute(self.net, images, exe, weights, scratch, plan)
            return Run(np.stack(results), int(round(plan.total_cycles * len(images))))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def shard_ranges(n: int, size: int) -> list[tuple[int, int]]:
    """Contiguous [start, stop) index ranges of at most ``size`` images."""
    return [(i, min(n, i + size)) for i in range(0, n, max(1, size))]


_WORKER: dict = {}


def _init_worker(runner: Runner) -> None:
    _WORKER["runner"] = runner


def _shard(sources: list, runner: Runner | None = None) -> tuple[Run, float]:
    """Decode and run one shard (in a worker process, a Dask worker, or in-process)."""
    runner = runner or _WORKER["runner"]
    images = decode(runner.net, sources)
    t0 = time.perf_counter()
    out = runner.run(images)
    return out, time.perf_counter() - t0


def run_sharded(
    runner: Runner,
    dataset: Dataset,
    shard_size: int,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> Run:
    """Every image of ``dataset`` through ``runner``, shard by shard; outputs in index order.

    ``jobs`` > 1: a pool of that many spawned processes; ``scheduler``: the address of a
    Dask distributed scheduler (its workers run the shards). ``progress(n)`` is called with
    the image count of each finished shard.
    """
    ranges = shard_ranges(len(dataset), shard_size)
    parts: dict[int, Run] = {}
    if scheduler:
        try:
            from distributed import Client
            from distributed import as_completed as dask_completed
        except ImportError:
            raise MbdslError("--scheduler needs dask.distributed", hint="pip install 'mbdsl[cluster]'") from None
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise MbdslError(f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                             hint="start one with 'dask scheduler' and workers with 'dask worker ADDRESS'") from None
        with client:
            shared = client.scatter(runner, broadcast=True)
            futures = {client.submit(_shard, dataset.sources[a:b], shared, pure=False): k for k, (a, b) in enumerate(ranges)}
            for fut in dask_completed(list(futures)):
                k = futures[fut]
                parts[k] = fut.result()[0]
                progress(ranges[k][1] - ranges[k][0])
    elif jobs > 1:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(runner,)) as pool:
            futures = {pool.submit(_shard, dataset.sources[a:b]): k for k, (a, b) in enumerate(ranges)}
            for fut in as_completed(futures):
                k = futures[fut]
                parts[k] = fut.result()[0]
                progress(ranges[k][1] - ranges[k][0])
    else:
        for k, (a, b) in enumerate(ranges):
            parts[k] = _shard(dataset.sources[a:b], runner)[0]
            progress(b - a)
    runs = [parts[k] for k in range(len(ranges))]
    cycles = [r.cycles for r in runs]
    total = None if any(c is None for c in cycles) else int(sum(cycles))
    return Run(np.concatenate([r.outputs for r in runs]), total)


@attrs.frozen
class Scores:
    """Accuracy figures of predictions against labels."""

    ranking: np.ndarray
    """(N, k) classes, best first."""
    k: int
    top1: float
    topk: float
    per_class: list[tuple[str, int, int]]
    """(class, images, correct top-1)."""
    confusion: np.ndarray
    """(classes, classes + 1): rows true class, columns predicted; the last column counts
    predictions outside the dataset's classes."""


def ranking(net: ir.Network, outputs: np.ndarray, k: int = 5) -> np.ndarray:
    """Classes best first: the output itself after a ``topk`` layer, otherwise the logits
    sorted (ties to the lower index, as the topk layer breaks them)."""
    if isinstance(net.layers[-1], ir.TopK):
        return outputs[:, :k]
    return np.argsort(-outputs, axis=1, kind="stable")[:, :k]


def score(net: ir.Network, outputs: np.ndarray, dataset: Dataset, k: int = 5) -> Scores:
    rank = ranking(net, outputs, k)
    labels = dataset.labels
    top1 = rank[:, 0] == labels
    topk = (rank == labels[:, None]).any(axis=1)
    n = len(dataset.classes)
    per_class = [(c, int((labels == i).sum()), int(top1[labels == i].sum())) for i, c in enumerate(dataset.classes)]
    confusion = np.zeros((n, n + 1), dtype=np.int64)
    pred = np.where(rank[:, 0] < n, rank[:, 0], n)
    np.add.at(confusion, (labels, pred), 1)
    return Scores(rank, int(rank.shape[1]), float(top1.mean()), float(topk.mean()), per_class, confusion)
