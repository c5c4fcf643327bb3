"""tensorjpeg: compression for the tensors of AI systems, numpy in and numpy out.

Tensors (model weights, activations)::

    import numpy as np, tensorjpeg as tj
    w = np.random.default_rng(0).standard_normal((256, 256), dtype=np.float32)
    blob, report = tj.compress(w, bits=4, return_report=True)
    w2 = tj.decompress(blob)                      # float32, shape (256, 256)
    tj.compress_file("model.safetensors", "model.tjpg", bits=4)   # norms and biases exact
    tj.decompress_file("model.tjpg", "back.safetensors")

Embedding collections (the same ``.tjv`` file as ``tensorjpeg index``)::

    index = tj.Index.build(vectors, bytes_per_vector=64)   # or Index.fit(train, 64).add(x)
    scores, positions, ids = index.search(queries, k=10)
    index.save("coll.tjv"); index = tj.Index.load("coll.tjv")

Signals (seed 002's machine-oriented codec)::

    basis = tj.SignalBasis.fit([image], levels=2)
    blob = basis.encode(image, step=0.1); image2 = basis.decode(blob)

Every error is a :class:`TensorJpegError` (subclasses :class:`CorruptDataError`,
:class:`InvalidArgumentError`, :class:`LimitError`, :class:`FileError`) carrying the
Rust message. Work runs with the GIL released.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._native import (
    CorruptDataError,
    FileError,
    InvalidArgumentError,
    LimitError,
    SignalBasis,
    TensorJpegError,
    __version__,
)

__all__ = [
    "compress",
    "decompress",
    "decompress_all",
    "compress_file",
    "decompress_file",
    "inspect",
    "Index",
    "SignalBasis",
    "TensorJpegError",
    "CorruptDataError",
    "InvalidArgumentError",
    "LimitError",
    "FileError",
    "__version__",
]

PathLike = Union[str, "os.PathLike[str]"]


def _f32(array: Any, what: str) -> np.ndarray:
    """A C-contiguous float32 view of ``array`` (a copy only when its layout or type needs one)."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    if a.ndim == 0:
        raise InvalidArgumentError(f"{what}: a scalar, not an array")
    return a


def _matrix(array: Any, what: str) -> np.ndarray:
    a = _f32(array, what)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2:
        raise InvalidArgumentError(f"{what}: expected a 2-D array [vectors, dimension], got shape {a.shape}")
    return a


def _rate(bits: Optional[float], snr: Optional[float], max_error: Optional[float], quality: Optional[int]) -> str:
    given = [(k, v) for k, v in (("bits", bits), ("snr", snr), ("maxerr", max_error), ("q", quality)) if v is not None]
    if len(given) > 1:
        raise InvalidArgumentError("give at most one of bits=, snr=, max_error=, quality=")
    return f"{given[0][0]}={given[0][1]}" if given else ""


def compress(
    array: Any,
    *,
    bits: Optional[float] = None,
    snr: Optional[float] = None,
    max_error: Optional[float] = None,
    quality: Optional[int] = None,
    codec: str = "native",
    name: str = "tensor",
    return_report: bool = False,
) -> Union[bytes, Tuple[bytes, Dict[str, Any]]]:
    """Compresses one array into a tensorjpeg container (``bytes``).

    At most one rate: ``bits`` (all-in bits per value), ``snr`` (dB), ``max_error`` (a
    guaranteed bound on every value's absolute error) or ``quality`` (1–100); none: the
    codec's default. ``codec`` is a codec spec as the CLI takes it (``native``,
    ``native:tcq``, ``jpeg:tiles``, ``q4_0``, ``f16``, …). With ``return_report`` the result
    is ``(bytes, report)``, the report a dict with ``bits_per_value``, per-tensor ``stats``,
    and ``snr_db``, ``max_abs_error`` and ``mse`` measured on the decoded values (a decode
    more).
    """
    a = _f32(array, "array")
    blob, report = _native.compress(a, codec, _rate(bits, snr, max_error, quality), name, return_report)
    return (blob, json.loads(report)) if return_report else blob


def _array(name: str, obj: Any, dtype: str, shape: List[int]) -> np.ndarray:
    if isinstance(obj, np.ndarray):
        return obj
    # A tensor stored verbatim in a type the codecs do not touch.
    np_types = {"F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
    if dtype not in np_types:
        raise InvalidArgumentError(f"tensor '{name}': dtype {dtype} has no numpy equivalent")
    return np.frombuffer(obj, dtype=np_types[dtype]).reshape(shape)


def decompress_all(data: bytes) -> Dict[str, np.ndarray]:
    """Every tensor of a container, by name (float tensors as float32 arrays)."""
    return {name: _array(name, obj, dt, shape) for name, obj, dt, shape in _native.decompress(data)}


def decompress(data: bytes) -> np.ndarray:
    """The one tensor of a container, as a float32 array that owns the decoded buffer
    (no copy). A container of several tensors raises: use :func:`decompress_all`."""
    tensors = _native.decompress(data)
    if len(tensors) != 1:
        raise InvalidArgumentError(
            f"the container holds {len(tensors)} tensors; decompress_all() returns them by name"
        )
    name, obj, dt, shape = tensors[0]
    return _array(name, obj, dt, shape)


def compress_file(
    input: PathLike,
    output: PathLike,
    *,
    bits: Optional[float] = None,
    snr: Optional[float] = None,
    max_error: Optional[float] = None,
    quality: Optional[int] = None,
    codec: str = "native",
    rules: Sequence[str] = (),
    allocation: str = "per-tensor",
    include: Optional[str] = None,
    exclude: Optional[str] = None,
    min_ndim: Optional[int] = None,
    calibration: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """Compresses a .safetensors, .npy or .gguf file into a container, as
    ``tensorjpeg compress`` does (the same plan: 1-D tensors stay exact unless
    ``min_ndim`` says otherwise; ``rules`` such as ``"word_embeddings=native@bits=3"``;
    ``allocation`` ``per-tensor``, ``global``, ``weighted`` or ``gptq``, the last two with
    ``calibration`` text). The output is written atomically and never over the input.
    Returns the report (the CLI's ``--json``) as a dict."""
    report = _native.compress_file(
        os.fspath(input),
        os.fspath(output),
        codec,
        _rate(bits, snr, max_error, quality),
        list(rules),
        allocation,
        include,
        exclude,
        min_ndim,
        None if calibration is None else os.fspath(calibration),
    )
    return json.loads(report)


def decompress_file(input: PathLike, output: PathLike) -> Dict[str, Any]:
    """Decodes a container into a .safetensors or .npy file (by the output's extension), or
    restores a repacked ``.tjgguf`` to its GGUF file bit for bit. Returns a summary dict.

    A manifest (``.json``, written by :func:`tensorjpeg.scale.compress_files`) decompresses
    every container it lists into the folder ``output``, each at its source's relative path
    (each shard's size and CRC-32 checked first)."""
    if os.fspath(input).lower().endswith(".json"):
        done = _native.decompress_manifest(os.fspath(input), os.fspath(output))
        return {"input": os.fspath(input), "output": os.fspath(output), "kind": "manifest",
                "files": [{"path": os.fspath(p), "tensors": n} for p, n in done]}
    return json.loads(_native.decompress_file(os.fspath(input), os.fspath(output)))


def inspect(path: PathLike) -> Dict[str, Any]:
    """What a file holds: a container's tensors (codec, bytes, bits per value), an
    embedding index's summary, or a tensor file's tensors."""
    return json.loads(_native.inspect(os.fspath(path)))


class Index:
    """A compressed, searchable embedding collection — tensorjpeg's KLT collection codec,
    scored in the compressed domain — saved as the same ``.tjv`` file the CLI's
    ``tensorjpeg index`` reads and writes.

    Build it from the vectors (``Index.build``), or fit a codebook on a sample and add the
    collection, in one process or in many (``Index.fit`` then ``add``; ``merge`` joins
    indices grown from one codebook). Adding never refits.
    """

    def __init__(self, native: "_native.Index") -> None:
        self._ix = native

    @classmethod
    def fit(cls, train: Any, bytes_per_vector: float, *, searchable: bool = True) -> "Index":
        """A codebook fitted on ``train`` ([n, dim]), holding no vector yet, for vectors
        added later. ``bytes_per_vector`` is what each added vector costs (its code, stream
        and length; the codebook is not counted, so the collection's all-in size approaches
        it as it grows), rate-controlled on ``train``. ``searchable=False`` drops the
        coarse code: smaller, and every search decodes every vector."""
        return cls(_native.Index.fit(_matrix(train, "train"), float(bytes_per_vector), searchable))

    @classmethod
    def build(
        cls,
        vectors: Any,
        bytes_per_vector: float,
        *,
        fit: Any = None,
        ids: Optional[Sequence[Union[int, str]]] = None,
        searchable: bool = True,
    ) -> "Index":
        """An index of ``vectors`` ([n, dim]) at ``bytes_per_vector`` all-in, the basis
        fitted on ``fit`` (default: the vectors). ``ids``: one int or str per vector
        (default: positions)."""
        f = None if fit is None else _matrix(fit, "fit")
        return cls(
            _native.Index.build(_matrix(vectors, "vectors"), float(bytes_per_vector), f, _ids(ids), searchable)
        )

    def add(self, vectors: Any, ids: Optional[Sequence[Union[int, str]]] = None) -> Dict[str, int]:
        """Codes ``vectors`` with the index's codebook and appends them. ``ids`` are
        required when the index has ids, and must be new. Returns ``added`` and how many
        vectors had values the codebook never saw (coded as the nearest it can code)."""
        added, cv, cval = self._ix.add(_matrix(vectors, "vectors"), _ids(ids))
        return {"added": added, "clamped_vectors": cv, "clamped_values": cval}

    def search(self, queries: Any, k: int = 10, *, shortlist: int = 100) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` best vectors for each query ([q, dim]), best first:
        ``(scores, ids)``, both [q, k] — scores float32 (cosines with the reconstruction for
        a unit-norm collection), ids int64 (positions when the index has no ids; a list of
        lists of str for text ids). Short rows are padded with -inf and -1.
        ``shortlist``: candidates rescored exactly after the coarse scan."""
        scores, positions, ids = self._ix.search(_matrix(queries, "queries"), int(k), int(shortlist))
        return scores, (positions if ids is None else ids)

    def positions(self, ids: Sequence[Union[int, str]]) -> List[int]:
        """Positions of the given ids (KeyError for a missing one)."""
        return self._ix.positions(_ids(ids))

    def decode(self, ids: Optional[Sequence[Union[int, str]]] = None) -> np.ndarray:
        """The decoded vectors with these ids (default: all), float32 [n, dim]."""
        return self._ix.decode(None if ids is None else self.positions(ids))

    def merge(self, other: "Index") -> None:
        """Appends the vectors of ``other``, grown from the same codebook."""
        self._ix.merge(other._ix)

    def save(self, path: PathLike) -> None:
        """Writes the ``.tjv`` file atomically."""
        self._ix.save(os.fspath(path))

    @classmethod
    def load(cls, path: PathLike) -> "Index":
        """Reads a ``.tjv`` file, or the manifest of a sharded index (the shards joined in
        order; written by :func:`tensorjpeg.scale.build_index`). Damage is a
        :class:`CorruptDataError`."""
        return cls(_native.Index.load(os.fspath(path)))

    def to_bytes(self) -> bytes:
        """The ``.tjv`` file's bytes."""
        return self._ix.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Index":
        """An index from a ``.tjv`` file's bytes."""
        return cls(_native.Index.from_bytes(data))

    @property
    def info(self) -> Dict[str, Any]:
        """Size, codebook checksum, fit-set size, codec and options, ids kind."""
        return json.loads(self._ix.info_json())

    @property
    def dim(self) -> int:
        """Dimension of the vectors."""
        return self._ix.dim

    def __len__(self) -> int:
        return len(self._ix)

    def __repr__(self) -> str:
        return repr(self._ix)


def _ids(ids: Optional[Sequence[Union[int, str]]]) -> Optional[List[Union[int, str]]]:
    if ids is None:
        return None
    if isinstance(ids, np.ndarray):
        return ids.tolist()
    return list(ids)
