// trace_check.h — how the tracer's tests judge a trace: by Go's own tools.
// check_go_trace runs shared/tools/check_go_trace.sh (Go 1.19's parser and
// every cmd/trace view) when the build found it (GORT_SHARED_TOOLS, see
// tests/CMakeLists.txt); where it is absent it falls back to the parser
// alone (`trace -d`) and prints the same one-line summary from its output,
// saying which check ran.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace trace_check {

// run captures a shell command's stdout and stderr; returns its exit status.
inline int run(const std::string& cmd, std::string* out) {
  out->clear();
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// go_tool is the path of one of Go's tools (trace, pprof), from `go env`.
inline std::string go_tool(const std::string& name) {
  std::string dir;
  run("go env GOTOOLDIR", &dir);
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) dir.pop_back();
  return dir + "/" + name;
}

inline std::string last_line(const std::string& out) {
  size_t end = out.find_last_not_of('\n');
  if (end == std::string::npos) return out;
  size_t from = out.rfind('\n', end);
  return out.substr(from == std::string::npos ? 0 : from + 1, end + 1 - (from == std::string::npos ? 0 : from + 1));
}

// check_go_trace judges the trace file at path; *ok says whether Go's tools
// accepted it. Returns the verdict line: "PASS path: N events, G goroutines,
// P Ps, C GCs, T tasks, S CPU samples; …" or "FAIL path: reason".
inline std::string check_go_trace(const std::string& path, bool* ok) {
  std::string out;
  const std::string tools = GORT_SHARED_TOOLS;
  if (!tools.empty()) {
    *ok = run(tools + "/check_go_trace.sh " + path, &out) == 0;
    return last_line(out);
  }
  const std::string d = go_tool("trace") + " -d " + path;
  if (run("{ " + d + " >/dev/null; }", &out) != 0) {
    *ok = false;
    return "FAIL " + path + ": parser: " + last_line(out);
  }
  auto count = [&](const std::string& filter) {
    std::string n;
    run(d + " 2>/dev/null | " + filter + " | wc -l", &n);
    return std::to_string(std::stol(n));
  };
  *ok = true;
  return "PASS " + path + ": " + count("cat") + " events, " + count("grep ' GoCreate '") + " goroutines, " +
         count("grep ' ProcStart ' | grep -o ' p=[0-9]*' | sort -u") + " Ps, " + count("grep ' GCStart '") + " GCs, " +
         count("grep ' UserTaskCreate '") + " tasks, " + count("grep ' CPUSample '") +
         " CPU samples; parser only (check_go_trace.sh not found)";
}

// check_trace_bytes writes a trace to path and judges it as
// check_go_trace does; the file is removed when it passes and kept for a
// look when it fails.
inline std::string check_trace_bytes(const std::string& bytes, const std::string& path, bool* ok) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::string verdict = check_go_trace(path, ok);
  if (*ok) std::remove(path.c_str());
  return verdict;
}

}  // namespace trace_check
