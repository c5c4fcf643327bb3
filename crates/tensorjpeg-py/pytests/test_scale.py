"""Scale-out on Ray (tensorjpeg.scale) on a local single-node cluster started here: the
sharded index equals the single-process one byte for byte, the CLI reads its manifest, the
model-file job restores what one process restores, and damaged shards are refused."""

import json
import shutil
import subprocess

import numpy as np
import pytest

import tensorjpeg as tj
from conftest import asset, cli

ray = pytest.importorskip("ray", reason="ray[data] is installed by scripts/python.sh")
import tensorjpeg.scale as ts  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def parts(embeddings, tmp_path):
    """The 900 vectors as three .npy files of uneven sizes (one float16)."""
    paths = []
    for i, (a, b) in enumerate([(0, 250), (250, 700), (700, 900)]):
        p = tmp_path / f"part-{i}.npy"
        x = embeddings[a:b]
        np.save(p, x.astype(np.float16) if i == 2 else x)
        paths.append(p)
    return paths


def test_sharded_index_is_the_single_process_index(cluster, embeddings, tmp_path):
    inputs = parts(embeddings, tmp_path)
    run = ts.build_index(inputs, tmp_path / "out", 64, sample=600, rows_per_shard=160, workers=2)
    # Shards never span inputs: 250 → 160 + 90, 450 → 160 + 160 + 130, 200 → 160 + 40.
    assert [r["vectors"] for r in run["shards"]] == [160, 90, 160, 160, 130, 160, 40]
    assert run["vectors"] == 900 and run["fit_vectors"] == 600
    joined = tj.Index.load(run["manifest"])
    one = ts.single_process_index(inputs, 64, sample=600)
    assert joined.to_bytes() == one.to_bytes()
    # Workers do not change the result.
    again = ts.build_index(inputs, tmp_path / "out1", 64, sample=600, rows_per_shard=500, workers=1)
    assert tj.Index.load(again["manifest"]).to_bytes() == one.to_bytes()
    # The CLI searches the manifest as one collection and finds what Python finds.
    q = tmp_path / "q.npy"
    np.save(q, embeddings[:20])
    out = subprocess.run(
        [cli(), "index", "search", run["manifest"], str(q), "-k", "5", "--json"], check=True, capture_output=True, text=True
    )
    hits = [[h["id"] for h in row] for row in json.loads(out.stdout)["hits"]]
    _, ids = one.search(embeddings[:20], 5)
    assert hits == ids.tolist()
    assert np.mean(ids[:, 0] == np.arange(20)) >= 0.9


def test_damaged_or_missing_shards_are_refused(cluster, embeddings, tmp_path):
    run = ts.build_index(parts(embeddings, tmp_path), tmp_path / "out", 32, sample=400, rows_per_shard=300, workers=2)
    out = tmp_path / "out"
    shard = out / run["shards"][1]["path"]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x10
    shard.write_bytes(bytes(data))
    with pytest.raises(tj.TensorJpegError, match="CRC-32"):
        tj.Index.load(run["manifest"])
    shard.unlink()
    with pytest.raises(tj.TensorJpegError, match="shard-00001"):
        tj.Index.load(run["manifest"])
    m = json.loads(open(run["manifest"]).read())
    m["shards"][0]["path"] = "../elsewhere.tjv"
    bad = out / "bad.json"
    bad.write_text(json.dumps(m))
    with pytest.raises(tj.TensorJpegError, match="stay inside"):
        tj.Index.load(bad)
    # Adding to a manifest in place is refused by the CLI (it would replace the manifest).
    q = tmp_path / "more.npy"
    np.save(q, embeddings[:3])
    r = subprocess.run([cli(), "index", "add", run["manifest"], str(q)], capture_output=True, text=True)
    assert r.returncode != 0 and "manifest" in r.stderr


def test_model_files_in_parallel(cluster, tmp_path):
    src = tmp_path / "models"
    (src / "sub").mkdir(parents=True)
    shutil.copy(asset("minilm/model.safetensors"), src / "minilm.safetensors")
    rng = np.random.default_rng(0)
    np.save(src / "sub" / "acts.npy", rng.standard_normal((64, 256)).astype(np.float32))
    run = ts.compress_files(src, tmp_path / "tjz", workers=2, bits=4)
    assert [r["source"] for r in run["files"]] == ["minilm.safetensors", "sub/acts.npy"]
    # Each container is what compress_file writes in one process.
    for r in run["files"]:
        one = tmp_path / "one.tjz"
        tj.compress_file(r["input"], one, bits=4)
        assert (tmp_path / "tjz" / r["path"]).read_bytes() == one.read_bytes()
        one.unlink()
    # The CLI and Python restore the folder from the manifest, identically.
    subprocess.run([cli(), "decompress", run["manifest"], "-o", str(tmp_path / "cli")], check=True, capture_output=True)
    py = tj.decompress_file(run["manifest"], tmp_path / "py")
    assert len(py["files"]) == 2
    for rel in ["minilm.safetensors", "sub/acts.npy"]:
        assert (tmp_path / "cli" / rel).read_bytes() == (tmp_path / "py" / rel).read_bytes()
    acts = np.load(tmp_path / "py" / "sub" / "acts.npy")
    orig = np.load(src / "sub" / "acts.npy")
    assert acts.shape == orig.shape and 10 * np.log10(np.sum(orig**2) / np.sum((acts - orig) ** 2)) > 18
