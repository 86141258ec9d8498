#!/usr/bin/env python3
"""dashboard_ui_test.py — gortd's live dashboard (/debug/ui) in headless Chromium.

Starts the real gortd on free ports, opens the page in Chromium through the
DevTools protocol (tests/tools/cdp.py), puts load on gortd (/work, /alloc,
/error?code=503) and checks that:
  - the page loads with no console error, exception or failed request
    (its Content-Security-Policy turns any off-site load into an error);
  - the charts fill: heap, GC pauses, goroutines by state, run queues per P,
    scheduling latency, requests by route and by status, request latency;
  - the values move: the heap and /work request-rate series take new values;
  - the stream outlives gortd's short write and idle timeouts (started with
    --write-timeout 300ms --idle-timeout 500ms) and ends when the page goes;
  - behind --debug-addr + --debug-auth: 401 without credentials, page and
    stream with them (Chromium sends an Authorization header), nothing on
    the main listener.
Saves a screenshot of the loaded page (--screenshot) and prints its path.

Usage: dashboard_ui_test.py --gortd PATH [--chromium PATH] [--screenshot FILE.png]
Waits are conditions under generous deadlines, never fixed sleeps.
"""

import argparse
import base64
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import cdp  # noqa: E402

DEADLINE_S = 60.0  # bound on every wait: far beyond a healthy run on a loaded 2-core machine
AUTH = "admin:s3cret"


class Gortd:
    """Gortd is one gortd process on free loopback ports."""

    def __init__(self, binary, *flags):
        self.proc = subprocess.Popen([binary, "--addr", "127.0.0.1:0", *flags], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.stderr = []
        self.port = self.debug_port = None
        want_debug = "--debug-addr" in flags
        deadline = time.monotonic() + DEADLINE_S
        while self.port is None or (want_debug and self.debug_port is None):
            line = self.proc.stderr.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError("gortd did not start: " + "".join(self.stderr))
            self.stderr.append(line)
            m = re.match(r"gortd (debug )?listening on 127\.0\.0\.1:(\d+)", line)
            if m and m.group(1):
                self.debug_port = int(m.group(2))
            elif m:
                self.port = int(m.group(2))
        # Keep draining stderr so gortd never blocks on a full pipe.
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def get(self, path, port=None, headers=None):
        """get returns (status, body) of one GET."""
        c = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=DEADLINE_S)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace")
        finally:
            c.close()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Load:
    """Load keeps a few clients busy on gortd until stopped."""

    PATHS = ["/work?n=200000", "/alloc?kb=512&keep=16", "/error?code=503", "/work?n=50000", "/sleep?ms=5"]

    def __init__(self, port, clients=2):
        self.port = port
        self.stopping = threading.Event()
        self.errors = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]
        for t in self.threads:
            t.start()

    def _run(self, i):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE_S)
        n = i
        while not self.stopping.is_set():
            path = self.PATHS[n % len(self.PATHS)]
            n += 1
            try:
                c.request("GET", path)
                r = c.getresponse()
                r.read()
                if r.status not in (200, 503):
                    self.errors.append(f"{path}: HTTP {r.status}")
            except (OSError, http.client.HTTPException):
                # The idle timeout may close a kept-alive connection between requests.
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE_S)
        c.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(DEADLINE_S)


def wait_until(pred, what):
    deadline = time.monotonic() + DEADLINE_S
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


# JavaScript helpers evaluated in the page: a dataset's points by label.
JS_HELPERS = """
window.t = {
  ds: (chart, label) => gortDashboard.charts[chart].data.datasets.find(d => d.label === label),
  ys: (chart, label) => { const d = t.ds(chart, label); return d ? d.data.map(p => p.y) : []; },
  distinct: (chart, label) => new Set(t.ys(chart, label).filter(y => y != null)).size,
  labels: chart => gortDashboard.charts[chart].data.datasets.map(d => d.label),
};
true
"""


def test_page_under_load(gortd_path, chromium, screenshot):
    g = Gortd(gortd_path, "--write-timeout", "300ms", "--idle-timeout", "500ms")
    load = None
    try:
        with cdp.Browser(chromium) as browser:
            page = browser.new_page()
            page.track_errors()
            page.navigate(f"http://127.0.0.1:{g.port}/debug/ui")
            page.evaluate(JS_HELPERS)
            page.wait_for("window.gortDashboard.events >= 1", "the first event arrives")
            load = Load(g.port)

            # The charts fill.
            page.wait_for("t.ys('requestsRoute', '/work').some(y => y > 0)", "/work has a request rate")
            page.wait_for("t.ys('requestsCode', '503').some(y => y > 0)", "503s have a rate")
            page.wait_for("t.ys('requestsCode', '200').some(y => y > 0)", "200s have a rate")
            page.wait_for("t.ys('requestLatency', 'p99').some(y => y > 0)", "the request p99 is plotted")
            page.wait_for("t.ys('gcPauses', 'pause').length >= 2", "GC pauses are plotted")
            page.wait_for("t.ys('gcCpu', 'last second').some(y => y > 0)", "GC CPU is plotted")
            page.wait_for("t.ys('schedLatency', 'p99').some(y => y > 0)", "scheduling latency is plotted")
            page.wait_for("t.ys('goroutines', 'running').some(y => y >= 1) && t.labels('goroutines').includes('IO wait')",
                          "goroutines by state are plotted")
            procs = page.evaluate("gortDashboard.last.sched.gomaxprocs")
            page.wait_for(f"t.labels('runQueues').length === {procs} + 1", "run queues: global and one per P")
            page.wait_for("t.ys('heap', 'heap goal (NextGC)').some(y => y >= 4)", "the heap goal (>= 4 MiB) is plotted")

            # The values move: new heap and request-rate values arrive.
            page.wait_for("t.distinct('heap', 'heap in use (HeapAlloc)') >= 3", "the heap series moves")
            page.wait_for("t.distinct('requestsRoute', '/work') >= 3", "the /work rate series moves")
            events = page.evaluate("gortDashboard.events")
            page.wait_for(f"gortDashboard.events >= {events + 2}", "the stream keeps going past the timeouts")
            check(page.evaluate("document.getElementById('status').textContent") == "live", "status is not 'live'")
            opens = page.evaluate("gortDashboard.opens")
            check(opens == 1, f"the stream was opened {opens} times: something cut it")
            check(page.evaluate("document.getElementById('tile-goroutines').textContent") != "–", "tiles are empty")

            load.stop()
            check(not load.errors, f"load errors: {load.errors[:5]}")
            page.evaluate("document.fonts.ready.then(() => true)")
            page.screenshot(screenshot)
            print(f"dashboard_ui_test: screenshot {screenshot}")
            check(not page.errors, "page errors:\n  " + "\n  ".join(page.errors))

        # Closing the page ended its stream: no request is left in flight but
        # the snapshot's own.
        def in_flight():
            status, body = g.get("/debug/ui/data?window=0.1")
            check(status == 200, f"/debug/ui/data: HTTP {status}")
            return json.loads(body)["http"]["in_flight"]
        wait_until(lambda: in_flight() == 1, "the closed page's stream has ended")
    finally:
        if load:
            load.stop()
        g.stop()


def test_debug_listener_with_auth(gortd_path, chromium):
    g = Gortd(gortd_path, "--debug-addr", "127.0.0.1:0", "--debug-auth", AUTH)
    auth = {"Authorization": "Basic " + base64.b64encode(AUTH.encode()).decode()}
    try:
        for path in ("/debug/ui", "/debug/ui/stream", "/debug/ui/data", "/debug/ui/chart.js"):
            status, _ = g.get(path, g.debug_port)
            check(status == 401, f"{path} without credentials: HTTP {status}, want 401")
            status, _ = g.get(path, g.port, auth)
            check(status == 404, f"{path} on the main listener: HTTP {status}, want 404")
        status, body = g.get("/debug/ui/data?window=0.2", g.debug_port, auth)
        check(status == 200, f"/debug/ui/data with credentials: HTTP {status}")
        for key in ("heap", "gc", "goroutines", "sched", "http"):
            check(key in json.loads(body), f"/debug/ui/data has no {key!r}")

        with cdp.Browser(chromium) as browser:
            page = browser.new_page()
            page.set_headers(auth)
            page.track_errors()
            page.navigate(f"http://127.0.0.1:{g.debug_port}/debug/ui")
            page.wait_for("window.gortDashboard && window.gortDashboard.events >= 2", "two events over the auth'd stream")
            check(not page.errors, "page errors:\n  " + "\n  ".join(page.errors))
    finally:
        g.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gortd", required=True, help="path of the gortd binary")
    ap.add_argument("--chromium", default=cdp.CHROMIUM, help="path of chromium (default %(default)s)")
    ap.add_argument("--screenshot", default="dashboard.png", help="where to save the page's PNG")
    args = ap.parse_args()
    start = time.monotonic()
    test_page_under_load(args.gortd, args.chromium, args.screenshot)
    print(f"dashboard_ui_test: page under load: ok ({time.monotonic() - start:.1f} s)")
    t = time.monotonic()
    test_debug_listener_with_auth(args.gortd, args.chromium)
    print(f"dashboard_ui_test: debug listener with auth: ok ({time.monotonic() - t:.1f} s)")


if __name__ == "__main__":
    main()
