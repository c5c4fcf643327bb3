"""Seed 002's signal codec from Python, on a real recording."""

import wave

import numpy as np

import tensorjpeg as tj
from conftest import asset


def test_signal_basis_on_speech():
    with wave.open(str(asset("audio/Front_Center.wav"))) as w:
        assert w.getsampwidth() == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        pcm = pcm.reshape(-1, w.getnchannels())[:, 0]
    x = (pcm[: 1 << 15].astype(np.float32) / 32768.0)[None, :]
    basis = tj.SignalBasis.fit([x], levels=3)
    assert basis.channels == 8
    z = basis.latents(x)
    assert z.shape == (8, x.shape[1] // 8)
    fine, coarse = basis.encode(x, step=0.001), basis.encode(x, step=0.02)
    assert len(coarse) < len(fine) < x.size * 2
    y = basis.decode(fine)
    assert y.shape == x.shape
    snr = 10 * np.log10((x**2).sum() / ((x - y) ** 2).sum())
    assert snr > 20
    again = tj.SignalBasis.from_bytes(basis.to_bytes())
    assert np.array_equal(again.decode(fine), y)
