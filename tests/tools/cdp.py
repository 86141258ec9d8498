"""cdp.py — drive headless Chromium through the DevTools protocol (CDP).

Used by gortd's page tests (tests/service/dashboard_ui_test.py) and by
scripts/screenshot.py for the README's pictures; Python 3 standard library only.

Chromium is started with --remote-debugging-pipe: it reads CDP commands
from its fd 3 and writes replies and events to its fd 4, each message one
JSON object ended by a NUL byte. No port, no WebSocket, nothing another
process could connect to. One page is one target attached in "flat" mode:
its commands carry the session id, and so do its events.

    with Browser() as browser:
        page = browser.new_page()
        page.track_errors()                     # console errors, exceptions, failed requests
        page.navigate("http://127.0.0.1:8080/debug/ui")
        page.wait_for("window.gortDashboard.events >= 2", "two events")
        page.screenshot("dashboard.png")
        assert not page.errors, page.errors

Waits poll a condition under a deadline (never a fixed sleep); a deadline
that passes raises CdpTimeout naming what was awaited.
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"
# Flags for a quiet, self-contained headless browser: no sandbox (tests run
# as root in containers), no GPU, no network traffic of its own (updates,
# sync, QUIC probes), a fresh profile each time.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
]
# Every wait and command is bounded by this unless the caller says otherwise:
# far beyond what a healthy run needs on a loaded two-core machine.
DEFAULT_TIMEOUT_S = 60.0


class CdpError(Exception):
    """A CDP command failed (the browser answered with an error)."""


class CdpTimeout(CdpError):
    """A command or a wait did not finish before its deadline."""


class Browser:
    """Browser is one headless Chromium process and its CDP pipe."""

    def __init__(self, binary=CHROMIUM, extra_flags=(), window=(1440, 1000)):
        self.profile_dir = tempfile.mkdtemp(prefix="gort-chromium-")
        self.log_path = os.path.join(self.profile_dir, "chromium.log")
        to_chrome_r, self._to_chrome = os.pipe()     # we write commands, Chromium reads fd 3
        self._from_chrome, from_chrome_w = os.pipe()  # Chromium writes fd 4, we read

        def child_fds():
            # Move both ends above 10 first, so neither dup2 onto 3 or 4
            # closes the other.
            r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)

        flags = CHROMIUM_FLAGS + [f"--user-data-dir={self.profile_dir}", f"--window-size={window[0]},{window[1]}",
                                  "--remote-debugging-pipe", *extra_flags, "about:blank"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([binary, *flags], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         pass_fds=(3, 4), preexec_fn=child_fds)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self._pending = []   # messages read while waiting for another reply
        self.pages = []

    # ---- the pipe ----

    def _send(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._to_chrome, data)
            data = data[n:]

    def _read(self, deadline):
        """_read returns the next message from Chromium, waiting until deadline."""
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpTimeout("no message from Chromium before the deadline")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise CdpError("Chromium closed its DevTools pipe (exited?); log: " + self.log_tail())
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _dispatch(self, msg):
        """_dispatch hands an event to the page it belongs to."""
        for page in self.pages:
            if msg.get("sessionId") == page.session_id:
                page._on_event(msg["method"], msg.get("params", {}))

    def call(self, method, params=None, session_id=None, timeout=DEFAULT_TIMEOUT_S):
        """call sends one command and returns its result, dispatching the
        events that arrive meanwhile."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            msg["sessionId"] = session_id
        self._send(msg)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == msg["id"]:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error'].get('message')} ({reply['error']})")
                return reply.get("result", {})
            if "method" in reply:
                self._dispatch(reply)

    def pump(self, seconds):
        """pump dispatches events for up to seconds (for waits on events)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._dispatch(self._read(deadline))
        except CdpTimeout:
            pass

    def new_page(self):
        """new_page opens a blank tab and attaches to it."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        self.pages.append(page)
        return page

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def close(self):
        """close ends Chromium (politely, then by force) and removes its profile."""
        if self.proc.poll() is None:
            try:
                self.call("Browser.close", timeout=10)
            except CdpError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    """Page is one tab: navigation, script evaluation, waits, screenshots,
    and (after track_errors) every error the page met."""

    def __init__(self, browser, target_id, session_id):
        self.browser = browser
        self.target_id = target_id
        self.session_id = session_id
        self.errors = []        # human-readable lines, one per error
        self.console = []       # every console message: (type, text)
        self._loaded = False

    def call(self, method, params=None, timeout=DEFAULT_TIMEOUT_S):
        return self.browser.call(method, params, self.session_id, timeout)

    def track_errors(self):
        """track_errors records console errors, uncaught exceptions, failed
        requests and HTTP error replies into self.errors."""
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable")

    def set_headers(self, headers):
        """set_headers adds HTTP headers to every request of the page
        (e.g. Authorization for gortd's --debug-auth)."""
        self.call("Network.enable")
        self.call("Network.setExtraHTTPHeaders", {"headers": headers})

    def _on_event(self, method, p):
        if method == "Page.loadEventFired":
            self._loaded = True
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text")
            self.errors.append(f"exception: {text} at {d.get('url', '?')}:{d.get('lineNumber', '?')}")
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            self.console.append((p["type"], text))
            if p["type"] in ("error", "assert"):
                self.errors.append(f"console.{p['type']}: {text}")
        elif method == "Log.entryAdded":
            e = p["entry"]
            if e["level"] == "error":
                self.errors.append(f"log ({e['source']}): {e['text']} {e.get('url', '')}".rstrip())
        elif method == "Network.loadingFailed":
            if not p.get("canceled"):
                self.errors.append(f"request failed: {p.get('errorText')} ({p.get('blockedReason', '')})")
        elif method == "Network.responseReceived":
            r = p["response"]
            if r["status"] >= 400:
                self.errors.append(f"HTTP {r['status']} for {r['url']}")

    def navigate(self, url, timeout=DEFAULT_TIMEOUT_S):
        """navigate loads url and waits for its load event."""
        self.call("Page.enable")
        self._loaded = False
        result = self.call("Page.navigate", {"url": url}, timeout)
        if result.get("errorText"):
            raise CdpError(f"navigate {url}: {result['errorText']}")
        deadline = time.monotonic() + timeout
        while not self._loaded:
            if time.monotonic() > deadline:
                raise CdpTimeout(f"{url} did not finish loading")
            self.browser.pump(0.1)

    def evaluate(self, expression, timeout=DEFAULT_TIMEOUT_S):
        """evaluate runs a JavaScript expression (promises awaited) and
        returns its value as JSON would carry it."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                      timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CdpError(f"evaluate {expression!r}: {d.get('exception', {}).get('description') or d.get('text')}")
        return r["result"].get("value")

    def wait_for(self, expression, what, timeout=DEFAULT_TIMEOUT_S, poll_s=0.2):
        """wait_for polls expression until it is truthy and returns its value;
        raises CdpTimeout naming what after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CdpTimeout(f"timed out after {timeout:.0f} s waiting until {what} ({expression})")
            self.browser.pump(poll_s)

    def screenshot(self, path, full_page=True):
        """screenshot saves the page as a PNG (the whole page when full_page)."""
        params = {"format": "png"}
        if full_page:
            m = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": m["width"], "height": m["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path
