"""Shared fixtures of the browser tests: one built site, one server and one Chromium per session."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from styleport import checkpoints
from styleport.demo import browser, build, serve
from tests.conftest import PHOTOS, make_net

WAIT_MS = 90_000
READ_CANVAS = """id => { const c = document.getElementById(id);
  return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]; }"""
LONGTASKS = """window.__longtasks = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]); })
  .observe({ type: 'longtask', buffered: true });"""
KANDINSKY = "Wassily Kandinsky, Composition VIII (1923); scan kandinsky.png"


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    reason = browser.unavailable_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("demo")
    meta = {
        "style_names": ["composition_viii"],
        "styles": [
            {"name": "composition_viii", "source": KANDINSKY, "license": "public domain (painting); weights CC0-1.0"}
        ],
    }
    one = checkpoints.save(root / "ember.pth", make_net(seed=1), meta)
    meta = {"style_names": ["Tide", "Moss"], "styles": [{"name": "Tide", "license": "CC0-1.0"}]}
    duo = checkpoints.save(root / "duo.pth", make_net(num_styles=2, seed=2), meta)
    cfg = build.BuildConfig(models=(one, duo), out=root / "site", verify=False)
    try:
        data = build.build_site(cfg, progress=lambda _: None)
    except build.UsageError as exc:  # no node_modules: npm ci not run
        pytest.skip(str(exc))
    photo = Image.open(PHOTOS[0]).convert("RGB")
    photo.thumbnail((128, 128))
    photo.save(root / "photo.png")
    models = {"ember": checkpoints.load(one).build(), "duo": checkpoints.load(duo).build()}
    return {"site": root / "site", "manifest": data, "photo": root / "photo.png", "models": models, "root": root}


@pytest.fixture(scope="session")
def playwright(built):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def server(built):
    with serve.Background(built["site"]) as url:
        yield url


@pytest.fixture(scope="session")
def context(playwright, server):
    with browser.launch_with(playwright) as ctx:
        ctx.base = server
        yield ctx


class Page:
    """A page plus the console errors, page errors and failed requests it produced."""

    def __init__(self, context, query: str = "", init_script: str | None = None) -> None:
        self.page = context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        if init_script:
            self.page.add_init_script(init_script)
        self.page.goto(context.base + query)

    def runs(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.runs)"))

    def wait_run(self, after: int) -> None:
        self.page.wait_for_function(
            f"Number(document.body.dataset.runs) > {after} || document.body.dataset.state == 'error'", timeout=WAIT_MS
        )
        error = self.page.inner_text("#error")
        assert not error, error

    def wait_ready(self) -> None:
        self.page.wait_for_function("document.body.dataset.state == 'ready'", timeout=WAIT_MS)

    def wait_error(self) -> str:
        self.page.wait_for_selector("#error:not([hidden])", timeout=WAIT_MS)
        return self.page.inner_text("#error")

    def pixels(self, canvas: str, channels: int = 3) -> np.ndarray:
        w, h, data = self.page.evaluate(READ_CANVAS, canvas)
        return np.asarray(data, np.float32).reshape(h, w, 4)[..., :channels]  # RGBA -> (H,W,channels)

    def upload(self, path) -> None:
        before = self.runs()
        self.page.set_input_files("#file", str(path))
        self.wait_run(before)

    def close(self) -> None:
        self.page.close()
