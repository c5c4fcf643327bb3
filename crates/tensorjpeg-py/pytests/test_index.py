"""The embedding index from Python: build, fit + add, search, save/load, the CLI's file."""

import json
import subprocess

import numpy as np
import pytest

import tensorjpeg as tj
from conftest import cli


def recall_at_10(ids, x, q):
    truth = np.argsort(-(q @ x.T), axis=1)[:, :10]
    return np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, ids)])


def test_build_search_save_load(embeddings, tmp_path):
    x, q = embeddings[:800], embeddings[800:]
    ix = tj.Index.build(x, 64)
    assert len(ix) == 800 and ix.dim == 384
    assert ix.info["index_bytes_per_vector"] <= 64
    scores, ids = ix.search(q, 10)
    assert scores.shape == (100, 10) and scores.dtype == np.float32 and ids.dtype == np.int64
    assert np.all(np.diff(scores, axis=1) <= 1e-6), "best first"
    assert recall_at_10(ids, x, q) > 0.7
    # Itself first.
    _, self_ids = ix.search(x[:50], 1)
    assert np.mean(self_ids[:, 0] == np.arange(50)) >= 0.96
    p = tmp_path / "c.tjv"
    ix.save(p)
    back = tj.Index.load(p)
    assert back.to_bytes() == ix.to_bytes() == p.read_bytes()
    # The CLI reads the same file and finds the same hits.
    qp = tmp_path / "q.npy"
    np.save(qp, q)
    out = subprocess.run([cli(), "index", "search", str(p), str(qp), "-k", "10", "--json"], check=True, capture_output=True, text=True)
    hits = json.loads(out.stdout)["hits"]
    assert [[h["id"] for h in row] for row in hits] == ids.tolist()
    dec = ix.decode([0, 5])
    assert dec.shape == (2, 384)
    assert np.sum(dec * x[[0, 5]], axis=1).min() > 0.85


def test_fit_add_ids_merge(embeddings):
    x = embeddings
    ix = tj.Index.fit(x[:600], 96)
    assert len(ix) == 0 and ix.info["fit_vectors"] == 600
    r = ix.add(x[:300], ids=[f"s{i}" for i in range(300)])
    assert r["added"] == 300
    shard = tj.Index.fit(x[:600], 96)
    assert shard.info["codebook_crc32"] == ix.info["codebook_crc32"]
    shard.add(x[300:600], ids=[f"s{i}" for i in range(300, 600)])
    ix.merge(shard)
    assert len(ix) == 600
    whole = tj.Index.fit(x[:600], 96)
    whole.add(x[:600], ids=[f"s{i}" for i in range(600)])
    assert whole.to_bytes() == ix.to_bytes(), "shards merged are the whole collection"
    scores, ids = ix.search(x[[10, 450]], 3)
    assert ids[0][0] == "s10" and ids[1][0] == "s450"
    assert ix.positions(["s450", "s0"]) == [450, 0]
    assert ix.decode(["s450"]).shape == (1, 384)
    with pytest.raises(KeyError):
        ix.positions(["nope"])
    with pytest.raises(tj.InvalidArgumentError, match="none given"):
        ix.add(x[600:610])
    with pytest.raises(tj.InvalidArgumentError, match="dimension"):
        ix.search(np.ones((2, 100), np.float32), 3)
    with pytest.raises(tj.InvalidArgumentError, match="norm"):
        ix.add(2 * x[600:601], ids=["t"])
    assert len(ix) == 600, "refused adds change nothing"
    other = tj.Index.fit(x[:600], 48)
    with pytest.raises(tj.TensorJpegError, match="codebook"):
        other.merge(ix)
    with pytest.raises(tj.CorruptDataError):
        tj.Index.from_bytes(ix.to_bytes()[:-1])
