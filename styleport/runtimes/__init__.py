"""Runtimes, one module per engine, registered by name (see base.py for the interface)."""

from styleport.runtimes.base import register


