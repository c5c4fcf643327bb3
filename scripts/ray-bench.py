"""The Ray job (tensorjpeg.scale.build_index) on 1 and 2 workers, alternating, on a local
Ray node: wall time of the map stage (every shard coded and written), vectors/s per task,
and a check that every run's joined index is byte for byte the single-process index.

    .venv/bin/python scripts/ray-bench.py [--rounds 2] [--tile 8] [--out out/ray-bench]

Input: the real MiniLM Bible embeddings that `tensorjpeg embed-eval --dataset bible
--export-splits` cached (both translations, 62,184 vectors), tiled TILE times into TILE
.npy files (the codec's work does not depend on repeats). Needs the wheel with ray[data]
(bash scripts/python.sh --no-test). Not part of CI.
"""

import argparse
import hashlib
import json
import os
import pathlib
import statistics
import time

import numpy as np
import ray

import tensorjpeg.scale as ts

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--embeddings", default=str(ROOT / "out" / "faiss" / "tj" / "embeddings"))
    ap.add_argument("--out", default=str(ROOT / "out" / "ray-bench"))
    ap.add_argument("--tile", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--bytes-per-vector", type=float, default=64)
    ap.add_argument("--rows-per-shard", type=int, default=31092)
    ap.add_argument("--inherit-env", action="store_true", help="RAYON_NUM_THREADS=1 set before ray.init, no runtime env")
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    inp = out / "input"
    inp.mkdir(parents=True, exist_ok=True)
    sources = sorted(pathlib.Path(a.embeddings).glob("bible-*.npy"))
    if not sources:
        raise SystemExit(f"no bible-*.npy under {a.embeddings}: run tensorjpeg embed-eval --dataset bible first")
    base = np.concatenate([np.load(p) for p in sources]).astype(np.float32)
    inputs = []
    for i in range(a.tile):
        p = inp / f"part-{i:02d}.npy"
        if not p.exists():
            np.save(p, base)
        inputs.append(p)
    n = len(base) * a.tile
    t = time.perf_counter()
    one = ts.single_process_index(inputs, a.bytes_per_vector).to_bytes()
    single_s = time.perf_counter() - t
    want = hashlib.sha256(one).hexdigest()
    if a.inherit_env:
        # Workers inherit the driver's environment: one rayon thread each, no runtime env.
        os.environ["RAYON_NUM_THREADS"] = "1"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    runs = []
    for r in range(a.rounds):
        for workers in (1, 2):
            res = ts.build_index(
                inputs, out / f"w{workers}", a.bytes_per_vector, rows_per_shard=a.rows_per_shard, workers=workers,
                threads_per_task=None if a.inherit_env else 1,
            )
            joined = ts.Index.load(res["manifest"]).to_bytes()
            same = hashlib.sha256(joined).hexdigest() == want
            per_task = [s["vectors"] / s["seconds"] for s in res["shards"]]
            runs.append(
                {
                    "round": r,
                    "workers": workers,
                    "map_seconds": res["map_seconds"],
                    "fit_seconds": res["fit_seconds"],
                    "seconds": res["seconds"],
                    "vectors_per_s": n / res["map_seconds"],
                    "task_vectors_per_s_median": statistics.median(per_task),
                    "shards": len(res["shards"]),
                    "identical_to_single_process": same,
                }
            )
            print(json.dumps(runs[-1]), flush=True)
    ray.shutdown()
    med = {w: statistics.median(r["map_seconds"] for r in runs if r["workers"] == w) for w in (1, 2)}
    summary = {
        "vectors": n,
        "dim": base.shape[1],
        "bytes_per_vector": a.bytes_per_vector,
        "index_bytes": len(one),
        "single_process_seconds": single_s,
        "map_seconds_median": med,
        "speedup_2_workers": med[1] / med[2],
        "all_identical": all(r["identical_to_single_process"] for r in runs),
        "runs": runs,
    }
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=1))


if __name__ == "__main__":
    main()
