#!/usr/bin/env python3
"""screenshot.py — a PNG of a web page, taken by headless Chromium once the page is ready.

Used by scripts/docs-pictures.sh for the README's pictures. Chromium's own
--screenshot flag fires after a fixed (virtual) time budget, too early for
pages that fetch and import their data (go tool trace's viewer shows
"Importing..." for seconds); this drives Chromium over its DevTools protocol
with tests/tools/cdp.py (the driver gortd's page tests use) and waits for a
JavaScript condition before it captures.

Usage: screenshot.py URL OUT.png [--width W] [--height H] [--wait-js EXPR]
                     [--then-js EXPR] [--settle-ms MS] [--timeout S]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
import cdp  # noqa: E402


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

    try:
        with cdp.Browser(window=(a.width, a.height)) as browser:
            page = browser.new_page()
            page.call("Emulation.setDeviceMetricsOverride",
                      {"width": a.width, "height": a.height, "deviceScaleFactor": 1, "mobile": False})
            page.navigate(a.url, timeout=a.timeout)
            page.wait_for(f"!!({a.wait_js})", "the page is ready", timeout=a.timeout)
            if a.then_js:
                value = page.evaluate(a.then_js)
                if os.environ.get("SCREENSHOT_DEBUG"):
                    print(json.dumps(value), file=sys.stderr)
            time.sleep(a.settle_ms / 1000)  # let the last frame paint: the condition holds already
            page.screenshot(a.out, full_page=False)
    except cdp.CdpError as e:
        sys.exit(f"screenshot.py: {a.url}: {e}")


if __name__ == "__main__":
    main()
