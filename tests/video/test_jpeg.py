"""Frame packs decode with TorchCodec where it works and fall back to torchvision."""

import numpy as np
import pytest
import torch

from carl_pipeline.video import jpeg
from carl_pipeline.video.frame_pack import encode_jpeg


def _encoded(count=3, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:24, 0:32]
    # smooth pictures (noise would not survive JPEG's chroma subsampling)
    frames = [np.clip(np.stack([4 * x, 6 * y, 3 * (x + y)], -1) + rng.integers(0, 60, 3), 0, 255).astype(np.uint8)
              for _ in range(count)]
    return frames, [torch.frombuffer(bytearray(encode_jpeg(f, 90)), dtype=torch.uint8) for f in frames]


def test_decode_jpegs__torchcodec_when_installed_same_pixels_as_torchvision(monkeypatch):
    pytest.importorskip("torchcodec.decoders")
    frames, encoded = _encoded()
    by_torchcodec = jpeg.decode_jpegs(encoded)
    assert jpeg.state["backend"] == "torchcodec"
    monkeypatch.setattr(jpeg, "_torchcodec_decode", lambda: None)
    with pytest.warns(DeprecationWarning, match="deprecated"):  # torchvision's warning is not silenced
        by_torchvision = jpeg.decode_jpegs(encoded)
    assert jpeg.state["backend"] == "torchvision"
    for a, b, original in zip(by_torchcodec, by_torchvision, frames, strict=True):
        assert a.shape == (3, 24, 32) and a.dtype == torch.uint8
        torch.testing.assert_close(a, b)
        # JPEG at quality 90 stays close to the original pixels
        assert (a.permute(1, 2, 0).int() - torch.from_numpy(original).int()).abs().float().mean() < 4


def test_decode_jpegs__falls_back_when_torchcodec_fails_on_a_batch(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no nvJPEG in this build")

    monkeypatch.setattr(jpeg, "_torchcodec_decode", lambda: broken)
    frames, encoded = _encoded(2, seed=1)
    decoded = jpeg.decode_jpegs(encoded)
    assert jpeg.state["backend"] == "torchvision" and len(decoded) == 2 and decoded[0].shape == (3, 24, 32)


def test_decode_jpegs__without_cuda_the_device_path_is_not_taken():
    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    _, encoded = _encoded(1)
    assert jpeg.decode_jpegs(encoded, device="cpu")[0].device.type == "cpu"
