"""Error-bounded float compressors as peers on the model curves: SZ3 (PyPI `pysz`) and zfp
(PyPI `zfpy`) store every matrix of a sentence embedder; the 1-D tensors (norms, biases) stay
as they are, as in tensorjpeg's plans. Writes one decompressed model folder per setting and
OUT/peers.json, which `tensorjpeg model-sweep --peers OUT/peers.json` scores in the same run
as tensorjpeg's own points (scripts/float-peers.sh does both).

    python float-peers.py MODEL_DIR OUT [--quick]

Settings (per tensor, σ = the tensor's standard deviation):
  zfp rate=R       fixed rate, R bits per value (zfp's own mode for a size budget)
  zfp tol=T        fixed accuracy, |error| ≤ T·σ
  sz3 abs=E        SZ3's absolute error bound E·σ (its default interpolation + Lorenzo
                   predictor, Huffman + zstd behind it)
Bytes all-in = every compressed stream + the raw bytes of the tensors left alone + the
original file's safetensors header (names, shapes, offsets: what any container must say).
"""

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pysz
import zfpy
from safetensors.numpy import load_file, save_file


def matrices(tensors):
    """The tensors a plan compresses: float, two or more dimensions."""
    return [k for k, v in tensors.items() if v.ndim >= 2 and v.dtype == np.float32]


def zfp_rate(x, r):
    buf = zfpy.compress_numpy(np.ascontiguousarray(x, dtype=np.float32), rate=r)
    return len(buf), zfpy.decompress_numpy(buf)


def zfp_tol(x, t):
    tol = float(t * x.std())
    buf = zfpy.compress_numpy(np.ascontiguousarray(x, dtype=np.float32), tolerance=tol)
    return len(buf), zfpy.decompress_numpy(buf)


def sz3_abs(x, e):
    cfg = pysz.szConfig()
    cfg.errorBoundMode = pysz.szErrorBoundMode.ABS
    cfg.absErrorBound = float(e * x.std())
    x = np.ascontiguousarray(x, dtype=np.float32)
    buf, _ = pysz.sz.compress(x, cfg)
    y, _ = pysz.sz.decompress(buf, np.float32, x.shape)
    return len(buf), y


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    quick = "--quick" in sys.argv
    if len(args) != 2:
        sys.exit(__doc__)
    model, out = Path(args[0]), Path(args[1])
    st = model / "model.safetensors"
    if not st.is_file():
        sys.exit(f"{st}: no such file (an embedder folder: model.safetensors, config.json, tokenizer.json)")
    header = int.from_bytes(st.read_bytes()[:8], "little") + 8
    tensors = load_file(str(st))
    names = matrices(tensors)
    rest = sum(v.nbytes for k, v in tensors.items() if k not in names)
    # Spanning ~2-6 bits per value on MiniLM (zfp's block transform finds nothing to compact
    # in weights: its accuracy mode needs tolerances of several σ to get there).
    settings = [("zfp-rate", f"rate={r}", zfp_rate, r) for r in ([4] if quick else [3, 4, 6, 8])]
    settings += [("zfp-accuracy", f"tol={t}", zfp_tol, t) for t in ([4] if quick else [8, 4, 2, 1])]
    settings += [("sz3", f"abs={e}", sz3_abs, e) for e in ([0.25] if quick else [1.0, 0.5, 0.25, 0.125, 0.0625])]
    out.mkdir(parents=True, exist_ok=True)
    peers = []
    for codec, label, fn, arg in settings:
        t0 = time.time()
        back, stored = dict(tensors), 0
        for k in names:
            n, y = fn(tensors[k], arg)
            if y.shape != tensors[k].shape:
                sys.exit(f"{codec} {label}: tensor {k} came back as {y.shape}, not {tensors[k].shape}")
            stored += n
            back[k] = np.ascontiguousarray(y, dtype=np.float32)
        secs = time.time() - t0
        d = out / f"{codec}-{label.replace('=', '')}"
        d.mkdir(exist_ok=True)
        save_file(back, str(d / "model.safetensors"))
        for f in ["config.json", "tokenizer.json", "sentence_bert_config.json"]:
            if (model / f).is_file():
                shutil.copy(model / f, d / f)
        values = sum(tensors[k].size for k in names)
        print(f"{codec} {label}: {stored * 8 / values:.3f} bits per matrix value, {secs:.1f} s", flush=True)
        peers.append({"codec": codec, "rate": label, "model": d.name, "bytes": stored + rest + header,
                      "matrix_bytes": stored, "compress_s": round(secs, 3)})
    tmp = out / "peers.json.part"
    tmp.write_text(json.dumps({"peers": peers, "source": str(st),
                               "versions": {"pysz": getattr(pysz, "__version__", "?"),
                                            "zfpy": getattr(zfpy, "__version__", "?")}}, indent=1))
    tmp.replace(out / "peers.json")
    print(f"wrote {out / 'peers.json'}")


if __name__ == "__main__":
    main()
