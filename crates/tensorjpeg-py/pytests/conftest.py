"""Shared fixtures: the real assets fetched by scripts/fetch-assets.sh, and sentence
embeddings made by the `tensorjpeg embed` command (all-MiniLM-L6-v2 on enwiki text)."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def assets() -> pathlib.Path:
    return pathlib.Path(os.environ.get("TENSORJPEG_ASSETS", ROOT / "assets"))


def asset(rel: str) -> pathlib.Path:
    p = assets() / rel
    assert p.exists(), f"{p} missing: run bash scripts/fetch-assets.sh"
    return p


def cli() -> str:
    """The CLI binary (TENSORJPEG_BIN, else the workspace's release or debug build)."""
    env = os.environ.get("TENSORJPEG_BIN")
    if env:
        return env
    built = [ROOT / "target" / p / "tensorjpeg" for p in ("release", "debug")]
    built = [p for p in built if p.exists()]
    if built:
        return str(max(built, key=lambda p: p.stat().st_mtime))
    pytest.fail("no tensorjpeg binary: build it (cargo build -p tensorjpeg-cli) or set TENSORJPEG_BIN")


@pytest.fixture(scope="session")
def embeddings(tmp_path_factory) -> np.ndarray:
    """900 enwiki lines (at least 6 words) embedded by MiniLM: float32 [900, 384], unit norm."""
    d = tmp_path_factory.mktemp("emb")
    lines = [l.strip() for l in asset("text/enwiki.txt").read_text().splitlines() if len(l.split()) >= 6]
    txt = d / "s.txt"
    txt.write_text("\n".join(lines[:900]) + "\n")
    out = d / "s.npy"
    subprocess.run(
        [cli(), "embed", "--model", str(asset("minilm")), "--text", str(txt), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    x = np.load(out)
    assert x.shape == (900, 384)
    return x
