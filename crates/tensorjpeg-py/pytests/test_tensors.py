"""Tensors through the Python package: arrays and files, reports, errors."""

import json
import subprocess

import numpy as np
import pytest

import tensorjpeg as tj
from conftest import asset, cli


def minilm_matrix(tmp_path) -> np.ndarray:
    """A real weight matrix: MiniLM's first query projection, read back exactly."""
    out = tmp_path / "raw.tjpg"
    tj.compress_file(asset("minilm/model.safetensors"), out, codec="raw", include="layer\\.0\\.attention\\.self\\.query\\.weight")
    t = tj.decompress_all(out.read_bytes())
    return t["encoder.layer.0.attention.self.query.weight"]


def test_array_round_trip_reports_and_owns_its_buffer(tmp_path):
    w = minilm_matrix(tmp_path)
    assert w.shape == (384, 384) and w.dtype == np.float32
    blob, r = tj.compress(w, bits=4, return_report=True)
    assert isinstance(blob, bytes)
    assert abs(r["bits_per_value"] - 4.0) < 0.05
    back = tj.decompress(blob)
    assert back.shape == w.shape and back.dtype == np.float32
    snr = 10 * np.log10((w.astype(np.float64) ** 2).sum() / ((w - back).astype(np.float64) ** 2).sum())
    assert abs(snr - r["snr_db"]) < 0.01
    assert 19 < snr < 30
    assert r["max_abs_error"] == pytest.approx(np.abs(w - back).max(), rel=1e-5)
    # No copy: the array views the buffer Rust decoded into (not another ndarray's).
    assert back.base is not None and not isinstance(back.base.base, np.ndarray)
    # A tighter rate is better; a guaranteed bound holds.
    assert tj.compress(w, snr=30, return_report=True)[1]["snr_db"] >= 29.9
    e = float(np.abs(w).max() / 100)
    assert np.abs(tj.decompress(tj.compress(w, max_error=e)) - w).max() <= e
    # Non-contiguous and float64 input are converted; other codecs by spec.
    assert tj.decompress(tj.compress(w.T.astype(np.float64), codec="q8_0")).shape == (384, 384)


def test_files_like_the_cli(tmp_path):
    out = tmp_path / "m.tjpg"
    r = tj.compress_file(asset("minilm/model.safetensors"), out, bits=4)
    assert r["bits_per_value"] == pytest.approx(4.0, abs=0.1)
    names = {t["name"]: t for t in r["tensors"]}
    # Norms and biases stay exact by default, as in `tensorjpeg compress`.
    assert names["embeddings.LayerNorm.weight"]["codec"] == "stored"
    cli_out = tmp_path / "c.tjpg"
    subprocess.run([cli(), "compress", str(asset("minilm/model.safetensors")), "-o", str(cli_out), "--bits", "4"], check=True, capture_output=True)
    assert cli_out.read_bytes() == out.read_bytes(), "the same plan and codec as the CLI"
    info = tj.inspect(out)
    assert info["kind"] == "tensorjpeg container" and len(info["tensors"]) == len(r["tensors"])
    back = tmp_path / "back.safetensors"
    assert tj.decompress_file(out, back)["tensors"] == len(r["tensors"])
    assert tj.inspect(back)["kind"] == "tensor file"
    with pytest.raises(tj.TensorJpegError):
        tj.decompress(out.read_bytes())  # 104 tensors: decompress_all() returns them
    assert len(tj.decompress_all(out.read_bytes())) == len(r["tensors"])


def test_errors_are_typed_and_carry_the_rust_message(tmp_path):
    w = np.ones((8, 8), np.float32)
    blob = tj.compress(w, bits=4)
    with pytest.raises(tj.CorruptDataError, match="truncated|checksum"):
        tj.decompress(blob[:-5])
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0x40
    with pytest.raises(tj.CorruptDataError):
        tj.decompress(bytes(bad))
    with pytest.raises(tj.InvalidArgumentError, match="bits"):
        tj.compress(w, bits=-1)
    with pytest.raises(tj.InvalidArgumentError, match="unknown codec"):
        tj.compress(w, codec="nope")
    with pytest.raises(tj.InvalidArgumentError, match="at most one"):
        tj.compress(w, bits=4, snr=20)
    with pytest.raises(tj.FileError, match="missing.safetensors"):
        tj.compress_file(tmp_path / "missing.safetensors", tmp_path / "o.tjpg")
    src = tmp_path / "w.tjpg"
    src.write_bytes(blob)
    with pytest.raises(tj.TensorJpegError, match="input"):
        tj.decompress_file(src, src)  # never over an input
    assert src.read_bytes() == blob
    assert issubclass(tj.CorruptDataError, tj.TensorJpegError)
    assert "decompress_all" in tj.decompress.__doc__
