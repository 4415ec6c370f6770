"""``Interpreter``: an .mlpackage run like ``MLModel.predict``, on any OS, in numpy.

Combines the model description's I/O semantics (features.py) with the MIL program (program.py)::

    model = Interpreter("style.mlpackage")
    out = model.predict({"image": uint8_rgb_hwc})   # {"stylized": uint8 (H,W,3)}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from styleport.runtimes.mil.features import Feature, image_to_tensor, parse_feature, tensor_to_image
from styleport.runtimes.mil.program import Program
from styleport.runtimes.mil.values import MILError


class Interpreter:
    """A loaded .mlpackage: its declared inputs/outputs, metadata and MIL program."""

    def __init__(self, path: str | Path) -> None:
        self.program = Program(path)
        description = self.program.spec.description
        self.inputs = {f.name: parse_feature(f) for f in description.input}
        self.outputs = {f.name: parse_feature(f) for f in description.output}
        self.metadata = dict(description.metadata.userDefined)
        self.author = description.metadata.author
        self.license = description.metadata.license
        self.short_description = description.metadata.shortDescription
        program_inputs = {v.name for v in self.program.inputs}
        if set(self.inputs) != program_inputs:
            raise MILError(
                f"{path}: description inputs {sorted(self.inputs)} do not match the program's {sorted(program_inputs)}"
            )

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Image inputs: uint8 (H,W,3); tensor inputs: arrays. Returns outputs the same way."""
        if set(inputs) != set(self.inputs):
            raise MILError(f"inputs must be exactly {sorted(self.inputs)}, got {sorted(inputs)}")
        feeds = {}
        for name, value in inputs.items():
            feature: Feature = self.inputs[name]
            if feature.kind == "image":
                feeds[name] = image_to_tensor(feature, np.asarray(value))
            else:
                value = np.asarray(value)
                feature.check_shape(value.shape)
                feeds[name] = value
        results = self.program.run(feeds)
        out = {}
        for name, value in results.items():
            feature = self.outputs.get(name)
            out[name] = tensor_to_image(feature, value) if feature and feature.kind == "image" else value
        return out
