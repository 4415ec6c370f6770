"""The page's display names (styleport/data/web/js/names.js), run in Node: the same module the page imports."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from styleport.demo.build import SITE_SOURCE

NAMES_JS = SITE_SOURCE / "js" / "names.js"


def run_names(expression: str):
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed (the README's set-up installs it with npm)")
    script = f"import * as n from {json.dumps(NAMES_JS.as_uri())}; console.log(JSON.stringify({expression}));"
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_style_and_sample_names_read_like_titles():
    names = ["composition_viii", "great_wave", "hawaMahal", "study_iv_b", "mix", "civic_xii", "Tide"]
    assert run_names(f"{json.dumps(names)}.map(n.prettyName)") == [
        "Composition VIII",
        "Great Wave",
        "Hawa Mahal",
        "Study IV B",
        "Mix",
        "Civic XII",
        "Tide",
    ]


def test_credit_uses_painting_metadata_and_states_a_missing_license():
    style = {"name": "composition_viii", "title": "", "artist": "Wassily Kandinsky", "year": "1923", "license": ""}
    assert run_names(f"n.styleCredit({json.dumps(style)})") == (
        "Composition VIII — Wassily Kandinsky, 1923 — License not stated in the model file"
    )
