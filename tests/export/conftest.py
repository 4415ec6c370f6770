"""Tiny networks for export tests: width 0.25, random init, made to produce image-like output.

A freshly initialised TransformerNet outputs values near 0, which the clamp flattens to black:
every export would "match" trivially. These nets get random instance-norm affines (so styles
differ) and an output conv scaled around mid-grey, so their outputs span 0..255 and quantization
or fp16 errors show up in PSNR.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from styleport import checkpoints
from styleport.testing import image_like_net, trained_net

FIXTURE_PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"
VERIFY_SIZES = ((48, 40), (37, 53))  # neither is the 64x64 trace size; 37x53 is not a multiple of 4


@pytest.fixture(scope="session")
def photos() -> tuple[Path, ...]:
    found = tuple(sorted(FIXTURE_PHOTOS.glob("*.jpg")))
    assert found, f"no fixture photos in {FIXTURE_PHOTOS}"
    return found


@pytest.fixture(scope="session")
def verify_sizes() -> tuple[tuple[int, int], ...]:
    return VERIFY_SIZES


@pytest.fixture(scope="session")
def make_net():
    return image_like_net


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "tiny.pth"
    # lossy rows are set from trained networks: a random stand-in lands 15-20 dB below them (styleport/testing.py)
    checkpoints.save(path, trained_net(1), {"style_names": ["tiny"], "styles": [{"name": "tiny", "license": "CC0"}]})
    return path


@pytest.fixture(scope="session")
def two_style_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "duo.pth"
    checkpoints.save(path, trained_net(2, seed=1), {"style_names": ["left", "right"]})
    return path


@pytest.fixture()
def unsupported_op_saved_model(tmp_path) -> Path:
    """A SavedModel (image -> stylized) using tf.math.igamma, which neither TF.js nor TFLite supports."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="image")], autograph=False)
    def odd(image):
        return {"stylized": tf.math.igamma(image, image + 1.0)}

    holder = tf.Module()
    holder.odd = odd
    path = tmp_path / "unsupported_sm"
    tf.saved_model.save(holder, str(path), signatures={"serving_default": odd.get_concrete_function()})
    return path
