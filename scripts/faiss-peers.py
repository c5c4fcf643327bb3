"""tensorjpeg's persisted index against faiss's quantizers, in one run, on the same vectors.

The vectors are exactly those `tensorjpeg embed-eval` measures (all-MiniLM-L6-v2 sentence
embeddings: enwiki neighbours, Bible paraphrases), exported with `--export-splits`. For every
byte budget B (all-in bytes per vector) it reports, per quantizer family, the best recall any
of its configurations reaches within B — once with faiss's side data (codebooks, rotations,
PCA matrices) counted in its bytes, as tensorjpeg's always are, and once with only its codes
counted — beside `tensorjpeg.Index` built at B from the same fit set.

    bash scripts/faiss-peers.sh                       # splits, wheel, faiss, both runs
    .venv/bin/python scripts/faiss-peers.py --splits out/faiss/splits --out out/faiss

Measured: recall@10 against exact float32 search (enwiki) and recall@1 of the paraphrase
(Bible) on the same queries; build time (train + add, all threads); queries/s batched (all
threads) and one query at a time on one thread; for tensorjpeg also exhaustive search over
its own codes (the shortlist's recall against it). Not part of CI.
"""

import argparse
import json
import os
import pathlib
import re
import sys
import time

import numpy as np

import faiss
import tensorjpeg as tj

ROOT = pathlib.Path(__file__).resolve().parents[1]
M_GRID = [8, 16, 24, 32, 48, 64, 96]
LSQ_FIT = 1000
FAMILIES = ["Flat", "PQ", "OPQ", "PCA+SQ8", "RQ", "PLSQ", "LSQ", "SQ4", "SQ8"]


def now():
    return time.perf_counter()


def exact_top(queries, database, k):
    """Indices of the k best inner products per query (float32, in blocks)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), 2048):
        sc = queries[s : s + 2048] @ database.T
        part = np.argpartition(-sc, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sc, part, 1), axis=1)
        out[s : s + 2048] = np.take_along_axis(part, order, 1)
    return out


def neighbour_recall(found, truth, k):
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


def paraphrase_recall(found, relevant, k):
    return float(np.mean([r in f[:k] for f, r in zip(found, relevant)]))


def single_query_rate(search, queries, n):
    """Queries/s answering `n` queries one call each (after two warm-up calls)."""
    qs = queries[:n]
    search(qs[:1])
    search(qs[1:2])
    t = now()
    for i in range(len(qs)):
        search(qs[i : i + 1])
    return len(qs) / (now() - t)


def faiss_configs(d, budgets):
    """(family, factory string) for every configuration tried. PQ and OPQ cover a grid of
    code sizes (their codebooks are small enough that side-data-counted budgets can pick a
    smaller code); the additive quantizers' codebooks (M x 256 x d floats) never fit a
    counted budget here, so they run at the budgets' code sizes only."""
    out = [("Flat", "Flat")]
    for m in M_GRID:
        if d % m == 0:
            # `np`: no polysemous training (the factory's default for 8-bit PQ; it only
            # serves Hamming-filtered search, unused here, and costs ~0.8 s a sub-quantizer).
            out.append(("PQ", f"PQ{m}np"))
            out.append(("OPQ", f"OPQ{m},PQ{m}np"))
    for m in budgets:
        out.append(("PCA+SQ8", f"PCA{m},SQ8"))
        out.append(("RQ", f"RQ{m}x8"))
        if m % 8 == 0:
            out.append(("PLSQ", f"PLSQ{m // 8}x8x8"))
    out.append(("LSQ", "LSQ32x8"))
    out.append(("SQ8", "SQ8"))
    out.append(("SQ4", "SQ4"))
    return out


def side_bytes(index):
    """Bytes of everything faiss stores besides the per-vector codes: the index serialized
    with its vectors removed (codebooks, rotation, PCA matrix, header)."""
    clone = faiss.clone_index(index)
    clone.reset()
    return len(faiss.serialize_index(clone))


def run_faiss(family, spec, d, fit, database, queries, truth, relevant, k, single_n, single_thread_ok):
    index = faiss.index_factory(d, spec, faiss.METRIC_INNER_PRODUCT)
    t = now()
    if not index.is_trained:
        # Full LSQ trains for ~7 minutes on 1,000 vectors here (faiss defaults): it gets the
        # first LSQ_FIT fit vectors; every other quantizer gets the whole fit set.
        index.train(fit[:LSQ_FIT] if family == "LSQ" else fit)
    index.add(database)
    build_s = now() - t
    side = side_bytes(index) if family != "Flat" else 0
    code = index.sa_code_size()
    t = now()
    _, found = index.search(queries, k)
    batch_s = now() - t
    row = {
        "family": family,
        "config": spec,
        "code_bytes": code,
        "side_bytes": side,
        "bytes_all_in": code + side / len(database),
        "build_s": build_s,
        "batch_qps": len(queries) / batch_s,
    }
    row.update(score(found, truth, relevant, k))
    if single_thread_ok:
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        row["single_qps"] = single_query_rate(lambda q: index.search(q, k), queries, single_n)
        faiss.omp_set_num_threads(threads)
    return row


def score(found, truth, relevant, k):
    if relevant is None:
        return {"recall": neighbour_recall(found, truth, k), "metric": f"recall@{k} vs exact float32"}
    return {
        "recall": paraphrase_recall(found, relevant, 1),
        "recall_at_10": paraphrase_recall(found, relevant, 10),
        "metric": "recall@1 of the paraphrase",
    }


def run_tensorjpeg(budget, fit, database, queries, truth, relevant, k, single_n, shortlist):
    t = now()
    ix = tj.Index.build(database, budget, fit=fit)
    build_s = now() - t
    t = now()
    _, found = ix.search(queries, k, shortlist=shortlist)
    batch_s = now() - t
    # Exhaustive search over the same codes: every vector decoded, scored exactly.
    exhaustive = exact_top(queries, ix.decode(), k)
    row = tensorjpeg_row(ix, f"Index(bytes_per_vector={budget}, shortlist={shortlist})", database, build_s)
    row["batch_qps"] = len(queries) / batch_s
    row["recall_vs_exhaustive_codes"] = neighbour_recall(found, exhaustive, k)
    if single_n:
        row["single_qps"] = single_query_rate(lambda q: ix.search(q, k, shortlist=shortlist), queries, single_n)
    row.update(score(found, truth, relevant, k))
    ex = score(exhaustive, truth, relevant, k)
    row["recall_exhaustive"] = ex["recall"]
    return row


def run_tensorjpeg_exhaustive(budget, fit, database, queries, truth, relevant, k):
    """The index built without a coarse code (``searchable=False``: every byte goes to the
    fine code, and a search scores every vector — the kind of search faiss's flat-code
    indexes do). Scored from the decoded vectors (unit norm, so ``q·x̂`` is the index's own
    search score) rather than one query at a time through its slow exhaustive path, so no
    query rate is reported for it (that would time numpy, not the index)."""
    t = now()
    ix = tj.Index.build(database, budget, fit=fit, searchable=False)
    build_s = now() - t
    row = tensorjpeg_row(ix, f"Index(bytes_per_vector={budget}, searchable=False)", database, build_s)
    row["shortlist"] = "all"
    row.update(score(exact_top(queries, ix.decode(), k), truth, relevant, k))
    return row


def tensorjpeg_row(ix, config, database, build_s):
    """The fields every tensorjpeg row has: all-in bytes from the index file itself."""
    return {
        "family": "tensorjpeg",
        "config": config,
        "code_bytes": None,
        "side_bytes": None,
        "bytes_all_in": len(ix.to_bytes()) / len(database),
        "build_s": build_s,
        "batch_qps": None,
    }


def best_within(rows, family, budget, counted):
    key = "bytes_all_in" if counted else "code_bytes"
    fits = [r for r in rows if r["family"] == family and r[key] is not None and r[key] <= budget + 1e-9]
    return max(fits, key=lambda r: r["recall"]) if fits else None


def table(results):
    lines = []
    for ds, rows in results.items():
        metric = rows[0]["metric"]
        lines.append(f"\n### {ds} ({metric}; {rows[0]['n_database']} database vectors, {rows[0]['n_queries']} queries)\n")
        lists = sorted({r["shortlist"] for r in rows if r["family"] == "tensorjpeg"}, key=lambda v: (isinstance(v, str), v if isinstance(v, int) else 0))
        head = " | ".join(
            "tensorjpeg, no coarse code (exhaustive)" if s == "all" else f"tensorjpeg, shortlist {s}" for s in lists
        )
        lines.append(f"| bytes/vector | {head} | best faiss, side data counted | best faiss, codes only |")
        lines.append("|---|" + "---|" * (len(lists) + 2))
        for b in sorted({r["budget"] for r in rows if r["family"] == "tensorjpeg"}):
            ours = [r for r in rows if r["family"] == "tensorjpeg" and r["budget"] == b]
            cells = []
            for counted in (True, False):
                best = None
                for fam in FAMILIES[1:]:
                    r = best_within(rows, fam, b, counted)
                    if r and (best is None or r["recall"] > best["recall"]):
                        best = r
                cells.append(
                    "none fits"
                    if best is None
                    else f"{best['recall']:.4f} ({best['config']}, {best['bytes_all_in']:.1f} B all-in)"
                )
            mine = " | ".join(f"{r['recall']:.4f} ({r['bytes_all_in']:.1f} B)" for r in ours)
            lines.append(f"| {b} | {mine} | {cells[0]} | {cells[1]} |")
        lines.append("\nEvery configuration:\n")
        lines.append("| family | config | code B | all-in B | recall | build s | batch q/s | 1-thread q/s | recall@10 vs own exhaustive |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            code = "" if r["code_bytes"] is None else str(r["code_bytes"])
            single = f"{r['single_qps']:.0f}" if r.get("single_qps") else ""
            batch = f"{r['batch_qps']:.0f}" if r.get("batch_qps") else ""
            lines.append(
                f"| {r['family']} | {r['config']} | {code} | {r['bytes_all_in']:.1f} | {r['recall']:.4f} | "
                f"{r['build_s']:.2f} | {batch} | {single} | {r.get('recall_vs_exhaustive_codes', '')} |"
            )
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", default=str(ROOT / "out" / "faiss" / "splits"))
    ap.add_argument("--out", default=str(ROOT / "out" / "faiss"))
    ap.add_argument("--datasets", default="enwiki,bible")
    ap.add_argument("--budgets", default="32,64,96")
    ap.add_argument("--bible-queries", type=int, default=5000, help="evenly spaced Bible queries evaluated")
    ap.add_argument("--single", type=int, default=300, help="queries timed one at a time")
    ap.add_argument("--shortlists", default="100,1000", help="tensorjpeg: candidates rescored (one row each)")
    ap.add_argument("--families", default=",".join(FAMILIES), help="faiss families run")
    ap.add_argument(
        "--exhaustive", action="store_true", help="also the index without a coarse code (searchable=False), scored exhaustively"
    )
    ap.add_argument("--only", help="run only the faiss configurations whose factory string matches this regex")
    ap.add_argument("--no-single", action="store_true", help="skip the one-query-at-a-time timings")
    a = ap.parse_args()
    budgets = [int(b) for b in a.budgets.split(",")]
    shortlists = [int(s) for s in a.shortlists.split(",")]
    families = set(a.families.split(","))
    splits = pathlib.Path(a.splits)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    k = 10
    results = {}
    for ds in a.datasets.split(","):
        fit = np.ascontiguousarray(np.load(splits / f"{ds}-fit.npy"), dtype=np.float32)
        database = np.ascontiguousarray(np.load(splits / f"{ds}-database.npy"), dtype=np.float32)
        queries = np.ascontiguousarray(np.load(splits / f"{ds}-queries.npy"), dtype=np.float32)
        relevant = None
        if ds == "bible":
            relevant = np.load(splits / "bible-relevant.npy")
            if len(queries) > a.bible_queries:
                pick = np.linspace(0, len(queries) - 1, a.bible_queries).round().astype(np.int64)
                queries, relevant = queries[pick], relevant[pick]
        truth = exact_top(queries, database, k)
        d = database.shape[1]
        rows = []
        for b in budgets:
            for sl in shortlists:
                r = run_tensorjpeg(b, fit, database, queries, truth, relevant, k, 0 if a.no_single else a.single, sl)
                r["budget"] = b
                r["shortlist"] = sl
                rows.append(r)
                print(ds, "tensorjpeg", b, sl, {x: r.get(x) for x in ("bytes_all_in", "recall", "recall_exhaustive", "single_qps", "build_s")}, flush=True)
            if a.exhaustive:
                r = run_tensorjpeg_exhaustive(b, fit, database, queries, truth, relevant, k)
                r["budget"] = b
                rows.append(r)
                print(ds, "tensorjpeg exhaustive", b, {x: r.get(x) for x in ("bytes_all_in", "recall")}, flush=True)
        for family, spec in faiss_configs(d, budgets):
            if family not in families or (a.only and not re.search(a.only, spec)):
                continue
            # One-query timings: the exhaustive float scan and every quantizer at 96-byte codes.
            single = not a.no_single and (family == "Flat" or "96" in spec.split(",")[-1] or spec == "PLSQ12x8x8")
            r = run_faiss(family, spec, d, fit, database, queries, truth, relevant, k, a.single, single)
            rows.append(r)
            print(ds, family, spec, {x: round(r[x], 4) for x in ("bytes_all_in", "recall", "build_s")}, flush=True)
        for r in rows:
            r["n_database"] = len(database)
            r["n_queries"] = len(queries)
        results[ds] = rows
        (out / f"results-{ds}.json").write_text(json.dumps({"meta": meta(), "rows": rows}, indent=1))
    # The tables cover every dataset measured so far into this folder (runs may be split).
    for f in sorted(out.glob("results-*.json")):
        results.setdefault(f.stem.removeprefix("results-"), json.loads(f.read_text())["rows"])
    (out / "results.md").write_text(f"# tensorjpeg index vs faiss {faiss.__version__}\n" + table(results))
    print(table(results))


def meta():
    return {
        "faiss": faiss.__version__,
        "tensorjpeg": getattr(tj, "__version__", None),
        "threads": faiss.omp_get_max_threads(),
        "cpus": os.cpu_count(),
        "argv": sys.argv,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


if __name__ == "__main__":
    main()
