"""The analyze report as people see it: index.html opened from disk in headless Chromium.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages
ending in a NUL byte, commands on fd 3, replies and events on fd 4), so no client package is needed.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from specgen.analysis.bootstrap import Range
from specgen.analysis.fit import fit_quantized_linear
from specgen.analysis.plots import scatter_figure, widths_figure
from specgen.analysis.report import build, publish
from tests.test_analyze_cli import ROWS, _write_jsonl

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium; .ci/run does)"
)

FLAGS = [
    "--headless",
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]
TIMEOUT_S = 60
WIDTH = 1500  # the page's max-width plus its margins: two plots side by side


class Browser:
    """One headless Chromium and one page in it, with every event it reported kept in `events`."""

    def __init__(self, profile: Path):
        to_chromium, self._commands = os.pipe()
        self._replies, from_chromium = os.pipe()

        def as_fds_3_and_4():
            ends = os.dup(to_chromium), os.dup(from_chromium)  # copies: either end may be fd 3 or 4
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        self._process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=as_fds_3_and_4,
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        (page,) = [t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page"]
        attached = self.send("Target.attachToTarget", targetId=page["targetId"], flatten=True)
        self._session = attached["sessionId"]

    def send(self, method: str, **params) -> dict:
        """The result of one command, sent to the page once attached (to the browser before)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if getattr(self, "_session", None):
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        reply = self._receive(lambda m: m.get("id") == self._next_id)
        assert "error" not in reply, (method, reply["error"])
        return reply["result"]

    def wait_for(self, method: str) -> dict:
        return self._receive(lambda m: m.get("method") == method)

    def _receive(self, wanted) -> dict:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            assert left > 0 and select.select([self._replies], [], [], left)[0], "Chromium did not answer"
            chunk = os.read(self._replies, 1 << 20)
            assert chunk, f"Chromium ended (exit status {self._process.poll()})"
            self._buffer += chunk

    def close(self) -> None:
        os.close(self._commands)
        os.close(self._replies)
        self._process.terminate()
        self._process.wait(timeout=TIMEOUT_S)


def console_errors(events: list[dict]) -> list[str]:
    """What a developer would see in red in the console: errors, exceptions and failed loads."""
    found = []
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.consoleAPICalled" and p["type"] == "error":
            found.append(
                "console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
            )
        elif e["method"] == "Runtime.exceptionThrown":
            details = p["exceptionDetails"]
            found.append("exception: " + details.get("exception", {}).get("description", details["text"]))
        elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
            found.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}".strip())
        elif e["method"] == "Network.loadingFailed":
            found.append(f"load failed: {p['errorText']}")
    return found


IMAGES = (
    '[...document.images].map(i => ({src: i.getAttribute("src"), loaded: i.complete && i.naturalWidth > 0}))'
)


def open_page(index: Path, profile: Path) -> tuple[list[dict], list[str], bytes]:
    """(each <img> with whether it loaded, console errors, a PNG of the whole page) of a file opened."""
    browser = Browser(profile)
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable")
        browser.send(
            "Emulation.setDeviceMetricsOverride", width=WIDTH, height=900, deviceScaleFactor=1, mobile=False
        )
        browser.send("Page.navigate", url=index.as_uri())
        browser.wait_for("Page.loadEventFired")
        images = browser.send("Runtime.evaluate", expression=IMAGES, returnByValue=True)["result"]["value"]
        size = browser.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = browser.send("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
        return images, console_errors(browser.events), base64.b64decode(shot["data"])
    finally:
        browser.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The report of the analyze tests' synthetic sweep of two spaces, written as `specgen analyze` does."""
    tmp = tmp_path_factory.mktemp("browser")
    results = _write_jsonl(tmp / "results.jsonl", ROWS)
    return publish(build([str(results)], normalize="flops"), tmp / "report")


@needs_chromium
def test_the_report_opens_with_every_image_and_no_console_errors(report, tmp_path):
    images, errors, png = open_page(report / "index.html", tmp_path / "profile")
    (tmp_path / "index.png").write_bytes(png)
    plots = json.loads((report / "summary.json").read_text())["plots"]
    assert [i["src"] for i in images] == [f"{p}.png" for p in plots]
    assert [i["src"] for i in images if not i["loaded"]] == []
    assert errors == []
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 100_000


@needs_chromium
def test_a_missing_image_and_a_script_error_are_caught(report, tmp_path):
    """The checks above can fail: a plot deleted and a script that throws are both seen."""
    broken = tmp_path / "broken"
    shutil.copytree(report, broken)
    (broken / "edf.png").unlink()
    html = (broken / "index.html").read_text()
    (broken / "index.html").write_text(
        html.replace("</body>", "<script>console.error('drawn wrong'); undefinedName();</script></body>")
    )
    images, errors, _ = open_page(broken / "index.html", tmp_path / "profile")
    assert [i["src"] for i in images if not i["loaded"]] == ["edf.png"]
    assert any("ERR_FILE_NOT_FOUND" in e for e in errors), errors
    assert "console.error: drawn wrong" in errors
    assert any(e.startswith("exception: ReferenceError: undefinedName") for e in errors), errors


def test_the_scatter_legend_explains_the_shading_and_the_dashes_and_covers_no_point():
    values = [np.arange(1.0, 21.0), np.full(20, np.nan)]  # AnyNet has no w0
    errors = [np.linspace(0.3, 0.5, 20), np.linspace(0.3, 0.5, 20)]
    ax = scatter_figure("w0", ["regnetx", "anynetx_a"], values, errors, [Range(5, 10, 15), None]).axes[0]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "regnetx",
        "bootstrap 95% range",
        "best value (bootstrap median)",
    ]
    points = ax.transData.transform(np.column_stack([values[0], 100 * errors[0]]))
    assert points[:, 1].max() < legend.get_window_extent().y0


def test_the_widths_legend_covers_no_line():
    """The legend sits below the narrowest block, on the log scale of widths."""
    widths = [np.repeat([16, 32, 64, 128], [1, 2, 4, 8]), np.repeat([16, 512], [7, 8])]
    fits = [fit_quantized_linear(w) for w in widths]
    ax = widths_figure("regnetx", ["a", "b"], [0.3, 0.31], widths, fits).axes[0]
    lines = np.concatenate([ax.transData.transform(line.get_xydata()) for line in ax.get_lines()])
    assert lines[:, 1].min() > ax.get_legend().get_window_extent().y1
