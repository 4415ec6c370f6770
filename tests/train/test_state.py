from __future__ import annotations

import io
import random

import numpy as np
import torch

from styleport.train import state


def test_rng_round_trip_through_weights_only_load():
    torch.manual_seed(3)
    random.seed(4)
    np.random.seed(5)
    buffer = io.BytesIO()
    torch.save(state.capture_rng(), buffer)
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(99)
    random.seed(99)
    np.random.seed(99)
    buffer.seek(0)
    state.restore_rng(torch.load(buffer, weights_only=True))
    got = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(got[0], expected[0]) and got[1:] == expected[1:]
