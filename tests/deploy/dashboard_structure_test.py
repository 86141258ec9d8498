#!/usr/bin/env python3
# dashboard_structure_test.py — Grafana is not packaged in Debian, so this
# checks what Grafana would reject or show broken in
# deploy/grafana/dashboards/gortd.json and its provisioning files: a uid and
# title, panels with unique ids on a 24-column grid without overlaps, every
# query panel on the $datasource variable with Prometheus targets (unique
# refIds, an expression, only variables the dashboard defines or Grafana
# provides), the $datasource/$job/$instance variables, and provisioning
# that points at the files compose.yaml mounts. Whether the queries return
# data is dashboard_live_test.py's job.
#
# usage: dashboard_structure_test.py DEPLOY_DIR
import json
import os
import re
import sys

import yaml

GRAFANA_VARIABLES = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms",
                     "__name", "__from", "__to", "__dashboard", "__org", "__user"}
PANEL_TYPES = {"timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text", "row"}
GRID_COLUMNS = 24


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print("usage: dashboard_structure_test.py DEPLOY_DIR")
        sys.exit(0 if len(sys.argv) == 2 else 2)
    deploy = sys.argv[1]
    errors = []
    err = errors.append

    with open(os.path.join(deploy, "grafana/dashboards/gortd.json")) as f:
        d = json.load(f)
    for key in ("uid", "title", "panels", "templating", "schemaVersion", "time"):
        if key not in d:
            err("dashboard has no %r" % key)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d.get("uid", "")):
        err("uid %r: Grafana wants 1-40 characters of [A-Za-z0-9_-]" % d.get("uid"))

    variables = {v["name"]: v for v in d["templating"]["list"]}
    ds = variables.get("datasource")
    if not ds or ds["type"] != "datasource" or ds["query"] != "prometheus":
        err("no $datasource variable of type datasource listing Prometheus datasources")
    for name in ("job", "instance"):
        v = variables.get(name)
        if not v or v["type"] != "query" or v.get("datasource", {}).get("uid") != "${datasource}":
            err("no $%s query variable on ${datasource}" % name)
    if "$job" not in json.dumps(variables.get("instance", {}).get("query")):
        err("$instance should be chained to $job")

    ids = set()
    cells = {}
    defined = set(variables) | GRAFANA_VARIABLES
    query_panels = 0
    for p in d["panels"]:
        title = p.get("title", "?")
        if p.get("type") not in PANEL_TYPES:
            err("%s: unknown panel type %r" % (title, p.get("type")))
        if p.get("id") in ids or not isinstance(p.get("id"), int):
            err("%s: id %r missing or repeated" % (title, p.get("id")))
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["x"] + g["w"] > GRID_COLUMNS or g["w"] < 1:
            err("%s: bad gridPos %r" % (title, g))
            continue
        overlapped = set()
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells and cells[(x, y)] not in overlapped:
                    overlapped.add(cells[(x, y)])
                    err("%s overlaps %s at (%d, %d)" % (title, cells[(x, y)], x, y))
                cells[(x, y)] = title
        if p["type"] in ("row", "text"):
            continue
        query_panels += 1
        if not p.get("description"):
            err("%s: no description (the (i) tooltip says what it shows)" % title)
        if p.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            err("%s: datasource is %r, not the $datasource variable" % (title, p.get("datasource")))
        targets = p.get("targets", [])
        if not targets:
            err("%s: no targets" % title)
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or None in refs:
            err("%s: refIds %r not unique" % (title, refs))
        for t in targets:
            expr = t.get("expr", "")
            if not expr.strip():
                err("%s [%s]: empty expr" % (title, t.get("refId")))
            if t.get("datasource", p["datasource"]) != p["datasource"]:
                err("%s [%s]: target datasource differs from the panel's" % (title, t.get("refId")))
            for var in re.findall(r"\$\{(\w+)|\[\[(\w+)\]\]|\$(\w+)", expr):
                name = next(v for v in var if v)
                if name not in defined:
                    err("%s [%s]: undefined variable $%s" % (title, t.get("refId"), name))
            if "rate(" in expr and "$__rate_interval" not in expr:
                err("%s [%s]: rate() without $__rate_interval" % (title, t.get("refId")))
            if "job=~\"$job\"" not in expr or 'instance=~"$instance"' not in expr:
                err("%s [%s]: selectors must filter on $job and $instance: %s" % (title, t.get("refId"), expr))
    if query_panels < 20:
        err("only %d query panels" % query_panels)

    with open(os.path.join(deploy, "grafana/provisioning/datasources/prometheus.yml")) as f:
        dsp = yaml.safe_load(f)
    uids = [x.get("uid") for x in dsp.get("datasources", []) if x.get("type") == "prometheus"]
    if ds and ds.get("current", {}).get("value") not in uids:
        err("$datasource defaults to %r; provisioned Prometheus uids: %r" % (ds.get("current", {}).get("value"), uids))
    with open(os.path.join(deploy, "grafana/provisioning/dashboards/gortd.yml")) as f:
        dbp = yaml.safe_load(f)
    paths = [x.get("options", {}).get("path") for x in dbp.get("providers", [])]
    with open(os.path.join(deploy, "compose.yaml")) as f:
        compose = yaml.safe_load(f)
    mounts = compose["services"]["grafana"].get("volumes", [])
    if not any(m.split(":")[0] == "./grafana/dashboards" and m.split(":")[1] in paths for m in mounts):
        err("dashboard provider paths %r are not where compose.yaml mounts ./grafana/dashboards (%r)" % (paths, mounts))

    for e in errors:
        print("FAIL " + e)
    if errors:
        sys.exit(1)
    print("PASS: %d query panels, %d panels in all, provisioning consistent" % (query_panels, len(d["panels"])))


if __name__ == "__main__":
    main()
