#!/usr/bin/env python3
"""run_tutorial.py — runs every command of docs/tutorial.md against a live gortd
and checks the output the tutorial says the reader will see.

The tutorial is written so that a machine can follow it (docs/tutorial.md's
opening explains the same to readers):

  * Each "## " heading is a section; ctest runs each section as its own test
    (docs_tutorial_<slug>), in a fresh directory, so a failure names the
    section that broke.
  * ```sh blocks are run, one command at a time, in one bash per section (so
    shell variables, functions and jobs carry from command to command, as in
    the reader's terminal). Other blocks (```text: what the reader sees) are
    not run. A command may span lines; it ends where bash sees a complete
    command.
  * The section's gortd start line — `build/service/gortd FLAGS 2> gortd.log &`
    — is run with `--addr 127.0.0.1:0` added; the test reads the port from
    the "gortd listening on" line in the log and replaces localhost:8080 with
    it in every later command. `kill %1` stops it, as in a terminal.
  * Comment lines after a command say what to check:
      # expect: REGEX      the command's output (stdout and stderr) matches
                           REGEX (Python re, multiline); the command must exit 0
      # eventually: REGEX  the same, re-running the command until it matches
                           (for reads of state that settles, e.g. /metrics)
      # headless: CMD      CMD is what the test runs instead: the shown command
                           opens a browser (go tool pprof -http, go tool trace)
  * build/service/gortd and scripts/ in the section's directory are links to
    the gortd under test and the repository's scripts.

Usage: run_tutorial.py --tutorial FILE --list
       run_tutorial.py --tutorial FILE --gortd PATH --scripts DIR [--section SLUG]...
                       [--work-root DIR] [--keep]
"""

import argparse
import glob
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

COMMAND_TIMEOUT_S = 300     # the longest command (a profile under load) takes ~20 s
EVENTUALLY_TIMEOUT_S = 60   # state that settles (goroutines exiting) settles in well under this
START_TIMEOUT_S = 30        # gortd prints its listening line within milliseconds
OUTPUT_LINES_SHOWN = 40     # per command, in the test log

GORTD_START = re.compile(r"^(?:\w+=\S*\s+)*build/service/gortd\b.*&\s*$")
# Commands that serve a web UI and open a browser: they never end by themselves.
OPENS_BROWSER = re.compile(r"go tool pprof\b.*\s-http|go tool trace\s(?!.*\s-(d|pprof)\b)")
CHECK = re.compile(r"^#\s*(expect|eventually|headless):\s?(.*)$")


class Command:
    def __init__(self, text, line):
        self.text, self.line = text, line
        self.expect, self.eventually, self.headless = [], [], None


class Section:
    def __init__(self, title, line):
        self.title, self.line = title, line
        self.slug = slugify(title)
        self.commands = []


def slugify(title):
    title = re.sub(r"^\d+\.\s*(an?\s+|the\s+)?", "", title, flags=re.I)
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def complete(text):
    """complete reports whether text is a whole bash command (bash -n accepts it)."""
    return subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True).returncode == 0


def parse(path):
    """parse returns the tutorial's sections with their commands and checks."""
    sections, section, in_sh, fence, pending = [], None, False, None, None
    with open(path) as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        if fence is None:
            m = re.match(r"^(```+|~~~+)\s*(\S*)", line)
            if m:
                fence, in_sh = m.group(1), m.group(2) == "sh"
                continue
            if line.startswith("## "):
                section = Section(line[3:].strip(), n)
                sections.append(section)
            continue
        if line.startswith(fence) and line.strip() == fence:
            if pending is not None:
                sys.exit(f"{path}:{pending.line}: command not complete at the end of its block")
            fence, in_sh = None, False
            continue
        if not in_sh:
            continue
        if section is None:
            sys.exit(f"{path}:{n}: sh block before the first ## section")
        check = CHECK.match(line.strip())
        if check and pending is None:
            if not section.commands:
                sys.exit(f"{path}:{n}: '# {check.group(1)}:' before any command")
            cmd, kind, arg = section.commands[-1], check.group(1), check.group(2)
            if kind == "headless":
                cmd.headless = arg
            else:
                getattr(cmd, kind).append(arg)
            continue
        if pending is None:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            pending = Command(line, n)
        else:
            pending.text += "\n" + line
        if complete(pending.text):
            section.commands.append(pending)
            pending = None
    sections = [s for s in sections if s.commands]
    for s in sections:
        for c in s.commands:
            if OPENS_BROWSER.search(c.text) and not c.headless:
                sys.exit(f"{path}:{c.line}: `{c.text}` opens a browser: add a '# headless: CMD' line")
    slugs = [s.slug for s in sections]
    for slug in set(slugs):
        if slugs.count(slug) > 1:
            sys.exit(f"{path}: two sections are named {slug}")
    return sections


class Shell:
    """Shell is one bash in its own process group, run command by command."""

    def __init__(self, cwd, env):
        self.cwd = cwd
        self.proc = subprocess.Popen(["bash", "--norc", "--noprofile"], cwd=cwd, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.count = 0

    def run(self, text, timeout=COMMAND_TIMEOUT_S):
        """run returns (exit status, output) of text, or raises TimeoutError."""
        self.count += 1
        out = os.path.join(self.cwd, f".out-{self.count}")
        marker = f"__tutorial_done_{self.count}__"
        self.proc.stdin.write(f"{{ {text}\n}} </dev/null >{out} 2>&1; echo \"{marker} $?\"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        buf = ""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no end after {timeout} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                continue
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the shell exited")
            buf += line
            m = re.search(re.escape(marker) + r" (\d+)", buf)
            if m:
                with open(out, errors="replace") as f:
                    return int(m.group(1)), f.read()

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # gortd and wrk run in the shell's group; make sure none outlives it.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def show(output):
    lines = output.rstrip("\n").split("\n")
    if len(lines) > OUTPUT_LINES_SHOWN:
        lines = lines[:OUTPUT_LINES_SHOWN] + [f"... ({len(lines) - OUTPUT_LINES_SHOWN} more lines)"]
    for l in lines:
        print("    " + l)


def start_gortd(shell, cmd, text):
    """start_gortd runs a gortd start line on a free port and returns its address."""
    log = re.search(r"2>\s*(\S+)", text)
    if not log:
        raise AssertionError("the gortd start line must send stderr to a file (2> gortd.log)")
    text = re.sub(r"build/service/gortd\b", "build/service/gortd --addr 127.0.0.1:0", text, count=1)
    status, output = shell.run(text)
    if status != 0:
        raise AssertionError(f"starting gortd failed (exit {status})")
    log_path = os.path.join(shell.cwd, log.group(1))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with open(log_path, errors="replace") as f:
                m = re.search(r"gortd listening on (\S+)", f.read())
            if m:
                return m.group(1)
        except FileNotFoundError:
            pass
        status, jobs = shell.run("jobs -r")
        if "gortd" not in jobs:
            with open(log_path, errors="replace") as f:
                raise AssertionError("gortd exited before listening:\n" + f.read())
        time.sleep(0.05)
    raise AssertionError(f"gortd did not print its listening line within {START_TIMEOUT_S} s")


def check(cmd, shell, text):
    """check runs one command and raises AssertionError when its output is not what the tutorial says."""
    deadline = time.monotonic() + EVENTUALLY_TIMEOUT_S
    while True:
        status, output = shell.run(text)
        missing = [r for r in cmd.expect + cmd.eventually if not re.search(r, output, re.M)]
        if status == 0 and not missing:
            show(output)
            return
        if not cmd.eventually or time.monotonic() > deadline:
            show(output)
            if status != 0:
                raise AssertionError(f"exit status {status}")
            raise AssertionError("output does not match: " + ", ".join(repr(r) for r in missing))
        time.sleep(0.2)


def run_section(section, args):
    if args.work_root:  # a failed run's directory stays until the section runs again
        for old in glob.glob(os.path.join(args.work_root, f"tutorial-{section.slug}-*")):
            shutil.rmtree(old, ignore_errors=True)
    workdir = tempfile.mkdtemp(prefix=f"tutorial-{section.slug}-", dir=args.work_root)
    os.makedirs(os.path.join(workdir, "build", "service"))
    os.symlink(os.path.abspath(args.gortd), os.path.join(workdir, "build", "service", "gortd"))
    os.symlink(os.path.abspath(args.scripts), os.path.join(workdir, "scripts"))
    # curl shows its progress meter when its output is not a terminal; the
    # reader's curl writes to one, so the test's shows none either.
    with open(os.path.join(workdir, ".curlrc"), "w") as f:
        f.write("no-progress-meter\n")
    env = dict(os.environ, PPROF_TMPDIR=workdir, BROWSER="true", CURL_HOME=workdir)
    shell = Shell(workdir, env)
    addr = None
    ok = True
    try:
        for cmd in section.commands:
            text = cmd.headless if cmd.headless else cmd.text
            print(f"$ {cmd.text}" + (f"\n  (headless: {cmd.headless})" if cmd.headless else ""), flush=True)
            if GORTD_START.match(cmd.text):
                addr = start_gortd(shell, cmd, text)
                print(f"    (gortd on {addr})")
                continue
            if addr:
                text = text.replace("localhost:8080", addr)
            check(cmd, shell, text)
    except (AssertionError, TimeoutError, RuntimeError) as e:
        print(f"FAIL {section.slug} (docs/tutorial.md:{cmd.line}, `{cmd.text.splitlines()[0]}`): {e}", flush=True)
        gortd_log = os.path.join(workdir, "gortd.log")
        if os.path.exists(gortd_log):
            print("gortd.log (last lines):")
            with open(gortd_log, errors="replace") as f:
                show("\n".join(f.read().split("\n")[-15:]))
        ok = False
    finally:
        shell.close()
    if ok:
        print(f"PASS {section.slug}: {len(section.commands)} commands")
    if ok and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    elif not ok:
        print(f"(files kept in {workdir})")
    return ok


def main():
    ap = argparse.ArgumentParser(description="Run docs/tutorial.md's commands against a live gortd.")
    ap.add_argument("--tutorial", required=True)
    ap.add_argument("--list", action="store_true", help="print the section slugs, as a CMake list (a;b;c)")
    ap.add_argument("--gortd")
    ap.add_argument("--scripts")
    ap.add_argument("--section", action="append", help="run only this section (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep each section's directory")
    ap.add_argument("--work-root", help="where the sections' directories go (default: $TMPDIR); failed ones stay")
    args = ap.parse_args()
    sections = parse(args.tutorial)
    if args.list:
        print(";".join(s.slug for s in sections))
        return 0
    if not args.gortd or not args.scripts:
        ap.error("--gortd and --scripts are needed to run sections")
    if args.section:
        unknown = set(args.section) - {s.slug for s in sections}
        if unknown:
            ap.error(f"no such section: {', '.join(sorted(unknown))}")
        sections = [s for s in sections if s.slug in args.section]
    results = [(s.slug, run_section(s, args)) for s in sections]
    if len(results) > 1:
        print("\n".join(f"{'PASS' if ok else 'FAIL'} {slug}" for slug, ok in results))
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
