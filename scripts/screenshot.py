#!/usr/bin/env python3
"""screenshot.py — a PNG of a web page, taken by headless Chromium once the page is ready.

Used by scripts/docs-pictures.sh for the README's pictures. Chromium's own
--screenshot flag fires after a fixed (virtual) time budget, too early for
pages that fetch and import their data (go tool trace's viewer shows
"Importing..." for seconds); this drives Chromium over its DevTools protocol
instead, on --remote-debugging-pipe (JSON messages ended by NUL on fds 3
and 4, so no websocket library is needed), and waits for a JavaScript
condition before it captures.

Usage: screenshot.py URL OUT.png [--width W] [--height H] [--wait-js EXPR]
                     [--settle-ms MS] [--timeout S]
"""

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time


class Chromium:
    """A headless Chromium speaking the DevTools protocol on a pipe."""

    def __init__(self, width, height):
        self.user_data = tempfile.mkdtemp(prefix="screenshot-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def plumb():  # in the child: the pipe ends become fds 3 and 4
            # Move both above 4 first, so neither dup2 overwrites the other.
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        exe = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--mute-audio", f"--window-size={width},{height}",
             f"--user-data-dir={self.user_data}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=plumb, pass_fds=(3, 4),  # kept open past close_fds, which runs after plumb
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0

    def call(self, method, params=None, session=None, timeout=30):
        """call sends one command and returns its result (events are dropped)."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.from_chrome], [], [], left)[0]:
                    raise RuntimeError(f"chromium did not answer {method} within {timeout}s")
                chunk = os.read(self.from_chrome, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium exited")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)
        shutil.rmtree(self.user_data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="PNG of a web page from headless Chromium, once the page is ready.")
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--wait-js", default="document.readyState === 'complete'",
                    help="JavaScript expression; the capture waits until it is true")
    ap.add_argument("--then-js", default="", help="JavaScript run once the page is ready, before the capture")
    ap.add_argument("--settle-ms", type=int, default=500, help="wait this long after the condition holds")
    ap.add_argument("--timeout", type=float, default=60, help="seconds to wait for the condition")
    a = ap.parse_args()

    chrome = Chromium(a.width, a.height)
    try:
        target = chrome.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = chrome.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        chrome.call("Emulation.setDeviceMetricsOverride",
                    {"width": a.width, "height": a.height, "deviceScaleFactor": 1, "mobile": False}, session)
        chrome.call("Page.navigate", {"url": a.url}, session)
        deadline = time.monotonic() + a.timeout
        while True:
            r = chrome.call("Runtime.evaluate", {"expression": f"!!({a.wait_js})", "returnByValue": True}, session)
            if r.get("result", {}).get("value") is True:
                break
            if time.monotonic() > deadline:
                sys.exit(f"screenshot.py: {a.url}: still not ready after {a.timeout:g}s (waiting for: {a.wait_js})")
            time.sleep(0.2)
        if a.then_js:
            r = chrome.call("Runtime.evaluate", {"expression": a.then_js, "returnByValue": True, "awaitPromise": True}, session)
            if "exceptionDetails" in r:
                d = r["exceptionDetails"]
                sys.exit(f"screenshot.py: --then-js failed: {d.get('exception', {}).get('description') or d.get('text')}")
            if os.environ.get("SCREENSHOT_DEBUG"):
                print(json.dumps(r.get("result", {}).get("value")), file=sys.stderr)
        time.sleep(a.settle_ms / 1000)
        shot = chrome.call("Page.captureScreenshot", {"format": "png"}, session)
        with open(a.out, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
    finally:
        chrome.close()


if __name__ == "__main__":
    main()
