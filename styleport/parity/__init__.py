"""``styleport parity``: every exported format in its real runtime vs the torch reference.

Modules: run.py (plan targets, obtain artifacts through the export pipeline -- reused only when
their provenance matches -- and check each with styleport.verification.engine), latency.py
(warm-up + median/p90 timing), heatmap.py (amplified difference images), report.py (report.json /
report.md / report.html, also written by ``styleport verify``), command.py (the CLI).
"""
