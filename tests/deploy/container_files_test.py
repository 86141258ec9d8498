#!/usr/bin/env python3
# container_files_test.py — no container engine runs on the build machines
# (and no base image can be pulled), so deploy/Dockerfile, /.dockerignore
# and deploy/compose.yaml are checked as far as the tools here allow:
#   - both stages are debian:bookworm; every package they install exists in
#     Debian (apt-cache show); the build stage has every -dev package of
#     scripts/setup.sh that gortd builds with;
#   - the runtime stage installs exactly the packages that own the shared
#     libraries `ldd gortd` lists (dpkg -S), plus curl for the health check;
#   - COPY sources exist and .dockerignore lets them in; the build stage's
#     cmake configure succeeds on exactly what COPY brings in; the binary
#     copied from the build stage is where that stage's cmake puts it;
#   - a non-root USER, EXPOSE 8080, a HEALTHCHECK, ENTRYPOINT gortd --addr
#     0.0.0.0:8080;
#   - compose.yaml parses, every file it mounts or builds from exists, and
#     the services point at each other consistently (Prometheus's config and
#     rules, its scrape target, Grafana's datasource and dashboards).
# Exit 77 (ctest: skipped) when apt has no package lists to look names up in.
#
# usage: container_files_test.py REPO_ROOT GORTD_BINARY
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import urlparse

import yaml

# SETUP_DEV_NOT_IN_IMAGE: -dev packages of scripts/setup.sh that gortd does
# not build with (tests, benchmarks, sanitizers, reference sources).
SETUP_DEV_NOT_IN_IMAGE = {
    "libboost-test1.81-dev": "Boost.Test: the test suites",
    "libbenchmark-dev": "Google Benchmark: bench/",
    "libclang-rt-14-dev": "sanitizer and fuzzer runtimes",
    "golang-github-prometheus-client-golang-dev": "client_golang's Go sources, a reference",
}
# RUNTIME_TOOLS: runtime-stage packages that are not libraries gortd links.
RUNTIME_TOOLS = {"curl": "the HEALTHCHECK"}
SKIP = 77

errors = []


def err(msg):
    errors.append(msg)


def dockerfile_stages(path):
    """dockerfile_stages returns [(from_line, name, [(INSTRUCTION, args)])],
    continuation lines joined and comments dropped."""
    lines, cur = [], ""
    with open(path) as f:
        for raw in f:
            s = raw.rstrip("\n")
            if not cur and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if s.lstrip().startswith("#"):
                continue  # a comment inside a continued instruction
            if s.endswith("\\"):
                cur += s[:-1] + " "
                continue
            lines.append(cur + s)
            cur = ""
    stages = []
    for line in lines:
        instr, _, args = line.strip().partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            stages.append((m.group(1), m.group(2), []))
        elif stages:
            stages[-1][2].append((instr, args.strip()))
    return stages


def apt_installs(instrs):
    pkgs = []
    for instr, args in instrs:
        if instr != "RUN":
            continue
        for cmd in re.split(r"&&|;", args):
            words = shlex.split(cmd)
            if "apt-get" in words and "install" in words:
                pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


def apt_known(pkgs):
    """apt_known returns the names among pkgs that apt's lists have (one
    apt-cache call: each takes seconds)."""
    r = subprocess.run(["apt-cache", "show", "--no-all-versions", *pkgs], capture_output=True, text=True)
    return set(re.findall(r"^Package: (\S+)", r.stdout, re.M))


def ldd_packages(binary):
    """ldd_packages maps each shared library binary loads to its package
    (dpkg -S on the library and on the file it resolves to, /lib being a
    link to /usr/lib)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = re.findall(r"=>\s+(\S+)", out)
    paths = sorted(set(libs) | {os.path.realpath(l) for l in libs})
    r = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True)
    owner = {}
    for line in r.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        owner[path.strip()] = pkg.split(":")[0]
    pkgs = {}
    for lib in libs:
        pkg = owner.get(os.path.realpath(lib)) or owner.get(lib)
        if pkg:
            pkgs[pkg] = lib
        else:
            err("ldd: %s belongs to no Debian package (built by hand?)" % lib)
    return pkgs


def dockerignore_allows(patterns, path):
    """dockerignore_allows applies .dockerignore's rules, last match wins."""
    allowed = True
    top = path.strip("/").split("/")[0]
    for p in patterns:
        neg = p.startswith("!")
        pat = p[1:] if neg else p
        pat = pat.strip("/")
        if fnmatch.fnmatch(path.strip("/"), pat) or fnmatch.fnmatch(top, pat):
            allowed = neg
    return allowed


def check_dockerfile(root, gortd):
    stages = dockerfile_stages(os.path.join(root, "deploy/Dockerfile"))
    if len(stages) != 2:
        err("Dockerfile: want 2 stages (build, runtime), found %d" % len(stages))
        return None
    (bfrom, bname, build), (rfrom, _, run) = stages
    for f in (bfrom, rfrom):
        if f != "debian:bookworm":
            err("Dockerfile: FROM %s, want debian:bookworm" % f)

    build_pkgs, run_pkgs = apt_installs(build), apt_installs(run)
    known = apt_known(sorted(set(build_pkgs + run_pkgs)))
    for p in sorted(set(build_pkgs + run_pkgs) - known):
        err("Dockerfile: package %s is not in Debian's lists" % p)
    with open(os.path.join(root, "scripts/setup.sh")) as f:
        setup = re.search(r"packages=\((.*?)\)", f.read(), re.S).group(1)
    setup_pkgs = re.sub(r"#.*", "", setup).split()
    for p in setup_pkgs:
        if p.endswith("-dev") and p not in SETUP_DEV_NOT_IN_IMAGE and p not in build_pkgs:
            err("Dockerfile build stage lacks %s from scripts/setup.sh (or list it in SETUP_DEV_NOT_IN_IMAGE)" % p)
    for p in ("g++", "cmake", "make", "pkg-config"):
        if p not in build_pkgs:
            err("Dockerfile build stage lacks %s" % p)
    runs = " ".join(a for i, a in build if i == "RUN")
    if "-DCMAKE_BUILD_TYPE=Release" not in runs or "--target gortd" not in runs:
        err("Dockerfile build stage: want a Release cmake build of --target gortd")

    needed = ldd_packages(gortd)
    for p, lib in sorted(needed.items()):
        if p not in run_pkgs:
            err("Dockerfile runtime stage lacks %s (gortd links %s)" % (p, lib))
    for p in run_pkgs:
        if p not in needed and p not in RUNTIME_TOOLS:
            err("Dockerfile runtime stage installs %s, which gortd does not link" % p)
        if p.endswith("-dev") or p in ("g++", "cmake", "make"):
            err("Dockerfile runtime stage installs build tool %s" % p)

    with open(os.path.join(root, ".dockerignore")) as f:
        ignore = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    workdir = "/"
    context = tempfile.mkdtemp(prefix="gort-docker-context-")  # the build stage's WORKDIR, as COPY fills it
    for instr, args in build:
        if instr == "WORKDIR":
            workdir = args
        if instr == "COPY" and "--from" not in args:
            *srcs, dst = shlex.split(args)
            for s in srcs:
                if not os.path.exists(os.path.join(root, s)):
                    err("Dockerfile: COPY source %s does not exist" % s)
                elif not dockerignore_allows(ignore, s):
                    err("Dockerfile: COPY source %s is excluded by .dockerignore" % s)
                elif os.path.isdir(os.path.join(root, s)):
                    shutil.copytree(os.path.join(root, s), os.path.join(context, dst))
                else:
                    shutil.copy(os.path.join(root, s), os.path.join(context, dst))
    # The build stage's cmake configure must succeed on what COPY brought in.
    configure = next((c.strip() for i, a in build if i == "RUN" for c in a.split("&&")
                      if c.strip().startswith("cmake -S")), None)
    if not configure:
        err("Dockerfile build stage: no `cmake -S ...` configure step")
    else:
        r = subprocess.run(shlex.split(configure), cwd=context, capture_output=True, text=True)
        if r.returncode != 0:
            err("Dockerfile build stage: `%s` fails on the COPY set: %s" % (configure, (r.stderr or r.stdout)[-800:]))
    shutil.rmtree(context, ignore_errors=True)
    build_dir = re.search(r"-B\s+(\S+)", runs).group(1)
    want_bin = os.path.join(workdir, build_dir, "service/gortd")
    if not gortd.endswith("/service/gortd"):
        err("gortd binary %s is not at service/gortd of its build tree" % gortd)
    copies = [a for i, a in run if i == "COPY"]
    if not any(a.startswith("--from=%s " % bname) and shlex.split(a)[1] == want_bin for a in copies):
        err("Dockerfile runtime stage: want COPY --from=%s %s, found %r" % (bname, want_bin, copies))

    def last(instr):
        vals = [a for i, a in run if i == instr]
        return vals[-1] if vals else None
    user = last("USER")
    if not user or user in ("root", "0"):
        err("Dockerfile: the runtime stage must run as a non-root USER (found %r)" % user)
    elif "useradd" not in " ".join(a for i, a in run if i == "RUN") or user not in " ".join(a for i, a in run):
        err("Dockerfile: USER %s is never created" % user)
    if last("EXPOSE") != "8080":
        err("Dockerfile: want EXPOSE 8080, found %r" % last("EXPOSE"))
    hc = last("HEALTHCHECK") or ""
    if " CMD " not in " " + hc or "curl" not in hc or "8080" not in hc:
        err("Dockerfile: want a HEALTHCHECK ... CMD curl ... :8080, found %r" % hc)
    try:
        ep = json.loads(last("ENTRYPOINT") or "")
    except ValueError:
        ep = None
    if not ep or not ep[0].endswith("/gortd") or ep[1:] != ["--addr", "0.0.0.0:8080"]:
        err("Dockerfile: want ENTRYPOINT [\".../gortd\", \"--addr\", \"0.0.0.0:8080\"] (exec form), found %r" % ep)
    return want_bin


def check_compose(root):
    deploy = os.path.join(root, "deploy")
    with open(os.path.join(deploy, "compose.yaml")) as f:
        c = yaml.safe_load(f)
    svcs = c.get("services", {})
    for s in ("gortd", "prometheus", "grafana"):
        if s not in svcs:
            err("compose.yaml: no service %s" % s)
            return
    b = svcs["gortd"].get("build", {})
    ctx = os.path.normpath(os.path.join(deploy, b.get("context", ".")))
    if ctx != os.path.normpath(root):
        err("compose.yaml: gortd build context %s is not the repository root" % b.get("context"))
    if not os.path.isfile(os.path.join(ctx, b.get("dockerfile", "Dockerfile"))):
        err("compose.yaml: gortd dockerfile %s does not exist" % b.get("dockerfile"))
    if "8080" not in [str(p).split(":")[-1] for p in svcs["gortd"].get("ports", [])]:
        err("compose.yaml: gortd does not publish container port 8080")

    mounts = {}  # (service, container path) -> host path
    for name, s in svcs.items():
        for v in s.get("volumes", []):
            parts = v.split(":")
            src, dst = parts[0], parts[1]
            if src.startswith((".", "/")):
                host = os.path.normpath(os.path.join(deploy, src))
                if not os.path.exists(host):
                    err("compose.yaml: %s mounts %s, which does not exist" % (name, src))
                mounts[(name, dst)] = host
            elif src not in (c.get("volumes") or {}):
                err("compose.yaml: %s uses volume %s, not declared" % (name, src))

    def host_of(service, path):
        """host_of maps a container path to the host file a mount puts there."""
        for (svc, dst), host in mounts.items():
            if svc == service and (path == dst or path.startswith(dst.rstrip("/") + "/")):
                return os.path.join(host, os.path.relpath(path, dst)) if path != dst else host
        return None

    cmd = svcs["prometheus"].get("command", [])
    cfg_path = next((a.split("=", 1)[1] for a in cmd if a.startswith("--config.file=")), None)
    cfg_host = host_of("prometheus", cfg_path or "")
    if not cfg_host or not os.path.isfile(cfg_host):
        err("compose.yaml: Prometheus's --config.file %s is not a mounted file" % cfg_path)
        return
    with open(cfg_host) as f:
        pcfg = yaml.safe_load(f)
    for rf in pcfg.get("rule_files", []):
        inside = os.path.join(os.path.dirname(cfg_path), rf)
        h = host_of("prometheus", inside)
        if not h or not os.path.isfile(h):
            err("compose.yaml: Prometheus rule file %s (%s) is not mounted" % (rf, inside))
    for sc in pcfg.get("scrape_configs", []):
        for sc_ in sc.get("static_configs", []):
            for t in sc_.get("targets", []):
                host, _, port = t.partition(":")
                if host not in svcs:
                    err("%s: scrape target %s is not a compose service" % (os.path.basename(cfg_host), t))
                elif host == "gortd" and port != "8080":
                    err("%s: gortd listens on 8080, the target says %s" % (os.path.basename(cfg_host), t))

    prov = host_of("grafana", "/etc/grafana/provisioning")
    if not prov:
        err("compose.yaml: Grafana's /etc/grafana/provisioning is not mounted")
        return
    with open(os.path.join(prov, "datasources/prometheus.yml")) as f:
        for ds in yaml.safe_load(f)["datasources"]:
            u = urlparse(ds["url"])
            if u.hostname not in svcs or u.port != 9090:
                err("Grafana datasource %s: %s is not the prometheus service's :9090" % (ds["name"], ds["url"]))
    with open(os.path.join(prov, "dashboards/gortd.yml")) as f:
        for p in yaml.safe_load(f)["providers"]:
            h = host_of("grafana", p["options"]["path"])
            if not h or not os.path.isfile(os.path.join(h, "gortd.json")):
                err("Grafana dashboard provider %s: %s holds no mounted gortd.json" % (p["name"], p["options"]["path"]))
    home = svcs["grafana"].get("environment", {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home and not (host_of("grafana", home) and os.path.isfile(host_of("grafana", home))):
        err("compose.yaml: Grafana's home dashboard %s is not a mounted file" % home)


def main():
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        print("usage: container_files_test.py REPO_ROOT GORTD_BINARY")
        sys.exit(0 if len(sys.argv) == 2 else 2)
    root, gortd = os.path.abspath(sys.argv[1]), sys.argv[2]
    if "libc6" not in apt_known(["libc6"]):
        print("SKIP: apt has no package lists (run apt-get update) to look package names up in")
        sys.exit(SKIP)
    check_dockerfile(root, gortd)
    check_compose(root)
    for e in errors:
        print("FAIL " + e)
    if errors:
        sys.exit(1)
    print("PASS: Dockerfile stages, packages, COPY sources, user, port, health check; compose.yaml mounts and wiring")


if __name__ == "__main__":
    main()
