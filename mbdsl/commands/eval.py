"""``mbdsl eval``: accuracy of a network on a labelled dataset, on any backend; optionally
the image-by-image comparison with a second backend."""

from __future__ import annotations

import json
import os
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .. import evaluate as E
from ..errors import MbdslError
from ..output import check_folder
from ..params import make_params
from .common import console, count, load_checked, si


def register(sub) -> None:
    p = sub.add_parser("eval", help="accuracy on a labelled dataset (folder per class or .npz) on any backend")
    p.add_argument("spec")
    p.add_argument("dataset", help="a folder with one sub-folder of images per class, or an .npz with 'images' and 'labels'")
    p.add_argument("--backend", choices=E.BACKENDS, default="reference", help="where the images run (default: reference)")
    p.add_argument("--against", choices=E.BACKENDS, metavar="BACKEND", help="also run BACKEND and count the images whose outputs differ (must be 0)")
    p.add_argument("-j", "--jobs", type=count(1, 256), default=1, metavar="N", help="worker processes the shards run in (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the shards on a Dask distributed cluster (e.g. tcp://host:8786)")
    p.add_argument("--shard-size", type=count(1, 1 << 30), default=None, metavar="N", help="images per shard (default: the images spread over 4 shards per worker)")
    p.add_argument("--limit", type=count(1, 1 << 30), default=None, metavar="N", help="only the first N images")
    p.add_argument("-o", "--output", default="eval", metavar="DIR", help="where the JSON result and confusion matrix go (default: eval)")
    p.add_argument("--build-dir", default=os.path.join("build", "eval"), metavar="DIR", help="generated sources and builds (default: build/eval)")
    p.set_defaults(func=run)


def run(args) -> int:
    for folder in (args.output, args.build_dir):
        check_folder(folder)
    net = load_checked(args.spec)
    params = make_params(net)
    data = E.load_dataset(args.dataset).subset(args.limit)
    workers = args.jobs
    if args.scheduler:
        workers = _cluster_workers(args.scheduler)
    shard = args.shard_size or max(1, -(-len(data) // (4 * workers)))
    where = f"Dask cluster {args.scheduler} ({workers} workers)" if args.scheduler else f"{args.jobs} process(es)"
    console.print(f"{net.name}: {len(data)} images of {len(data.classes)} classes from {args.dataset}; "
                  f"shards of {shard} image(s) on {where}")

    # Build every backend first, so that one that cannot take the network fails before any run.
    runners = {}
    for backend in [args.backend] + ([args.against] if args.against and args.against != args.backend else []):
        runner = E.Runner(backend, net, params, os.path.join(args.build_dir, net.name))
        with console.status(f"preparing {backend}") as status:
            runners[backend] = (runner, runner.prepare(log=status.update))
    results = {}
    for backend, (runner, built) in runners.items():
        with Progress(TextColumn(f"{backend:9s}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                      TimeRemainingColumn(), console=console, transient=False) as bar:
            task = bar.add_task(backend, total=len(data), rate="")
            t0 = time.perf_counter()

            def done(n):
                bar.advance(task, n)
                seen = bar.tasks[0].completed
                bar.update(task, rate=f"{seen / max(time.perf_counter() - t0, 1e-9):,.1f} images/s")

            out = E.run_sharded(runner, data, shard, jobs=args.jobs, scheduler=args.scheduler, progress=done)
            seconds = time.perf_counter() - t0
        results[backend] = (out, seconds, built)

    out, seconds, built = results[args.backend]
    scores = E.score(net, out.outputs, data)
    _print_scores(data, scores)
    throughput = {"seconds": round(seconds, 3), "images_per_s": len(data) / seconds, "build_seconds": round(built, 3)}
    line = f"throughput: {len(data) / seconds:,.1f} images/s ({seconds:.2f} s for {len(data)} images; build {built:.1f} s)"
    if out.cycles is not None:
        kind = "simulated" if args.backend == "rtl" else "modeled"
        throughput.update({f"{kind}_cycles": out.cycles, f"{kind}_cycles_per_image": out.cycles / len(data)})
        line += f"; {kind} cycles {out.cycles:,} ({si(out.cycles / len(data))} per image"
        line += f", {out.cycles / seconds:,.0f} cycles/s)" if args.backend == "rtl" else ")"
    console.print(line)

    result = {
        "spec": args.spec, "network": net.name, "dataset": args.dataset, "backend": args.backend,
        "images": len(data), "classes": list(data.classes), "top1": scores.top1, f"top{scores.k}": scores.topk,
        "per_class": [{"class": c, "images": n, "correct": k} for c, n, k in scores.per_class],
        "confusion": scores.confusion.tolist(), "throughput": throughput,
        "jobs": args.jobs, "scheduler": args.scheduler, "shard_size": shard,
        "labels": data.labels.tolist(), "outputs": out.outputs.tolist(), "names": data.names,
    }
    status = 0
    if args.against and args.against != args.backend:
        other = results[args.against][0].outputs
        differ = [i for i in range(len(data)) if not (out.outputs[i] == other[i]).all()]
        top1_differ = int((E.ranking(net, out.outputs)[:, 0] != E.ranking(net, other)[:, 0]).sum())
        result["against"] = {"backend": args.against, "differing_images": len(differ), "differing_top1": top1_differ,
                             "differing": [data.names[i] for i in differ]}
        mark = "[bold green]0 differing[/]" if not differ else f"[bold red]{len(differ)} differing[/]"
        console.print(f"against {args.against}: {mark} image(s) of {len(data)} (outputs compared whole; "
                      f"{top1_differ} differ in top-1)")
        status = 1 if differ else 0
        for name in result["against"]["differing"][:10]:
            console.print(f"  differs: {name}")

    stem = f"{net.name}_{args.backend}"
    files = {f"{stem}.json": json.dumps(result, indent=1) + "\n", f"{stem}_confusion.png": _confusion_png(net.name, args.backend, data, scores)}
    _write_beside(args.output, files)
    console.print(f"wrote {os.path.join(args.output, stem + '.json')} and {stem}_confusion.png")
    return status


def _cluster_workers(address: str) -> int:
    try:
        from distributed import Client
    except ImportError:
        raise MbdslError("--scheduler needs dask.distributed", hint="pip install 'mbdsl[cluster]'") from None
    try:
        with Client(address, timeout="20s") as client:
            return max(1, len(client.scheduler_info()["workers"]))
    except OSError as exc:
        raise MbdslError(f"cannot reach the Dask scheduler at {address}: {exc}",
                         hint="start one with 'dask scheduler' and workers with 'dask worker ADDRESS'") from None


def _print_scores(data, scores) -> None:
    console.print(f"top-1 {scores.top1:.2%}   top-{scores.k} {scores.topk:.2%}   ({len(data)} images)")
    cells = [f"{c}: {k / n:.1%} ({k}/{n})" if n else f"{c}: - (0)" for c, n, k in scores.per_class]
    shown = cells if len(cells) <= 20 else cells[:20] + [f"... {len(cells) - 20} more in the JSON"]
    console.print("per class: " + "   ".join(shown))


def _confusion_png(name: str, backend: str, data, scores) -> bytes:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MbdslError("the confusion matrix needs matplotlib", hint="pip install 'mbdsl[report]'") from None
    import io

    m = scores.confusion
    extra = m[:, -1].any()
    m = m if extra else m[:, :-1]
    n = len(data.classes)
    size = min(12, 2 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(m, cmap="Blues")
    labels = list(data.classes)
    if n <= 40:
        ax.set_yticks(range(n), labels)
        ax.set_xticks(range(m.shape[1]), labels + (["other"] if extra else []), rotation=90 if n > 12 else 0)
        if n <= 20:
            for (i, j), v in __import__("numpy").ndenumerate(m):
                if v:
                    ax.text(j, i, str(v), ha="center", va="center", fontsize=8, color="white" if v > m.max() / 2 else "black")
    ax.set_xlabel("predicted (top-1)")
    ax.set_ylabel("true class")
    ax.set_title(f"{name} on {backend}: top-1 {scores.top1:.1%}, {len(data)} images")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _write_beside(directory: str, files: dict) -> None:
    """Write ``files`` into ``directory`` (kept with its other files), each atomically."""
    from ..output import write_file

    os.makedirs(directory, exist_ok=True)
    for rel, content in files.items():
        write_file(os.path.join(directory, rel), content)
