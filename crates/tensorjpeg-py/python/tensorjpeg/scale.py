"""Scale-out on Ray: compress a sharded embedding collection, or a folder of model files, in
parallel map tasks of a Ray Data pipeline, writing one file per task plus a manifest that
``tensorjpeg index …``, ``tensorjpeg decompress``, :meth:`tensorjpeg.Index.load` and
:func:`tensorjpeg.decompress_file` read as one collection.

    import ray, tensorjpeg.scale as ts
    ray.init()                               # or ray.init(address="auto") on a cluster
    manifest = ts.build_index(["part-0.npy", "part-1.npy"], "out/", bytes_per_vector=64)
    ix = tensorjpeg.Index.load(manifest)     # the shards, joined: one collection

The embedding job fits the codebook once, on the driver, from an evenly spaced sample (or
the ``fit`` vectors given), puts its bytes in Ray's object store, and every task codes its
rows with that frozen codebook (``Index.add``): the shards, joined in order, are byte for
byte the index one process makes with ``Index.fit(sample)`` then ``add`` of every row (the
result does not depend on the number of workers). Tasks read their rows from memory-mapped
``.npy`` files (no copy through the object store) and write their shard atomically; the
manifest records each shard's size and CRC-32. Needs ``ray[data]`` (``pip install
"ray[data]"``); this module imports it only when called.
"""

import os
import pathlib
import time
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import Index, _native, compress_file

PathLike = Union[str, "os.PathLike[str]"]

#: Rows coded per task when ``rows_per_shard`` is not given.
DEFAULT_ROWS_PER_SHARD = 65536
#: Vectors the codebook is fitted on when no ``fit`` set is given (evenly spaced).
DEFAULT_SAMPLE = 20000


def _rows(paths: Sequence[PathLike]) -> List[int]:
    out = []
    for p in paths:
        a = np.load(os.fspath(p), mmap_mode="r")
        if a.ndim != 2:
            raise ValueError(f"{p}: vectors must be a 2-D array [vectors, dimension], not shape {a.shape}")
        out.append(a.shape[0])
    return out


def sample_rows(paths: Sequence[PathLike], count: int) -> np.ndarray:
    """``count`` rows evenly spaced over the concatenation of ``paths`` (all of them when
    there are fewer), as float32."""
    sizes = _rows(paths)
    total = sum(sizes)
    if total == 0:
        raise ValueError("no vectors in the inputs")
    pick = np.unique(np.linspace(0, total - 1, min(count, total)).round().astype(np.int64))
    starts = np.cumsum([0] + sizes)
    parts = []
    for i, p in enumerate(paths):
        mine = pick[(pick >= starts[i]) & (pick < starts[i + 1])] - starts[i]
        if len(mine):
            parts.append(np.asarray(np.load(os.fspath(p), mmap_mode="r")[mine], dtype=np.float32))
    return np.ascontiguousarray(np.concatenate(parts))


def plan_shards(paths: Sequence[PathLike], rows_per_shard: int) -> List[Dict[str, Any]]:
    """The tasks of :func:`build_index`: ``{"shard", "input", "start", "stop"}`` row ranges
    of at most ``rows_per_shard`` rows, in input order (a shard never spans two files)."""
    if rows_per_shard < 1:
        raise ValueError(f"rows_per_shard {rows_per_shard}: expected at least 1")
    tasks = []
    for p, n in zip(paths, _rows(paths)):
        for start in range(0, n, rows_per_shard):
            tasks.append(
                {"shard": len(tasks), "input": os.fspath(p), "start": start, "stop": min(n, start + rows_per_shard)}
            )
    return tasks


def encode_shard(task: Dict[str, Any], codebook: Any, out_dir: str) -> Dict[str, Any]:
    """One map task: codes rows ``start..stop`` of ``input`` with the frozen ``codebook``
    (the bytes of an empty :class:`Index`, or an object-store reference to them) and writes
    ``out_dir/shard-NNNNN.tjv``. Returns the task's row with ``path``, ``vectors``,
    ``clamped_vectors``, ``bytes``, ``seconds``."""
    t = time.perf_counter()
    if not isinstance(codebook, (bytes, bytearray)):
        import ray

        codebook = ray.get(codebook)
    ix = Index.from_bytes(bytes(codebook))
    rows = np.load(task["input"], mmap_mode="r")[task["start"] : task["stop"]]
    report = ix.add(np.ascontiguousarray(rows, dtype=np.float32))
    name = f"shard-{task['shard']:05d}.tjv"
    ix.save(pathlib.Path(out_dir) / name)
    return dict(
        task,
        path=name,
        vectors=report["added"],
        clamped_vectors=report["clamped_vectors"],
        bytes=(pathlib.Path(out_dir) / name).stat().st_size,
        seconds=time.perf_counter() - t,
    )


def build_index(
    inputs: Sequence[PathLike],
    out_dir: PathLike,
    bytes_per_vector: float,
    *,
    fit: Any = None,
    sample: int = DEFAULT_SAMPLE,
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
    workers: Optional[int] = None,
    threads_per_task: Optional[int] = 1,
    manifest: str = "index.json",
) -> Dict[str, Any]:
    """Builds a sharded embedding index of the rows of ``inputs`` (``.npy`` files, each
    [n_i, dim] float32/float16), in order, on the running Ray cluster (``ray.init()`` first;
    a local one is started if none is).

    ``fit``: the vectors to fit the codebook on (default: ``sample`` rows evenly spaced over
    the inputs). ``workers``: concurrent map tasks (default: Ray's choice);
    ``threads_per_task``: CPUs each task reserves and the threads it codes with. Writes
    ``out_dir/shard-NNNNN.tjv`` and ``out_dir/<manifest>``; returns a summary with the
    manifest's path, the shards' rows and timings."""
    import ray
    import ray.data

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train = sample_rows(inputs, sample) if fit is None else fit
    codebook = Index.fit(train, bytes_per_vector).to_bytes()
    fit_s = time.perf_counter() - t0
    tasks = plan_shards(inputs, rows_per_shard)
    ref = ray.put(codebook)
    t1 = time.perf_counter()
    rows = _run(
        lambda: ray.data.from_items(tasks, override_num_blocks=len(tasks)).map(
            encode_shard,
            fn_kwargs={"codebook": ref, "out_dir": str(out)},
            concurrency=workers,
            **_task_resources(threads_per_task),
        )
    )
    rows.sort(key=lambda r: r["shard"])
    map_s = time.perf_counter() - t1
    path = out / manifest
    _native.write_manifest(str(path), "index", [(r["path"], None) for r in rows])
    return {
        "manifest": str(path),
        "shards": rows,
        "vectors": sum(r["vectors"] for r in rows),
        "codebook_bytes": len(codebook),
        "fit_vectors": len(train),
        "fit_seconds": fit_s,
        "map_seconds": map_s,
        "seconds": time.perf_counter() - t0,
    }


def single_process_index(
    inputs: Sequence[PathLike], bytes_per_vector: float, *, fit: Any = None, sample: int = DEFAULT_SAMPLE
) -> Index:
    """What :func:`build_index` makes, in this process (for checking it): the same codebook,
    every row added in order."""
    train = sample_rows(inputs, sample) if fit is None else fit
    ix = Index.fit(train, bytes_per_vector)
    for p in inputs:
        ix.add(np.ascontiguousarray(np.load(os.fspath(p), mmap_mode="r"), dtype=np.float32))
    return ix


MODEL_SUFFIXES = (".safetensors", ".npy", ".gguf")


def _run(make: Any) -> List[Dict[str, Any]]:
    """Builds the one-stage pipeline (``make()``), runs it and collects its rows. Ray Data's per-operator
    resource reservation is off while it runs: it holds CPUs back for the stage that lists
    the tasks (which needs none), so on a 2-CPU node the second task started ~1 s late and
    2 workers ran 1.57x one instead of 1.77x (scripts/ray-bench.py)."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    before = ctx.op_resource_reservation_enabled
    ctx.op_resource_reservation_enabled = False
    try:
        # The dataset takes a copy of the context when it is made: make it now.
        return make().take_all()
    finally:
        ctx.op_resource_reservation_enabled = before


def _task_resources(threads: Optional[int]) -> Dict[str, Any]:
    """Ray resources of one map task: ``threads`` CPUs, and the library's thread pool
    (rayon) sized to match through the task's runtime environment, so tasks on one node do
    not oversubscribe it. ``None``: one CPU, and the workers' environment as it is (set
    ``RAYON_NUM_THREADS`` in the cluster's environment instead: no per-task runtime
    environment, so Ray reuses its prestarted workers)."""
    if threads is None:
        return {"num_cpus": 1}
    if threads < 1:
        raise ValueError(f"threads_per_task {threads}: expected at least 1")
    return {"num_cpus": threads, "runtime_env": {"env_vars": {"RAYON_NUM_THREADS": str(threads)}}}


def _compress_one(task: Dict[str, Any], out_dir: str, options: Dict[str, Any]) -> Dict[str, Any]:
    t = time.perf_counter()
    target = pathlib.Path(out_dir) / (task["source"] + ".tjz")
    target.parent.mkdir(parents=True, exist_ok=True)
    report = compress_file(task["input"], target, **options)
    return dict(
        task,
        path=task["source"] + ".tjz",
        bytes=target.stat().st_size,
        bits_per_value=report.get("bits_per_value"),
        seconds=time.perf_counter() - t,
    )


def compress_files(
    in_dir: PathLike,
    out_dir: PathLike,
    *,
    workers: Optional[int] = None,
    threads_per_task: Optional[int] = 1,
    manifest: str = "files.json",
    **options: Any,
) -> Dict[str, Any]:
    """Compresses every model file under ``in_dir`` (``.safetensors``, ``.npy``, ``.gguf``,
    recursively) with :func:`tensorjpeg.compress_file` (``options``: its keyword arguments,
    e.g. ``bits=4``), one map task per file, into ``out_dir/<relative path>.tjz``, and writes
    the manifest that ``tensorjpeg decompress out_dir/files.json -o DIR`` (or
    :func:`tensorjpeg.decompress_file`) restores from. Each container is byte for byte what
    ``compress_file`` writes in one process."""
    import ray.data

    src = pathlib.Path(in_dir)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES)
    if not files:
        raise ValueError(f"{src}: no .safetensors, .npy or .gguf file under it")
    tasks = [{"input": str(p), "source": p.relative_to(src).as_posix()} for p in files]
    t = time.perf_counter()
    rows = _run(
        lambda: ray.data.from_items(tasks, override_num_blocks=len(tasks)).map(
            _compress_one,
            fn_kwargs={"out_dir": str(out), "options": options},
            concurrency=workers,
            **_task_resources(threads_per_task),
        )
    )
    rows.sort(key=lambda r: r["source"])
    path = out / manifest
    _native.write_manifest(str(path), "files", [(r["path"], r["source"]) for r in rows])
    return {"manifest": str(path), "files": rows, "seconds": time.perf_counter() - t}
