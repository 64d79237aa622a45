"""report.html in a real headless browser (Debian's chromium, driven over the DevTools protocol): it loads with no
console errors and no network requests, shows report.json's verdict, and every picture decodes. Screenshots land in
tests/artifacts/ for a person to look at."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import websocket

from compressor.report import html, summary

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parent / "fixtures" / "records"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--remote-debugging-port=0", "--window-size=1200,900"]
NETWORK_SCHEMES = ("http:", "https:", "ws:", "wss:", "ftp:")


def _chromium() -> str:
    """Debian's chromium; installed here when missing (the test machines run as root), as `make browser` does."""
    if not shutil.which("chromium"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, capture_output=True)
    path = shutil.which("chromium")
    if not path:
        pytest.fail("chromium is not installed and `apt-get install -y chromium` did not install it")
    return path


class DevTools:
    """The few DevTools-protocol calls the test needs, over one page's websocket; events are kept in order."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            self.events.append(message)
            if message.get("method") == method:
                return message
        raise TimeoutError(method)

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


@contextlib.contextmanager
def chromium_page():
    """A headless chromium with one page, driven over DevTools; the browser ends with the block."""
    # chromium's helper processes may still write into the profile as it is removed: its whole process group is
    # ended, and a file written after that does not fail the test (it failed one CI run: "Directory not empty")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port_file = Path(profile) / "DevToolsActivePort"  # chromium writes the port it chose here
            deadline = time.monotonic() + 60
            while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < deadline:
                time.sleep(0.1)
            port = port_file.read_text().split()[0]
            from urllib.request import urlopen
            pages = json.loads(urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            page = DevTools(next(p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page"))
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.call(f"{domain}.enable")
            page.call("Emulation.setDeviceMetricsOverride", width=1200, height=900, deviceScaleFactor=1,
                      mobile=False)
            yield page
            page.ws.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with chromium_page() as page:
        yield page


def banner_of(html_path, browser=None):
    """(data-verdict, text, computed background colour) of a report.html's verdict banner as chromium shows it, e.g.
    ("unverified", "UNVERIFIED\nFailed check: ...", "rgb(207, 34, 46)"). Other tests import it to judge a real run's
    page; without `browser` (this module's fixture) it starts a chromium of its own."""
    if browser is None:
        with chromium_page() as page:
            return banner_of(html_path, page)
    browser.call("Page.navigate", url=Path(html_path).resolve().as_uri())
    browser.wait_for("Page.loadEventFired")
    return tuple(browser.evaluate("(b => [b.dataset.verdict, b.innerText, getComputedStyle(b).backgroundColor])"
                                  "(document.getElementById('verdict'))"))


def _problems(events):
    """Console errors, uncaught exceptions, failed loads and any request that leaves the machine."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            found.append(f"log: {params['entry'].get('text')}")
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if url.startswith(NETWORK_SCHEMES):
                found.append(f"network request: {url}")
        elif method == "Network.loadingFailed":
            found.append(f"failed load: {params.get('errorText')}")
    return found


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_report_opens_cleanly_and_shows_the_verdict(browser, name, tmp_path):
    record = json.loads((FIXTURES / f"{name}.json").read_text())
    page_file = tmp_path / "report.html"
    page = html.render(record)
    page_file.write_text(page, encoding="utf-8")

    browser.events.clear()
    browser.call("Page.navigate", url=page_file.as_uri())
    browser.wait_for("Page.loadEventFired")

    assert _problems(browser.events) == []
    shown = browser.evaluate("document.getElementById('verdict').dataset.verdict")
    assert shown == (record["verdict"] or "none")
    assert browser.evaluate("document.querySelector('#verdict .word').textContent") == (
        summary.verdict_word(record["verdict"]))
    images = browser.evaluate("Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])")
    assert len(images) == page.count("<img ") and all(ok for _, ok in images), images
    failing = browser.evaluate(
        "Array.from(document.querySelectorAll('.gauge.fail[data-budget]')).map(g => g.dataset.budget)")
    assert failing == [b["name"] for b in record["budgets"] if b["verdict"] == "fail"]

    ARTIFACTS.mkdir(exist_ok=True)
    height = browser.evaluate("document.documentElement.scrollHeight")
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": 1200, "height": height, "scale": 1})
    import base64
    (ARTIFACTS / f"report_{name}.png").write_bytes(base64.b64decode(shot["data"]))
    assert (ARTIFACTS / f"report_{name}.png").stat().st_size > 10_000


def test_unverified_banner_is_red_and_names_the_check(browser, tmp_path):
    """A failed proof shows in the failing colour, however well the budgets did (they all hold in this record)."""
    shown = {}
    for name in ("unverified", "dcase", "mae"):  # unverified, fail, pass
        page_file = tmp_path / f"{name}.html"
        page_file.write_text(html.render(json.loads((FIXTURES / f"{name}.json").read_text())), encoding="utf-8")
        shown[name] = banner_of(page_file, browser)
    verdict, text, colour = shown["unverified"]
    assert verdict == "unverified" and text.startswith("UNVERIFIED")
    assert "Failed check: int8 vs Keras: 18.5 LSB > 16 LSB." in text
    assert colour == shown["dcase"][2] == "rgb(207, 34, 46)"  # --fail, the failing banner's colour
    assert colour != shown["mae"][2]


def test_the_check_catches_console_errors_and_network_requests(browser, tmp_path):
    """The clean-load assertion above can fail: a page that logs an error and asks for a remote image is caught."""
    page_file = tmp_path / "bad.html"
    page_file.write_text('<!doctype html><img src="http://192.0.2.1/x.png"><script>console.error("boom")</script>')
    browser.events.clear()
    browser.call("Page.navigate", url=page_file.as_uri())
    browser.wait_for("Page.loadEventFired")
    problems = _problems(browser.events)
    assert any("console.error" in p for p in problems)
    assert any("network request: http://192.0.2.1/x.png" in p for p in problems)
