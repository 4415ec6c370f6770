"""A numpy interpreter of CoreML ML Programs (MIL), so .mlpackage exports are verified on Linux.

Modules: values.py (dtypes, weight blobs, constants), registry.py (op table, validation),
ops_nn.py / ops_tensor.py / ops_constexpr.py (kernels named exactly as the MIL spec),
program.py (load + execute the MIL function), features.py (CoreML image/tensor I/O semantics),
interpreter.py (``Interpreter.predict``, the MLModel-like entry point).

This is not Apple's runtime: it reproduces the program's arithmetic (with fp16 storage rounding
where the program is fp16), not Apple's kernels, and reports label it "linux-interpreter".
"""

from styleport.runtimes.mil.interpreter import Interpreter
from styleport.runtimes.mil.registry import UnsupportedOpError, supported_ops
from styleport.runtimes.mil.values import MILError

__all__ = ["Interpreter", "MILError", "UnsupportedOpError", "supported_ops"]
