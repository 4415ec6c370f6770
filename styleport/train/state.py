"""Random-number-generator state as plain tensors and lists, so ``torch.load(weights_only=True)`` reads it.

Captured: torch CPU, every CUDA device, Python's ``random`` and NumPy's global generator. The data
pipeline does not depend on them (its randomness is keyed by sample number, see data.py), but any
other consumer of the global generators (dropout-like ops, user hooks) resumes exactly too.
"""

from __future__ import annotations

import random
from typing import Any

import torch


def capture_rng() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    version, internal, gauss = random.getstate()
    state["python"] = {"version": version, "state": list(internal), "gauss": gauss}
    try:
        import numpy as np

        name, keys, pos, has_gauss, cached = np.random.get_state()
        state["numpy"] = {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        }
    except ImportError:  # pragma: no cover - numpy is a core dependency
        pass
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    if "numpy" in state:
        import numpy as np

        npst = state["numpy"]
        keys = npst["keys"].numpy().astype(np.uint32)
        np.random.set_state((npst["name"], keys, npst["pos"], npst["has_gauss"], npst["cached"]))


def load_initial_weights(net: torch.nn.Module, path: str) -> dict[str, Any]:
    """``--init MODEL.pth``: copy a trained model's weights into ``net`` (fine-tuning).

    The architecture must match (width, residual blocks, style count): a mismatch is one UsageError
    line. Returns what the new model's metadata records about its starting point.
    """
    import hashlib
    from pathlib import Path

    from styleport import checkpoints
    from styleport.errors import UsageError

    ckpt = checkpoints.load(path)
    mine, theirs = net.config, ckpt.config
    if mine != theirs:
        raise UsageError(
            f"--init {path}: its architecture (width {theirs.width:g}, {theirs.num_styles} style(s), "
            f"{theirs.res_blocks} residual blocks) differs from this run's (width {mine.width:g}, "
            f"{mine.num_styles} style(s), {mine.res_blocks} residual blocks); pass the same --width and styles"
        )
    net.load_state_dict({k: v.float() for k, v in ckpt.state_dict.items()})
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    training = ckpt.metadata.get("training", {})
    return {"model": Path(path).name, "sha256": digest, "steps": training.get("steps")}
