"""The web demo, Python side: ``styleport demo build`` assembles the static site from ``styleport/data/web/``
with exported models, and ``styleport demo serve`` serves it locally with the headers that enable
multi-threaded WebAssembly. The site itself (HTML/CSS/JS) is package data in ``styleport/data/web/``.
"""
