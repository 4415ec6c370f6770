"""The web demo, Python side: ``styleport demo build`` assembles the static site in ``web_demo/``
with exported models, and ``styleport demo serve`` serves it locally with the headers that enable
multi-threaded WebAssembly. The site itself (HTML/CSS/JS) lives in ``web_demo/`` at the repo root.
"""
