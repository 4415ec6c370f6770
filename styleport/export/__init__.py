"""Exporters, one module per format, registered by name (see base.py for the contract)."""

from styleport.export.base import register


