"""Verification: one engine for export checks, ``styleport parity`` and ``styleport verify``.

Modules: engine.py (Status, typed errors, the reference, ``check``), inspect.py (what an existing
artifact is), provenance.py (what made an artifact, recorded beside it), api.py
(``styleport.verify``), command.py (the ``styleport verify`` CLI).
"""
