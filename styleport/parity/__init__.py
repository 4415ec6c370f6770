"""``styleport parity``: every exported format in its real runtime vs the torch reference.

Modules: run.py (the engine: plan targets, obtain artifacts through the export pipeline, compare
outputs and time them), latency.py (warm-up + median/p90 timing), heatmap.py (amplified
difference images), report.py (report.json / report.md / report.html), command.py (the CLI).
"""
