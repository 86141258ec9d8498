#!/usr/bin/env python3
# dashboard_live_test.py — the Grafana dashboard and the alert rules against
# real servers: gortd under wrk load (/work, /alloc, /error, /sleep), scraped
# every second by a real Prometheus running deploy/prometheus.yml (target,
# intervals and the rules path rewritten for this run). Every panel target's
# expression of deploy/grafana/dashboards/gortd.json, with Grafana's
# variables substituted as Grafana would, must return data through
# /api/v1/query; the $job and $instance variable queries must find this
# gortd; every alert rule of deploy/alerts.yml must load, evaluate without
# error, and its expression must run; and the load's 20% of 5xx on /error
# must set GortdHighErrorRatio pending. Waits for conditions under deadlines.
#
# usage: dashboard_live_test.py --gortd PATH --prometheus PATH --wrk PATH --deploy DIR
import argparse
import json
import math
import os
import re
import subprocess
import time

from deploy_harness import Gortd, Prometheus, fail, log, spawn, wait_until, workdir

# RATE_INTERVAL_S is Grafana's $__rate_interval for a 1 s scrape interval:
# max($__interval + scrape interval, 4 * scrape interval).
RATE_INTERVAL_S = 4
# DATA_PATIENCE_S bounds the wait for every panel to show data under load.
DATA_PATIENCE_S = 75
# LOAD is what wrk sends, one wrk per path (loopback only; wrk stops itself
# after its -d duration and is killed when the test ends).
LOAD = ["/work?n=200000", "/alloc?kb=256&keep=8", "/error?code=500&p=0.2", "/sleep?ms=5"]
# GOMEMLIMIT is set so the "Memory against GOMEMLIMIT" panel has a limit to show.
GOMEMLIMIT = "1GiB"


def rewrite_config(text, target, rules_path):
    """rewrite_config turns deploy/prometheus.yml into this run's config:
    each rewrite must apply exactly once, so the shipped file is what runs."""
    for old, new in [("localhost:8080", target),
                     ("scrape_interval: 15s", "scrape_interval: 1s"),
                     ("evaluation_interval: 15s", "evaluation_interval: 1s"),
                     ("- alerts.yml", "- " + rules_path)]:
        if text.count(old) != 1:
            fail("deploy/prometheus.yml: expected %r once, found it %d times" % (old, text.count(old)))
        text = text.replace(old, new)
    return text


def substitute(expr, values):
    """substitute replaces Grafana variables ($name, ${name}, ${name:fmt},
    [[name]]) by values; fails on one it does not know."""
    def one(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            fail("unknown Grafana variable %r in %s" % (name, expr))
        return values[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", one, expr)


def has_finite_value(result):
    for r in result:
        v = r.get("value") or (r.get("values") or [[0, "NaN"]])[-1]
        if not math.isnan(float(v[1])) and not math.isinf(float(v[1])):
            return True
    return False


def main():
    ap = argparse.ArgumentParser(description="Evaluate the dashboard and alerts against gortd and Prometheus.")
    ap.add_argument("--gortd", required=True)
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--wrk", required=True)
    ap.add_argument("--deploy", required=True, help="the repository's deploy/ directory")
    a = ap.parse_args()
    deploy = os.path.abspath(a.deploy)
    with open(os.path.join(deploy, "grafana/dashboards/gortd.json")) as f:
        dash = json.load(f)

    tmp = workdir(prefix="gort-dashboard-")
    gortd = Gortd(a.gortd, env_add={"GOMEMLIMIT": GOMEMLIMIT})
    target = "127.0.0.1:%d" % gortd.port
    log("gortd on " + target)
    for path in LOAD:
        spawn([a.wrk, "-t1", "-c2", "-d120s", "--timeout", "10s", gortd.base + path],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    with open(os.path.join(deploy, "prometheus.yml")) as f:
        config = rewrite_config(f.read(), target, os.path.join(deploy, "alerts.yml"))
    prom = Prometheus(a.prometheus, config, tmp)
    log("Prometheus on %s, storage in %s" % (prom.base, tmp))

    def target_up():
        r = prom.api("targets")
        ts = r.get("data", {}).get("activeTargets", [])
        return len(ts) == 1 and ts[0]["health"] == "up" and ts[0]["labels"]["job"] == "gortd"
    wait_until("Prometheus to scrape gortd (target up)", target_up)

    values = {"datasource": "prometheus", "job": "gortd", "instance": target,
              "__rate_interval": "%ds" % RATE_INTERVAL_S, "__interval": "1s", "__interval_ms": "1000",
              "__range": "60s", "__range_s": "60", "__range_ms": "60000"}
    failures = []

    # The variables: label_values(SELECTOR, LABEL) must list this run's value.
    for var in dash["templating"]["list"]:
        if var["type"] != "query":
            continue
        q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q)
        if not m:
            failures.append("variable %s: not label_values(...): %s" % (var["name"], q))
            continue
        sel = substitute(m.group(1), values)
        want = values[var["name"]]

        def found(sel=sel, label=m.group(2), want=want):
            r = prom.api("series", **{"match[]": sel})
            return any(s.get(label) == want for s in r.get("data", []))
        wait_until("variable $%s (%s) to list %s" % (var["name"], q, want), found)
        log("ok   variable $%s: %s lists %s" % (var["name"], q, want))

    # Every panel target must return data with a finite value.
    pending = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            pending.append(("%s [%s]" % (p["title"], t["refId"]), substitute(t["expr"], values)))
    log("%d panel targets to evaluate" % len(pending))
    deadline = time.monotonic() + DATA_PATIENCE_S
    last = {}
    while pending:
        still = []
        for name, expr in pending:
            r = prom.api("query", query=expr)
            if r.get("status") != "success":
                failures.append("%s: query error %s: %s" % (name, r.get("error"), expr))
            elif has_finite_value(r["data"]["result"]):
                log("ok   %s (%d series)" % (name, len(r["data"]["result"])))
            else:
                last[name] = r["data"]["result"]
                still.append((name, expr))
        pending = still
        if pending and time.monotonic() > deadline:
            for name, expr in pending:
                failures.append("%s: no data after %ds under load (last result %s): %s"
                                % (name, DATA_PATIENCE_S, json.dumps(last[name])[:200], expr))
            break
        if pending:
            time.sleep(1)

    # Every alert rule: loaded, evaluated without error, its query runs.
    with open(os.path.join(deploy, "alerts.yml")) as f:
        want_alerts = re.findall(r"^\s*- alert:\s*(\w+)", f.read(), re.M)

    def rules_evaluated():
        r = prom.api("rules", type="alert")
        rules = [x for g in r.get("data", {}).get("groups", []) for x in g["rules"]]
        if len(rules) == len(want_alerts) and all(
                not x.get("lastEvaluation", "0001").startswith("0001") and x.get("health") != "unknown" for x in rules):
            return rules
        return None
    rules = wait_until("Prometheus to evaluate every alert rule", rules_evaluated)
    if sorted(x["name"] for x in rules) != sorted(want_alerts):
        failures.append("alert rules loaded %s, alerts.yml has %s" % ([x["name"] for x in rules], want_alerts))
    for x in rules:
        r = prom.api("query", query=x["query"])
        if x.get("health") != "ok" or r.get("status") != "success":
            failures.append("alert %s: health %s %s, query %s %s"
                            % (x["name"], x.get("health"), x.get("lastError", ""), r.get("status"), r.get("error", "")))
        else:
            log("ok   alert %s evaluates (%s now)" % (x["name"], x.get("state")))

    # The load's 20% of 5xx on /error is an error ratio the alert catches:
    # GortdHighErrorRatio goes pending (it fires after 5 minutes of it).
    def error_alert_active():
        r = prom.api("alerts")
        return [x for x in r.get("data", {}).get("alerts", [])
                if x["labels"].get("alertname") == "GortdHighErrorRatio" and x["labels"].get("path") == "/error"]
    active = wait_until("GortdHighErrorRatio to go pending on /error's 20% of 5xx", error_alert_active)
    log("ok   GortdHighErrorRatio is %s on /error: %s" % (active[0]["state"], active[0]["annotations"].get("summary")))

    if failures:
        for f_ in failures:
            log("FAIL " + f_)
        fail("%d check(s) failed" % len(failures))
    log("PASS: every panel target returned data, every alert rule evaluates")


if __name__ == "__main__":
    main()
