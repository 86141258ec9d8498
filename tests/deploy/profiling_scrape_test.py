#!/usr/bin/env python3
# profiling_scrape_test.py — the continuous-profiling recipe
# (docs/continuous-profiling.md) against a real gortd. The pull profilers'
# configs, deploy/profiling/config.alloy (Grafana Alloy's pyroscope.scrape)
# and deploy/profiling/parca.yaml (Parca), must spell out those scrapers'
# default profile types, paths and delta settings (the tables below, from
# their sources); then every URL they request by default — with the
# ?seconds= a delta profile gets — is fetched from gortd under load, must
# answer 200 with a gzipped profile that `go tool pprof -raw` parses with
# Go's sample types, and every type the configs disable must be one gortd
# does not serve (404).
#
# usage: profiling_scrape_test.py --gortd PATH --go PATH --wrk PATH --deploy DIR
import argparse
import os
import re
import subprocess
import threading
import urllib.parse

import yaml

from deploy_harness import Gortd, fail, log, spawn, workdir

# ALLOY_DEFAULTS is pyroscope.scrape's DefaultProfilingConfig (grafana/alloy,
# internal/component/pyroscope/scrape/scrape.go): type -> (enabled, path,
# delta). Default scrape_interval 15s; a delta type gets
# ?seconds=<scrape_interval - 1> (target.go), unless delta_profiling_duration
# is set.
ALLOY_DEFAULTS = {
    "memory": (True, "/debug/pprof/allocs", False),
    "block": (True, "/debug/pprof/block", False),
    "goroutine": (True, "/debug/pprof/goroutine", False),
    "mutex": (True, "/debug/pprof/mutex", False),
    "process_cpu": (True, "/debug/pprof/profile", True),
    "fgprof": (False, "/debug/fgprof", True),
    "godeltaprof_memory": (False, "/debug/pprof/delta_heap", False),
    "godeltaprof_mutex": (False, "/debug/pprof/delta_mutex", False),
    "godeltaprof_block": (False, "/debug/pprof/delta_block", False),
}
# PARCA_DEFAULTS is Parca's DefaultScrapeConfig (parca-dev/parca,
# pkg/config/config.go). Default scrape_interval 10s; a delta type gets
# ?seconds=<scrape_interval> (pkg/scrape/target.go).
PARCA_DEFAULTS = {
    "memory": (True, "/debug/pprof/allocs", False),
    "block": (True, "/debug/pprof/block", False),
    "goroutine": (True, "/debug/pprof/goroutine", False),
    "mutex": (True, "/debug/pprof/mutex", False),
    "process_cpu": (True, "/debug/pprof/profile", True),
}
# SAMPLE_TYPES: what Go's profiles carry at each path (`pprof -raw`'s line
# after "Samples:"; [dflt] marks the default sample type, which Go sets to
# alloc_space at /allocs).
SAMPLE_TYPES = {
    "/debug/pprof/profile": "samples/count cpu/nanoseconds",
    "/debug/pprof/allocs": "alloc_objects/count alloc_space/bytes[dflt] inuse_objects/count inuse_space/bytes",
    "/debug/pprof/goroutine": "goroutine/count",
    "/debug/pprof/block": "contentions/count delay/nanoseconds",
    "/debug/pprof/mutex": "contentions/count delay/nanoseconds",
}
# LOAD keeps every profile non-trivial: CPU work, allocation, lock contention.
LOAD = ["/work?n=2000000", "/alloc?kb=256", "/contend?g=4&n=200"]


def seconds(duration):
    m = re.fullmatch(r"(\d+)s", duration)
    if not m:
        fail("duration %r: want whole seconds like 15s" % duration)
    return int(m.group(1))


def alloy_config(path):
    """alloy_config returns (scrape_interval_s, {type: (enabled, path,
    delta)}) from config.alloy's pyroscope.scrape block."""
    with open(path) as f:
        text = re.sub(r"//[^\n]*", "", f.read())
    m = re.search(r'scrape_interval\s*=\s*"([^"]+)"', text)
    interval = seconds(m.group(1)) if m else 15
    if "delta_profiling_duration" in text:
        fail("config.alloy sets delta_profiling_duration: teach this test its ?seconds= rule")
    types = {}
    for name, body in re.findall(r"profile\.(\w+)\s*\{(.*?)\}", text, re.S):
        attrs = dict(re.findall(r'(\w+)\s*=\s*("[^"]*"|true|false)', body))
        types[name] = (attrs.get("enabled") == "true", attrs.get("path", "").strip('"'),
                       attrs.get("delta") == "true")
    return interval, types


def parca_config(path):
    """parca_config returns (scrape_interval_s, {type: (enabled, path,
    delta)}) of parca.yaml's gortd job, merged with Parca's defaults as
    Parca merges them."""
    with open(path) as f:
        cfg = yaml.safe_load(f)
    job = next(j for j in cfg["scrape_configs"] if j["job_name"] == "gortd")
    interval = seconds(job.get("scrape_interval", "10s"))
    given = job.get("profiling_config", {}).get("pprof_config", {})
    types = {}
    for name in set(PARCA_DEFAULTS) | set(given):
        d = PARCA_DEFAULTS.get(name, (True, "", False))
        g = given.get(name) or {}
        types[name] = (g.get("enabled", d[0]), g.get("path") or d[1], g.get("delta", d[2]))
    return interval, types


def pprof_raw(go, body, workdir, name):
    """pprof_raw returns the sample-type line of `go tool pprof -raw` on
    body, or fails with pprof's complaint."""
    path = os.path.join(workdir, re.sub(r"\W", "_", name) + ".pb.gz")
    with open(path, "wb") as f:
        f.write(body)
    r = subprocess.run([go, "tool", "pprof", "-symbolize=none", "-raw", path], capture_output=True, text=True)
    lines = r.stdout.splitlines()
    if r.returncode != 0 or "Samples:" not in lines:
        return None, (r.stderr or r.stdout)[-500:]
    return lines[lines.index("Samples:") + 1].strip(), None


def main():
    ap = argparse.ArgumentParser(description="Fetch what Alloy and Parca scrape by default from a real gortd.")
    ap.add_argument("--gortd", required=True)
    ap.add_argument("--go", required=True)
    ap.add_argument("--wrk", required=True)
    ap.add_argument("--deploy", required=True)
    a = ap.parse_args()
    failures = []

    alloy_interval, alloy = alloy_config(os.path.join(a.deploy, "profiling/config.alloy"))
    parca_interval, parca = parca_config(os.path.join(a.deploy, "profiling/parca.yaml"))
    for who, got, want in (("config.alloy", alloy, ALLOY_DEFAULTS), ("parca.yaml", parca, PARCA_DEFAULTS)):
        if got != want:
            for t in sorted(set(got) | set(want)):
                if got.get(t) != want.get(t):
                    failures.append("%s: profile %s is %r, the scraper's default is %r" % (who, t, got.get(t), want.get(t)))
    if alloy_interval != 15 or parca_interval != 10:
        failures.append("scrape intervals %ds (Alloy) and %ds (Parca): the defaults are 15s and 10s"
                        % (alloy_interval, parca_interval))

    # The requests, as each scraper builds its URLs.
    requests, disabled = [], set()
    for who, types, secs in (("alloy", alloy, alloy_interval - 1), ("parca", parca, parca_interval)):
        for t, (enabled, path, delta) in sorted(types.items()):
            if not enabled:
                disabled.add(path)
                continue
            query = "?" + urllib.parse.urlencode({"seconds": secs}) if delta else ""
            requests.append(("%s %s" % (who, t), path + query, path))

    gortd = Gortd(a.gortd, ["--block-profile-rate", "1", "--mutex-profile-fraction", "1"])
    for path in LOAD:
        spawn([a.wrk, "-t1", "-c1", "-d90s", "--timeout", "30s", gortd.base + path],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = workdir(prefix="gort-profiling-")
    lock = threading.Lock()

    def check(name, url, path):
        status, body = gortd.get(url, timeout=120)
        if status != 200:
            problem = "HTTP %d %r" % (status, body[:200])
        elif body[:2] != b"\x1f\x8b":
            problem = "not gzipped profile.proto (starts %r)" % body[:8]
        else:
            types, problem = pprof_raw(a.go, body, tmp, name)
            if not problem and types != SAMPLE_TYPES[path]:
                problem = "sample types %r, Go's are %r" % (types, SAMPLE_TYPES[path])
        with lock:
            if problem:
                failures.append("%s GET %s: %s" % (name, url, problem))
            else:
                log("ok   %s GET %s: 200, go tool pprof -raw reads %s" % (name, url, SAMPLE_TYPES[path]))

    # CPU profiles take their ?seconds= and gortd runs one at a time (a
    # second gets 409, as a second Alloy/Parca on one gortd would): run
    # them one after the other, the quick profiles beside the first.
    cpu = [r for r in requests if "seconds=" in r[1]]
    quick = [r for r in requests if "seconds=" not in r[1]]
    log("%d URLs: %s" % (len(requests), ", ".join(sorted({r[1] for r in requests}))))
    if cpu:
        first = threading.Thread(target=check, args=cpu[0])
        first.start()
    for r in quick:
        check(*r)
    if cpu:
        first.join()
        for r in cpu[1:]:
            check(*r)

    for path in sorted(disabled):
        status, _ = gortd.get(path)
        if status != 404:
            failures.append("%s is disabled in the configs as unsupported, but gortd answers %d: enable it" % (path, status))
        else:
            log("ok   disabled %s: gortd answers 404" % path)

    for f_ in failures:
        log("FAIL " + f_)
    if failures:
        fail("%d check(s) failed" % len(failures))
    log("PASS: every default scrape of Alloy and Parca reads a Go profile from gortd")


if __name__ == "__main__":
    main()
