# deploy_harness.py — what the deploy/ tests share: run the real gortd on a
# free loopback port (reading its "gortd listening on 127.0.0.1:PORT" line,
# as tests/service/gortd_harness.cpp does), run other servers (Prometheus,
# wrk) as children that are always killed on exit, poll conditions under a
# deadline, and plain HTTP GETs. Python 3 standard library only.
import atexit
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

# PATIENCE_S bounds every wait for a server to do something: far beyond what
# a healthy run needs on a loaded 2-core machine.
PATIENCE_S = 60

_children = []
_workdirs = []
_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _cleanup():
    for p in _children:
        if p.poll() is None:
            p.kill()
            p.wait()
    for d in _workdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # still clean up when told to stop


def _die_with_parent():
    # A child gets SIGKILL when the test dies, even by SIGKILL (a ctest
    # timeout), so no gortd, Prometheus or wrk outlives it.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def workdir(prefix):
    """workdir returns a new temporary directory removed when the test exits."""
    d = tempfile.mkdtemp(prefix=prefix)
    _workdirs.append(d)
    return d


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def log(msg):
    print(msg, flush=True)


def spawn(argv, env=None, **kw):
    """spawn starts argv as a child killed when the test exits or dies."""
    p = subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent, **kw)
    _children.append(p)
    return p


def wait_until(what, cond, patience_s=PATIENCE_S, every_s=0.2):
    """wait_until polls cond() until it returns a true value, which it
    returns; fails the test naming what after patience_s."""
    deadline = time.monotonic() + patience_s
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("gave up waiting (%ds) for %s" % (patience_s, what))
        time.sleep(every_s)


def http_get(url, timeout=30):
    """http_get returns (status, body bytes); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, b""


def free_port():
    """free_port returns a loopback port nobody listens on now (the caller
    retries if another process takes it before it binds)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gortd:
    """Gortd runs the real gortd on 127.0.0.1:0 and learns its port."""

    def __init__(self, path, args=(), env_add=None):
        env = dict(os.environ)
        env.update(env_add or {})
        self.proc = spawn([path, "--addr", "127.0.0.1:0", *args], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.stderr = []
        found = threading.Event()
        self.port = 0

        def drain():  # keeps reading so gortd never blocks on a full pipe
            for line in self.proc.stderr:
                self.stderr.append(line)
                m = re.search(r"gortd listening on 127\.0\.0\.1:(\d+)", line)
                if m and not found.is_set():
                    self.port = int(m.group(1))
                    found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(PATIENCE_S):
            fail("gortd did not say it was listening: " + "".join(self.stderr)[-2000:])
        self.base = "http://127.0.0.1:%d" % self.port

    def get(self, path, timeout=60):
        return http_get(self.base + path, timeout)


class Prometheus:
    """Prometheus runs Debian's real Prometheus server with config_text on a
    free loopback port and temporary storage, and waits until it is ready."""

    def __init__(self, path, config_text, tmp):
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(config_text)
        for attempt in range(3):  # the free port may be taken before Prometheus binds it
            self.port = free_port()
            self.base = "http://127.0.0.1:%d" % self.port
            logf = open(os.path.join(tmp, "prometheus-%d.log" % attempt), "w+")
            self.proc = spawn([path, "--config.file=" + cfg,
                               "--storage.tsdb.path=" + tempfile.mkdtemp(dir=tmp),
                               "--web.listen-address=127.0.0.1:%d" % self.port,
                               "--log.level=warn"],
                              stdout=logf, stderr=subprocess.STDOUT)
            ready = wait_until("Prometheus to be ready or exit",
                               lambda: self.proc.poll() is not None or http_get(self.base + "/-/ready", 5)[0] == 200)
            if self.proc.poll() is None and ready:
                return
            logf.seek(0)
            text = logf.read()
            if "address already in use" not in text:
                fail("Prometheus exited: " + text[-2000:])
        fail("Prometheus found no free port in 3 tries")

    def api(self, path, **params):
        """api GETs /api/v1/<path> and returns the decoded JSON reply."""
        import json
        import urllib.parse
        url = self.base + "/api/v1/" + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = http_get(url, 30)
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "error", "error": "HTTP %d: %r" % (status, body[:200])}
