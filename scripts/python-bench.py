"""The Python package against the CLI on the same ~90 MB of tensors (all-MiniLM-L6-v2's
weights), in one run: wall time of compress_file / decompress_file against the
`tensorjpeg` commands doing the same work, medians of ROUNDS alternating rounds; and the
array path (tj.compress / tj.decompress on the word-embedding matrix) against the file path.

    .venv/bin/python scripts/python-bench.py [--rounds 5] [--out out/python-bench.json]

Needs the wheel installed (bash scripts/python.sh --no-test) and a release CLI
(cargo build --release -p tensorjpeg-cli). Not part of CI.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import time

import numpy as np

import tensorjpeg as tj

ROOT = pathlib.Path(__file__).resolve().parents[1]


def timed(f):
    t = time.perf_counter()
    r = f()
    return time.perf_counter() - t, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bits", type=float, default=4.0)
    ap.add_argument("--out", default=str(ROOT / "out" / "python-bench.json"))
    a = ap.parse_args()
    cli = str(ROOT / "target" / "release" / "tensorjpeg")
    model = ROOT / "assets" / "minilm" / "model.safetensors"
    mb = model.stat().st_size / 1e6
    rows = {k: [] for k in ("py_compress_file", "cli_compress", "py_decompress_file", "cli_decompress",
                            "py_compress_array", "py_decompress_array", "py_compress_npy_file")}
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        raw = d / "raw.tjpg"
        tj.compress_file(model, raw, codec="raw", include="word_embeddings")
        w = tj.decompress_all(raw.read_bytes())["embeddings.word_embeddings.weight"]
        npy = d / "w.npy"
        np.save(npy, w)
        for r in range(a.rounds):
            for name in ("py", "cli") if r % 2 == 0 else ("cli", "py"):
                out, back = d / f"{name}{r}.tjpg", d / f"{name}{r}.safetensors"
                if name == "py":
                    rows["py_compress_file"].append(timed(lambda: tj.compress_file(model, out, bits=a.bits))[0])
                    rows["py_decompress_file"].append(timed(lambda: tj.decompress_file(out, back))[0])
                else:
                    rows["cli_compress"].append(timed(lambda: subprocess.run(
                        [cli, "compress", str(model), "-o", str(out), "--bits", str(a.bits), "--json"],
                        check=True, capture_output=True))[0])
                    rows["cli_decompress"].append(timed(lambda: subprocess.run(
                        [cli, "decompress", str(out), "-o", str(back)], check=True, capture_output=True))[0])
            t, blob = timed(lambda: tj.compress(w, bits=a.bits))
            rows["py_compress_array"].append(t)
            rows["py_decompress_array"].append(timed(lambda: tj.decompress(blob))[0])
            rows["py_compress_npy_file"].append(timed(lambda: tj.compress_file(npy, d / f"n{r}.tjpg", bits=a.bits))[0])
    med = {k: statistics.median(v) for k, v in rows.items()}
    res = {
        "model_mb": mb,
        "array_mb": w.nbytes / 1e6,
        "rounds": a.rounds,
        "cpus": os.cpu_count(),
        "median_seconds": med,
        "compress_file_overhead": med["py_compress_file"] / med["cli_compress"] - 1,
        "decompress_file_overhead": med["py_decompress_file"] / med["cli_decompress"] - 1,
        "compress_array_vs_npy_file": med["py_compress_array"] / med["py_compress_npy_file"],
        "decompress_array_mb_per_s": w.nbytes / 1e6 / med["py_decompress_array"],
        "all": rows,
    }
    pathlib.Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(a.out).write_text(json.dumps(res, indent=2))
    print(json.dumps({k: v for k, v in res.items() if k != "all"}, indent=2))


if __name__ == "__main__":
    main()
