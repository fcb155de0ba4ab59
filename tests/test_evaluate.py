"""``mbdsl eval``: datasets, sharding (processes, a Dask LocalCluster), scores, backends."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from mbdsl import evaluate as E
from mbdsl import frontend, passes, reference
from mbdsl.cli import main
from mbdsl.params import make_params

from networks import TINY, tiny


def write_tiny(tmp_path, quant="thresholds"):
    c0act = "activations uint7" if quant == "multiplier" else ""
    spec = tmp_path / f"tiny_{quant}.mbn"
    spec.write_text(TINY.format(ch="x3", fmt="u8", quant=quant, c0act=c0act, c2act=""))
    return str(spec)


def image_folder(tmp_path, n_per_class=(3, 2, 4)):
    """Class folders of PNGs (and one .npy), at the tiny network's 12x12."""
    rng = np.random.default_rng(1)
    root = tmp_path / "data"
    for c, n in zip(("cat", "dog", "emu"), n_per_class):
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
    np.save(root / "emu" / "x.npy", rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    (root / "emu" / "notes.txt").write_text("not an image: skipped by its name")
    return str(root)


def npz_dataset(tmp_path, n=20, seed=2):
    rng = np.random.default_rng(seed)
    path = tmp_path / "d.npz"
    np.savez(path, images=rng.integers(0, 256, (n, 12, 12, 3), dtype=np.uint8), labels=rng.integers(0, 10, n))
    return str(path)


def test_image_folder_layout(tmp_path):
    data = E.load_dataset(image_folder(tmp_path))
    assert data.classes == ("cat", "dog", "emu")
    assert data.labels.tolist() == [0] * 3 + [1] * 2 + [2] * 5
    assert data.names[0] == "cat/0.png" and data.names[-1] == "emu/x.npy"
    images = E.decode(tiny(), data.sources)
    assert all(im.shape == (12, 12, 3) and im.dtype == np.uint8 for im in images)


def test_npz_dataset_and_its_errors(tmp_path):
    data = E.load_dataset(npz_dataset(tmp_path))
    assert len(data) == 20 and data.classes == tuple(str(i) for i in range(int(data.labels.max()) + 1))
    np.savez(tmp_path / "bad.npz", pixels=np.zeros((2, 4, 4, 3), np.uint8))
    assert main(["eval", write_tiny(tmp_path), str(tmp_path / "bad.npz")]) == 2
    assert main(["eval", write_tiny(tmp_path), str(tmp_path / "missing.txt")]) == 2


def test_results_do_not_depend_on_the_sharding(tmp_path):
    net = tiny()
    params = make_params(net)
    data = E.load_dataset(npz_dataset(tmp_path, n=13))
    want = reference.classify_batch(net, params, E.decode(net, data.sources))
    runner = E.Runner("reference", net, params, str(tmp_path / "build"))
    runner.prepare()
    for size, jobs in ((1, 1), (4, 1), (13, 1), (3, 2)):
        seen = []
        got = E.run_sharded(runner, data, size, jobs=jobs, progress=seen.append)
        assert np.array_equal(got.outputs, want), (size, jobs)
        assert sum(seen) == 13 and len(seen) == len(E.shard_ranges(13, size))


@pytest.mark.gcc
def test_dask_local_cluster_gives_the_same_outputs(tmp_path):
    distributed = pytest.importorskip("distributed")
    net = tiny("multiplier")
    params = make_params(net)
    data = E.load_dataset(npz_dataset(tmp_path, n=9))
    runner = E.Runner("gap8", net, params, str(tmp_path / "build"))
    runner.prepare()
    want = reference.classify_batch(net, params, E.decode(net, data.sources))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        got = E.run_sharded(runner, data, 2, scheduler=cluster.scheduler_address)
    assert np.array_equal(got.outputs, want)
    assert got.cycles > 0


def test_scores_against_hand_counted_predictions():
    net = tiny()  # ends with topk 3: outputs are classes, best first
    data = E.Dataset([None] * 5, np.array([0, 0, 1, 2, 2]), ("a", "b", "c"), [f"#{i}" for i in range(5)])
    outputs = np.array([[0, 1, 2], [1, 0, 2], [1, 2, 0], [7, 2, 1], [2, 0, 1]])
    s = E.score(net, outputs, data)
    assert s.k == 3
    assert s.top1 == pytest.approx(3 / 5)  # images 0, 2, 4
    assert s.topk == pytest.approx(5 / 5)
    assert s.per_class == [("a", 2, 1), ("b", 1, 1), ("c", 2, 1)]
    # Rows: true class; columns: predicted a, b, c, and "outside the dataset's classes" (7).
    assert s.confusion.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]]


def test_logits_are_ranked_with_ties_to_the_lower_index():
    text = TINY.format(ch="x3", fmt="u8", quant="thresholds", c0act="", c2act="").replace("topk   top 3", "")
    net = passes.check(frontend.load_string(text, "logits.mbn"))  # ends with fc: outputs are logits
    assert E.ranking(net, np.array([[3, 9, 9, -1]]), 3).tolist() == [[1, 2, 0]]


@pytest.mark.gcc
def test_cli_eval_hls_against_reference_on_an_image_folder(tmp_path, capsys):
    spec = write_tiny(tmp_path)
    out = tmp_path / "out"
    rc = main(["eval", spec, image_folder(tmp_path), "--backend", "hls", "--against", "reference", "-j", "2",
               "-o", str(out), "--build-dir", str(tmp_path / "build")])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert re.search(r"against reference: 0 differing image\(s\) of 10", text)
    result = json.loads((out / "tiny_hls.json").read_text())
    net = tiny()
    data = E.load_dataset(str(tmp_path / "data"))
    want = reference.classify_batch(net, make_params(net), E.decode(net, data.sources))
    assert result["outputs"] == want.tolist()
    assert result["top1"] == pytest.approx(float(np.mean(want[:, 0] == data.labels)))
    assert result["against"] == {"backend": "reference", "differing_images": 0, "differing_top1": 0, "differing": []}
    assert sum(map(sum, result["confusion"])) == 10
    assert (out / "tiny_hls_confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.gcc
def test_a_differing_backend_is_counted_and_fails(tmp_path, capsys, monkeypatch):
    real = E.Runner.run

    def wrong_on_image_3(self, images):
        run = real(self, images)
        if self.backend == "gap8" and len(images) > 3:
            run.outputs[3] = run.outputs[3][::-1]
        return run

    monkeypatch.setattr(E.Runner, "run", wrong_on_image_3)
    spec = write_tiny(tmp_path, "multiplier")
    rc = main(["eval", spec, npz_dataset(tmp_path, n=5), "--backend", "gap8", "--against", "reference",
               "--shard-size", "5", "-o", str(tmp_path / "out"), "--build-dir", str(tmp_path / "build")])
    text = capsys.readouterr().out
    assert rc == 1
    assert "against reference: 1 differing image(s) of 5" in text and "differs: #3" in text


@pytest.mark.parametrize("option, value", [("-j", "0"), ("--limit", "0"), ("--shard-size", "-1")])
def test_bad_command_line_values(tmp_path, capsys, option, value):
    spec = write_tiny(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["eval", spec, npz_dataset(tmp_path), option, value])
    assert exc.value.code == 2
    assert f"error: argument {option}" in capsys.readouterr().err


def test_photos_of_a_folder_become_nv12_frames_for_an_nv12_network(tmp_path):
    from mbdsl.semantics import rgb_to_nv12

    root = image_folder(tmp_path)
    net = tiny(fmt="nv12")
    data = E.load_dataset(root)
    frames = E.decode(net, data.sources)
    first = np.asarray(Image.open(data.sources[0]))
    assert np.array_equal(frames[0], rgb_to_nv12(first))
    runner = E.Runner("reference", net, make_params(net), str(tmp_path / "build"))
    got = E.run_sharded(runner, data, 3, jobs=1)
    assert np.array_equal(got.outputs, reference.classify_batch(net, make_params(net), frames))


@pytest.mark.slow
def test_cli_eval_on_a_dask_cluster_matches_one_process(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    spec, data = write_tiny(tmp_path), npz_dataset(tmp_path, n=11)
    assert main(["eval", spec, data, "-o", str(tmp_path / "one")]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert main(["eval", spec, data, "--scheduler", cluster.scheduler_address, "-o", str(tmp_path / "dask")]) == 0
    text = capsys.readouterr().out
    assert re.search(r"shards of 2 image\(s\) on Dask cluster tcp://\S+ \(2 workers\)", " ".join(text.split()))
    one = json.loads((tmp_path / "one" / "tiny_reference.json").read_text())
    dask = json.loads((tmp_path / "dask" / "tiny_reference.json").read_text())
    assert dask["outputs"] == one["outputs"] and dask["shard_size"] == 2 and one["shard_size"] == 3
    assert main(["eval", spec, data, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert re.match(r"error: cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9", capsys.readouterr().err)
