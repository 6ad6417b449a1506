"""The widgets in a real JupyterLab, driven by headless Chromium: a slider and a dropdown change what is shown.

The test starts its own JupyterLab on 127.0.0.1 (random port and token, every Jupyter/IPython/matplotlib folder
under tmp_path), writes a small notebook there, runs it, moves controls, and checks both the text the widgets show
and screenshots of them (written to tmp_path). No request may leave 127.0.0.1; kernels are shut down at the end.
Needs /usr/bin/chromium (Debian's package; never `playwright install`) and the playwright Python package.
"""
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parent.parent
LOCAL = {"127.0.0.1"}

NOTEBOOK_CELLS = [
    """import torch
import gpt_course as gc
from gpt_course.tokenizers import CharTokenizer
from gpt_course.widgets import AttentionExplorer, SamplingExplorer

tok = CharTokenizer.from_text("hello world, the widgets are here.")
gc.seed_everything(0)
model = gc.GPT(gc.GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=16)).eval()
with torch.no_grad():  # untrained heads all attend evenly; larger q/k weights give each head its own pattern
    for block in model.transformer.h:
        block.attn.c_attn.weight.mul_(30)""",
    """attention = AttentionExplorer(model, tok, text="hello world", layer=0, head=0)
attention""",
    """sampling = SamplingExplorer(model, tok, prompt="the ", n_samples=2, max_new_tokens=8)
sampling""",
]


def _chromium(p):
    """Debian's Chromium, headless, with nothing that phones home."""
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        body = r.read()
    return json.loads(body) if body else None


def _write_notebook(path: Path) -> None:
    cells = [{"cell_type": "code", "id": f"cell-{i}", "metadata": {}, "execution_count": None, "outputs": [],
              "source": src} for i, src in enumerate(NOTEBOOK_CELLS)]
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    path.write_text(json.dumps(nb), encoding="utf-8")


def _isolated_env(tmp: Path) -> dict:
    """HOME and every Jupyter/IPython/matplotlib folder under tmp; news and update checks off."""
    dirs = {name: tmp / name for name in ("home", "config", "data", "runtime", "ipython", "mpl")}
    for d in dirs.values():
        d.mkdir()
    (dirs["config"] / "labconfig").mkdir()
    (dirs["config"] / "labconfig" / "default_setting_overrides.json").write_text(json.dumps(
        {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}))
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps({"LabApp": {
        "news_url": None, "extension_manager": "readonly",
        "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate"}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update(HOME=str(dirs["home"]), JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
               JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), IPYTHONDIR=str(dirs["ipython"]),
               MPLCONFIGDIR=str(dirs["mpl"]), PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
               GPT_COURSE_OFFLINE="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", JUPYTER_PLATFORM_DIRS="1")
    return env


@pytest.fixture
def lab(tmp_path):
    """(base url, token, root folder) of a JupyterLab serving tmp_path/work; stopped afterwards."""
    root = tmp_path / "work"
    root.mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(cmd, env=_isolated_env(tmp_path), stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _api(base, token, "/api/status")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start; see {tmp_path / 'jupyterlab.log'}")
                time.sleep(0.3)
        yield base, token, root
    finally:
        try:
            for s in _api(base, token, "/api/sessions") or []:
                _api(base, token, f"/api/sessions/{s['id']}", "DELETE")
            for k in _api(base, token, "/api/kernels") or []:
                _api(base, token, f"/api/kernels/{k['id']}", "DELETE")
            assert _api(base, token, "/api/kernels") == []
            _api(base, token, "/api/shutdown", "POST")
            server.wait(timeout=15)
        except Exception:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        log.close()


def _image_difference(a: Path, b: Path) -> float:
    """Fraction of pixels that differ between two screenshots (different sizes count as all different)."""
    from PIL import Image, ImageChops

    with Image.open(a) as ia, Image.open(b) as ib:
        if ia.size != ib.size:
            return 1.0
        diff = ImageChops.difference(ia.convert("RGB"), ib.convert("RGB")).convert("L")
        return sum(diff.histogram()[17:]) / (ia.size[0] * ia.size[1])


def test_widgets_react_to_slider_and_dropdown_in_jupyterlab(tmp_path, request):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); "
                    "CI's .ci/run does it")
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing")
    pytest.importorskip("jupyterlab", reason="jupyterlab is missing")
    lab_fixture = request.getfixturevalue("lab")  # started only when the browser is there
    base, token, root = lab_fixture
    _write_notebook(root / "widgets.ipynb")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    external: list[str] = []
    t0 = time.monotonic()

    with playwright.sync_playwright() as p:
        browser = _chromium(p)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})

        def block(route):
            external.append(route.request.url)
            route.abort()

        context.route(re.compile(r"^(?!(https?|wss?)://127\.0\.0\.1[:/])[a-z]+://"), block)
        page = context.new_page()
        page.on("request", lambda r: urlparse(r.url).hostname not in LOCAL and r.url.split(":")[0] in
                ("http", "https", "ws", "wss") and external.append(r.url))
        page.set_default_timeout(45_000)
        try:
            after_slider, after_dropdown, first, samp_first, samp_after = _drive(page, playwright, base, token, shots)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            (tmp_path / "failure.txt").write_text(page.locator(".jp-Notebook").inner_text())
            raise
        finally:
            context.close()
            browser.close()

    for a, b in ((first, after_slider), (after_slider, after_dropdown), (samp_first, samp_after)):
        assert _image_difference(a, b) > 0.01, f"{b.name} looks like {a.name}"
    assert external == [], f"requests left 127.0.0.1: {external}"
    print(f"\nbrowser test: {time.monotonic() - t0:.1f} s in the browser; screenshots in {shots}")


def _drive(page, playwright, base, token, shots):
    """Open the notebook, run it, move the controls; returns the screenshots before and after."""
    playwright.expect.set_options(timeout=45_000)
    page.goto(f"{base}/lab/tree/widgets.ipynb?token={token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    # the execution indicator says "idle" before a kernel is attached too: wait for the kernel's own status
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\(ipykernel\) \| Idle")).wait_for()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    playwright.expect(page.locator(".jp-InputPrompt").nth(len(NOTEBOOK_CELLS) - 1)).to_contain_text(
        re.compile(r"\[\d+\]"))  # the last cell has run

    att, samp = page.locator(".gc-attention"), page.locator(".gc-sampling")
    for w in (att, samp):
        w.locator(".gc-plot img").wait_for()
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    assert page.locator(".gc-error:visible").count() == 0

    def picture(widget):
        return widget.locator(".gc-plot img").get_attribute("src")

    def changed(selector, name, before_src, readout):
        """Wait for the new readout and the new picture (loaded), then screenshot the widget."""
        playwright.expect(page.locator(f"{selector} .gc-readout")).to_contain_text(readout)
        page.wait_for_function(
            "([sel, old]) => { const i = document.querySelector(sel + ' .gc-plot img');"
            " return i && i.getAttribute('src') !== old && i.complete && i.naturalWidth > 0; }",
            arg=[selector, before_src])
        path = shots / f"{name}.png"
        page.locator(selector).screenshot(path=str(path))
        return path

    # 1. the head slider, by keyboard on its handle
    playwright.expect(att.locator(".gc-readout")).to_contain_text("layer 0 · head 0")
    first = shots / "attention-0.png"
    att.screenshot(path=str(first))
    src = picture(att)
    handle = att.locator(".gc-head .noUi-handle")
    handle.focus()
    handle.press("ArrowRight")
    playwright.expect(att.locator(".gc-head .widget-readout")).to_have_text("1")
    after_slider = changed(".gc-attention", "attention-1", src, "layer 0 · head 1")

    # 2. the layer dropdown
    src = picture(att)
    att.locator(".gc-layer select").select_option(label="layer 1")
    after_dropdown = changed(".gc-attention", "attention-2", src, "layer 1 · head 1")

    # 3. the sampling widget's top-k slider: 0 (off) -> 1, one token left
    samp.scroll_into_view_if_needed()
    samp_first = shots / "sampling-0.png"
    samp.screenshot(path=str(samp_first))
    src = picture(samp)
    handle = samp.locator(".gc-top-k .noUi-handle")
    handle.focus()
    handle.press("ArrowRight")
    samp_after = changed(".gc-sampling", "sampling-1", src, "top-k 1")
    playwright.expect(samp.locator(".gc-readout")).to_contain_text(re.compile(r"→ 1 of \d+ tokens"))
    assert samp.locator(".gc-sample").count() == 2
    assert page.locator(".gc-error:visible").count() == 0
    return after_slider, after_dropdown, first, samp_first, samp_after



def _write_slides(path: Path) -> None:
    """A two-slide notebook: a title, then the attention explorer (slide metadata as in the course's notebooks)."""
    cells = [{"cell_type": "markdown", "id": "title", "metadata": {"slideshow": {"slide_type": "slide"}},
              "source": "# Attention, on a slide"},
             {"cell_type": "code", "id": "widget", "metadata": {"slideshow": {"slide_type": "slide"}},
              "execution_count": None, "outputs": [], "source": NOTEBOOK_CELLS[0] + "\n" + NOTEBOOK_CELLS[1]}]
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    path.write_text(json.dumps(nb), encoding="utf-8")


def test_a_notebook_as_slides_with_a_live_widget(tmp_path, request):
    """jupyterlab-slideshow presents the notebook as slides inside JupyterLab; on the second slide the widget is
    live: its head slider changes the picture."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing")
    pytest.importorskip("jupyterlab_slideshow", reason="jupyterlab-slideshow is missing (pip install -e '.[test]')")
    base, token, root = request.getfixturevalue("lab")
    _write_slides(root / "slides.ipynb")
    external: list[str] = []
    with playwright.sync_playwright() as p:
        browser = _chromium(p)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.route(re.compile(r"^(?!(https?|wss?)://127\.0\.0\.1[:/])[a-z]+://"),
                      lambda route: (external.append(route.request.url), route.abort()))
        page = context.new_page()
        page.set_default_timeout(45_000)
        playwright.expect.set_options(timeout=45_000)
        try:
            page.goto(f"{base}/lab/tree/slides.ipynb?token={token}")
            page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\(ipykernel\) \| Idle")).wait_for()
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
            att = page.locator(".gc-attention")
            playwright.expect(att.locator(".gc-readout")).to_contain_text("layer 0 · head 0")
            page.locator(".jp-NotebookPanel-toolbar [data-command='deck:toggle']").click()
            playwright.expect(page.locator("body")).to_have_attribute("data-jp-deck-mode", "presenting")
            title = page.locator(".jp-MarkdownCell", has_text="Attention, on a slide")
            playwright.expect(att).to_be_visible()  # the deck opens on the active cell: the widget's slide
            playwright.expect(title).not_to_be_visible()
            page.keyboard.press("Shift+Space")      # back to the title slide
            playwright.expect(title).to_be_visible()
            playwright.expect(att).not_to_be_visible()
            page.screenshot(path=str(tmp_path / "slide-1.png"))
            page.keyboard.press("Space")            # forward to the widget
            playwright.expect(att).to_be_visible()
            playwright.expect(title).not_to_be_visible()
            before = att.locator(".gc-plot img").get_attribute("src")
            handle = att.locator(".gc-head .noUi-handle")
            handle.focus()
            handle.press("ArrowRight")
            playwright.expect(att.locator(".gc-readout")).to_contain_text("layer 0 · head 1")
            page.wait_for_function("old => { const i = document.querySelector('.gc-attention .gc-plot img');"
                                   " return i && i.getAttribute('src') !== old; }", arg=before)
            page.screenshot(path=str(tmp_path / "slide-2.png"))
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
        finally:
            context.close()
            browser.close()
    assert external == [], f"requests left 127.0.0.1: {external}"


def test_the_chinese_notebook_works_like_the_english_one(tmp_path, request):
    """The Chinese edition of notebook 04 runs in JupyterLab, shows its prose in Chinese, and its attention widget
    answers the same control with the same readout and the same picture as the English notebook's."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing")
    base, token, root = request.getfixturevalue("lab")
    name = "04_self_attention.ipynb"
    for lang, source in (("en", REPO / "notebooks" / name), ("zh", REPO / "notebooks" / "zh" / name)):
        (root / lang).mkdir()
        (root / lang / name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    external: list[str] = []
    seen = {}
    with playwright.sync_playwright() as p:
        browser = _chromium(p)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.route(re.compile(r"^(?!(https?|wss?)://127\.0\.0\.1[:/])[a-z]+://"),
                      lambda route: (external.append(route.request.url), route.abort()))
        playwright.expect.set_options(timeout=90_000)
        try:
            for lang in ("zh", "en"):
                page = context.new_page()
                page.set_default_timeout(90_000)
                # a workspace of its own, so that JupyterLab does not restore the other notebook's tab beside it
                page.goto(f"{base}/lab/workspaces/{lang}/tree/{lang}/{name}?token={token}")
                page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\(ipykernel\) \| Idle")).wait_for()
                title = page.locator(".jp-MarkdownCell h1").first.text_content()  # read before the page scrolls
                page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
                page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
                att = page.locator(".gc-attention")
                att.locator(".gc-plot img").wait_for()
                att.scroll_into_view_if_needed()
                before = att.locator(".gc-readout").inner_text()
                src = att.locator(".gc-plot img").get_attribute("src")
                handle = att.locator(".gc-head .noUi-handle")
                handle.focus()
                handle.press("ArrowLeft" if re.search(r"head [1-9]", before) else "ArrowRight")
                playwright.expect(att.locator(".gc-readout")).not_to_have_text(before)
                page.wait_for_function("old => { const i = document.querySelector('.gc-attention .gc-plot img');"
                                       " return i && i.getAttribute('src') !== old && i.complete; }", arg=src)
                att.screenshot(path=str(tmp_path / f"attention-{lang}.png"))
                seen[lang] = {"title": title,
                              "before": before, "after": att.locator(".gc-readout").inner_text(),
                              "picture": att.locator(".gc-plot img").get_attribute("src")}
                page.close()
        finally:
            context.close()
            browser.close()
    assert re.search(r"[\u4e00-\u9fff]{4}", seen["zh"]["title"]) and seen["zh"]["title"] != seen["en"]["title"]
    for key in ("before", "after", "picture"):
        assert seen["zh"][key] == seen["en"][key], f"the Chinese notebook's widget differs: {key}"
    assert external == [], f"requests left 127.0.0.1: {external}"
