#!/usr/bin/env python3
"""What appending costs against building at once: the persisted index (`tensorjpeg.Index`)
built from the whole collection, against the same collection appended to a codebook fitted
on less of it (`add` never refits: values the codebook never saw are clamped to the nearest
it can code). Same vectors as `embed-eval` / `scripts/faiss-peers.py` (`--export-splits`).

  .venv/bin/python scripts/append-cost.py --splits out/faiss/tj/splits --out out/append-cost

Per dataset and budget, one row per way of building:
  build        Index.build(database, B, fit=fit split): the reference (rate control on the
               collection itself)
  build10+add  Index.build(first 10 % of the database, B, fit=fit split), then add the rest
  fit+add      Index.fit(fit split, B) (rate control on the fit split, each vector's bytes
               only: the codebook is not counted), then add everything
Columns: all-in bytes/vector, vectors with a clamped value and clamped values (counts),
mean cosine of the decoded vector with the original, neighbour recall@10 against exact
float32 search, and (Bible) recall@1 of the paraphrase; search at the default shortlist.
"""
import argparse
import json
import pathlib
import time

import numpy as np
import tensorjpeg as tj


def exact_top(queries, database, k):
    s = queries @ database.T
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def neighbour_recall(found, truth, k):
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


def row(name, ix, database, queries, truth, relevant, clamped, build_s):
    dec = ix.decode()
    cos = np.sum(dec * database, axis=1) / (
        np.linalg.norm(dec, axis=1) * np.linalg.norm(database, axis=1) + 1e-30
    )
    _, found = ix.search(queries, 10)
    r = {
        "build": name,
        "bytes_all_in": len(ix.to_bytes()) / len(ix),
        "clamped_vectors": clamped[0],
        "clamped_values": clamped[1],
        "cosine_mean": float(cos.mean()),
        "cosine_p01": float(np.quantile(cos, 0.01)),
        "neighbour_recall_at_10": neighbour_recall(found, truth, 10),
        "build_s": build_s,
    }
    if relevant is not None:
        r["recall_at_1"] = float(np.mean(found[:, 0] == relevant))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", default="out/faiss/tj/splits")
    ap.add_argument("--out", default="out/append-cost")
    ap.add_argument("--datasets", default="enwiki,bible")
    ap.add_argument("--budgets", default="64,96")
    ap.add_argument("--queries", type=int, default=2000, help="evenly spaced queries evaluated")
    a = ap.parse_args()
    splits = pathlib.Path(a.splits)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for ds in a.datasets.split(","):
        fit = np.ascontiguousarray(np.load(splits / f"{ds}-fit.npy"), dtype=np.float32)
        database = np.ascontiguousarray(np.load(splits / f"{ds}-database.npy"), dtype=np.float32)
        queries = np.ascontiguousarray(np.load(splits / f"{ds}-queries.npy"), dtype=np.float32)
        relevant = np.load(splits / "bible-relevant.npy") if ds == "bible" else None
        if len(queries) > a.queries:
            pick = np.linspace(0, len(queries) - 1, a.queries).round().astype(np.int64)
            queries = queries[pick]
            relevant = None if relevant is None else relevant[pick]
        truth = exact_top(queries, database, 10)
        head = len(database) // 10
        for b in [float(x) for x in a.budgets.split(",")]:
            t = time.perf_counter()
            ix = tj.Index.build(database, b, fit=fit)
            r = row("build", ix, database, queries, truth, relevant, (0, 0), time.perf_counter() - t)
            rows.append({"dataset": ds, "budget": b, **r})
            print(json.dumps(rows[-1]), flush=True)

            t = time.perf_counter()
            ix = tj.Index.build(database[:head], b, fit=fit)
            c = ix.add(database[head:])
            r = row("build10+add", ix, database, queries, truth, relevant,
                    (c["clamped_vectors"], c["clamped_values"]), time.perf_counter() - t)
            rows.append({"dataset": ds, "budget": b, **r})
            print(json.dumps(rows[-1]), flush=True)

            t = time.perf_counter()
            ix = tj.Index.fit(fit, b)
            c = ix.add(database)
            r = row("fit+add", ix, database, queries, truth, relevant,
                    (c["clamped_vectors"], c["clamped_values"]), time.perf_counter() - t)
            rows.append({"dataset": ds, "budget": b, **r})
            print(json.dumps(rows[-1]), flush=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    lines = [
        "| set | B | build | B/vec all-in | vectors clamped | values clamped | cos mean | cos 1st pct | nR@10 | R@1 | build s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = r["clamped_vectors"]
        lines.append(
            f"| {r['dataset']} | {r['budget']:.0f} | {r['build']} | {r['bytes_all_in']:.2f} | {n} | "
            f"{r['clamped_values']} | {r['cosine_mean']:.4f} | {r['cosine_p01']:.4f} | "
            f"{r['neighbour_recall_at_10']:.4f} | {r.get('recall_at_1', float('nan')):.4f} | {r['build_s']:.1f} |"
        )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
