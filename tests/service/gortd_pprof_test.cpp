// gortd_pprof_test.cpp — /debug/pprof/* on the real gortd, every profile
// read by Go's own `go tool pprof` (-top, -raw, -traces, -tags,
// -symbolize=none, a URL fetch, and the -http UI's flame graph):
//   - CPU under /work load: the xorshift loop leads -top by flat time, and
//     the endpoint label splits samples (-tagfocus);
//   - heap after /alloc?keep=8: inuse_space under run_alloc matches the
//     kept bytes within sampling error; allocs; a seconds=N delta;
//   - goroutine: debug=1 totals, N more `chan receive` after /leak?n=N with
//     the handler's label; debug=2 read with Go's traceback grammar;
//   - /contend fills the block and mutex profiles;
//   - threadcreate, cmdline, symbol and the index page;
//   - a second CPU profile gets 409, and a client hanging up frees it.
#define BOOST_TEST_MODULE gortd_pprof_test
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gortd_harness.h"

using namespace gortd_test;

namespace {

// TempDir is a scratch directory (also pprof's HOME) removed at the end.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/gortd-pprof-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { (void)!std::system(("rm -rf '" + path + "'").c_str()); }
};

const TempDir& scratch() {
  static TempDir d;
  return d;
}

std::string save(const std::string& name, const std::string& bytes) {
  std::string file = scratch().path + "/" + name;
  std::ofstream(file, std::ios::binary) << bytes;
  return file;
}

// run returns a command's stdout (stderr goes to the test log on failure
// through the exit status check).
std::string run(const std::string& cmd, int* status = nullptr) {
  std::string full = "HOME='" + scratch().path + "' PPROF_TMPDIR='" + scratch().path + "' " + cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// pprof runs `go tool pprof ARGS FILE` and requires it to succeed.
std::string pprof(const std::string& args, const std::string& file) {
  int status = 0;
  std::string out = run(std::string(GO_PATH) + " tool pprof " + args + " '" + file + "'", &status);
  BOOST_TEST(status == 0, "go tool pprof " << args << " failed:\n" << out);
  return out;
}

// TopRow is one row of `pprof -top`.
struct TopRow {
  double flat = 0, cum = 0;
  std::string name;
};

// top_rows parses `-top -unit=...` output: rows of
// "flat flat% sum% cum cum% name" after the header line.
std::vector<TopRow> top_rows(const std::string& out) {
  std::vector<TopRow> rows;
  std::istringstream in(out);
  bool table = false;
  static const std::regex kRow(R"(^\s*([\d.]+)\w*\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)\w*\s+[\d.]+%\s+(.+)$)");
  for (std::string line; std::getline(in, line);) {
    if (line.find("flat%") != std::string::npos) {
      table = true;
      continue;
    }
    std::smatch m;
    if (table && std::regex_match(line, m, kRow)) rows.push_back({std::stod(m[1]), std::stod(m[2]), m[3]});
  }
  return rows;
}

// Load runs `threads` client threads sending `target` until stopped.
class Load {
 public:
  Load(int port, std::string target, int threads) {
    for (int i = 0; i < threads; i++)
      threads_.emplace_back([this, port, target] {
        while (!stop_.load()) get(port, target);
      });
  }
  ~Load() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};


}  // namespace

BOOST_AUTO_TEST_CASE(cpu_profile_under_work_load_names_the_xorshift_loop_and_splits_by_endpoint) {
  Gortd g;
  Reply r;
  {
    Load work(g.port(), "/work?n=2000000", 2);
    Load root(g.port(), "/", 1);
    r = get(g.port(), "/debug/pprof/profile?seconds=3");
  }
  BOOST_TEST_REQUIRE(r.status == 200);
  BOOST_TEST(r.header("content-type") == "application/octet-stream");
  BOOST_TEST(r.header("content-disposition") == "attachment; filename=\"profile\"");
  std::string file = save("cpu.pb.gz", r.body);

  std::string top = pprof("-top -symbolize=none", file);
  BOOST_TEST_MESSAGE(top.substr(0, 1500));
  BOOST_TEST(top.find("Type: cpu") != std::string::npos);
  auto rows = top_rows(top);
  BOOST_TEST_REQUIRE(!rows.empty());
  BOOST_TEST(rows[0].name.find("xorshift_rounds") != std::string::npos, "top row: " << rows[0].name);

  // The endpoint label splits the samples: /work has most of them.
  std::string tags = pprof("-tags -symbolize=none", file);
  BOOST_TEST_MESSAGE(tags);
  BOOST_TEST(tags.find("endpoint") != std::string::npos);
  BOOST_TEST(tags.find("/work") != std::string::npos);
  std::string work_only = pprof("-top -symbolize=none -tagfocus=endpoint=/work", file);
  auto work_rows = top_rows(work_only);
  BOOST_TEST_REQUIRE(!work_rows.empty());
  BOOST_TEST(work_rows[0].name.find("xorshift_rounds") != std::string::npos);
  std::string root_only = pprof("-top -symbolize=none -tagfocus=endpoint=^/$", file);
  BOOST_TEST(root_only.find("xorshift_rounds") == std::string::npos);

  // Source lines come from DWARF: -lines names workloads.cpp.
  std::string lines = pprof("-top -lines -symbolize=none", file);
  BOOST_TEST(lines.find("workloads.cpp:") != std::string::npos);
  // -traces prints whole stacks, with the handler below the loop.
  std::string traces = pprof("-traces -symbolize=none", file);
  BOOST_TEST(traces.find("handle_work") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_second_cpu_profile_gets_409_and_a_hangup_frees_the_profiler) {
  Gortd g;
  // A 30 s profile on a raw connection the test hangs up later.
  std::string req = "GET /debug/pprof/profile?seconds=30 HTTP/1.1\r\nHost: x\r\n\r\n";
  auto start_long_profile = [&] {
    int fd = connect_to(g.port());
    BOOST_TEST_REQUIRE(fd >= 0);
    BOOST_TEST_REQUIRE(::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
    return fd;
  };
  int fd = start_long_profile();
  Reply busy;
  BOOST_TEST(eventually([&] {
    busy = get(g.port(), "/debug/pprof/profile?seconds=1");
    if (busy.status == 409) return true;
    // The probe reached the profiler first, so the long profile got the
    // 409 (it has a reply to read): ask for it again.
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) {
      BOOST_TEST_MESSAGE("the probe took the profiler first; asking for the long profile again");
      ::close(fd);
      fd = start_long_profile();
    }
    return false;
  }));
  BOOST_TEST(busy.body == "Could not enable CPU profiling: cpu profiling already in use\n");
  ::close(fd);  // hang up: the 30 s profile stops within a poll slice
  Reply ok;
  BOOST_TEST(eventually([&] {
    ok = get(g.port(), "/debug/pprof/profile?seconds=1");
    return ok.status == 200;
  }, std::chrono::seconds(20)));
  pprof("-top -symbolize=none", save("cpu2.pb.gz", ok.body));
  BOOST_TEST(get(g.port(), "/debug/pprof/profile?seconds=abc").status == 400);
  BOOST_TEST(get(g.port(), "/debug/pprof/profile?seconds=0").status == 400);
}

BOOST_AUTO_TEST_CASE(heap_profile_attributes_kept_bytes_to_the_alloc_handler) {
  // A 16 KiB sampling rate gives ~500 samples over the kept 8.5 MB: the
  // estimate's relative standard error is ~4.5%; the test allows 25%.
  Gortd g({"--mem-profile-rate", "16384"});
  for (int i = 0; i < 8; i++) BOOST_TEST_REQUIRE(get(g.port(), "/alloc?kb=1024&size=1024&keep=8").status == 200);
  // 8 lists of 1024 nodes, each a 16-byte node and a 1024-byte payload.
  const double kept = 8.0 * 1024 * (16 + 1024);
  Reply r = get(g.port(), "/debug/pprof/heap?gc=1");
  BOOST_TEST_REQUIRE(r.status == 200);
  std::string file = save("heap.pb.gz", r.body);
  std::string raw = pprof("-raw -symbolize=none", file);
  BOOST_TEST(raw.find("alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes") != std::string::npos,
             raw.substr(0, 600));
  std::string top = pprof("-top -symbolize=none -sample_index=inuse_space -unit=B -focus=run_alloc", file);
  BOOST_TEST_MESSAGE(top.substr(0, 1200));
  std::regex focused(R"(Showing nodes accounting for ([\d.]+)B)");
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_search(top, m, focused));
  double inuse = std::stod(m[1]);
  BOOST_TEST(inuse > kept * 0.75, "inuse " << inuse << " vs kept " << kept);
  BOOST_TEST(inuse < kept * 1.25, "inuse " << inuse << " vs kept " << kept);
  // alloc_space counts every list ever built, kept or not: at least as much.
  std::string alloc = pprof("-top -symbolize=none -sample_index=alloc_space -unit=B -focus=run_alloc", file);
  BOOST_TEST_REQUIRE(std::regex_search(alloc, m, focused));
  BOOST_TEST(std::stod(m[1]) >= inuse);

  // allocs: the same data, alloc_space by default.
  Reply a = get(g.port(), "/debug/pprof/allocs");
  BOOST_TEST_REQUIRE(a.status == 200);
  std::string allocs_top = pprof("-top -symbolize=none", save("allocs.pb.gz", a.body));
  BOOST_TEST(allocs_top.find("Type: alloc_space") != std::string::npos, allocs_top.substr(0, 400));

  // debug=1: Go's legacy text, ending in the MemStats block.
  Reply t = get(g.port(), "/debug/pprof/heap?debug=1");
  BOOST_TEST(t.status == 200);
  BOOST_TEST(t.body.rfind("heap profile: ", 0) == 0);
  BOOST_TEST(t.body.find("\n# runtime.MemStats\n# Alloc = ") != std::string::npos);
  BOOST_TEST(t.body.find("# NumGC = ") != std::string::npos);

  // A delta over a window in which one /alloc runs and a collection
  // publishes it (the allocs profile, like Go's, is as of the last
  // collection): only that shows.
  std::thread later([&] {
    get(g.port(), "/alloc?kb=2048&size=1024");
    get(g.port(), "/gc?run=1");
  });
  Reply d = get(g.port(), "/debug/pprof/allocs?seconds=3");
  later.join();
  BOOST_TEST_REQUIRE(d.status == 200);
  BOOST_TEST(d.header("content-disposition") == "attachment; filename=\"allocs-delta\"");
  std::string delta_top = pprof("-top -symbolize=none -sample_index=alloc_space -unit=B -focus=run_alloc", save("allocs-delta.pb.gz", d.body));
  BOOST_TEST_MESSAGE(delta_top.substr(0, 600));
  // 2048 nodes of 16 + 1024 bytes, sampled at 16 KiB: within 25%.
  BOOST_TEST_REQUIRE(std::regex_search(delta_top, m, focused), delta_top);
  double delta = std::stod(m[1]);
  BOOST_TEST(delta > 2048 * 1040 * 0.75, "delta " << delta);
  BOOST_TEST(delta < 2048 * 1040 * 1.25, "delta " << delta);
  BOOST_TEST(get(g.port(), "/debug/pprof/heap?seconds=1&debug=1").body == "seconds and debug params are incompatible\n");
  BOOST_TEST(get(g.port(), "/debug/pprof/heap?seconds=x").body ==
             "invalid value for \"seconds\" - must be a positive integer\n");
  BOOST_TEST(get(g.port(), "/debug/pprof/heap?seconds=0").status == 400);
  BOOST_TEST(get(g.port(), "/debug/pprof/heap?seconds=3601").body ==
             "bad parameter seconds=3601: longer than --max-profile-duration=5m0s\n");
  BOOST_TEST(get(g.port(), "/debug/pprof/heap?gc=x").body == "bad parameter gc=\"x\": not an integer\n");
}

BOOST_AUTO_TEST_CASE(goroutine_profiles_count_leaks_and_read_as_go_dumps) {
  Gortd g;
  auto total_of_debug1 = [&](std::string* body) {
    Reply r = get(g.port(), "/debug/pprof/goroutine?debug=1");
    *body = r.body;
    std::smatch m;
    static const std::regex kTotal(R"(^goroutine profile: total (\d+)\n)");
    if (!std::regex_search(r.body, m, kTotal)) return -1;
    return std::stoi(m[1]);
  };
  std::string before_body, after_body;
  int before = total_of_debug1(&before_body);
  BOOST_TEST_REQUIRE(before > 0);
  BOOST_TEST(get(g.port(), "/leak?n=100").body == "leak started=100 blocked=100\n");
  int after = total_of_debug1(&after_body);
  BOOST_TEST(after >= before + 100);
  // The record for the leaked goroutines: count 100, the /leak label, the
  // goroutine's function in Demos::leak (the runtime's own frames at the
  // top are hidden, as Go hides runtime.* frames).
  static const std::regex kRecord(R"((?:^|\n)(\d+) @(?: 0x[0-9a-f]+)+\n((?:# labels: .*\n)?)((?:#\t.*\n)+))");
  bool found = false;
  for (auto it = std::sregex_iterator(after_body.begin(), after_body.end(), kRecord); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    if (m[3].str().find("Demos::leak") == std::string::npos) continue;
    found = true;
    BOOST_TEST(std::stoi(m[1]) == 100);
    BOOST_TEST(m[2].str() == "# labels: {\"endpoint\":\"/leak\"}\n");
    BOOST_TEST(m[3].str().find("demos.cpp:") != std::string::npos, m[3].str());
  }
  BOOST_TEST(found, after_body.substr(0, 3000));
  // The sum of the records is the total.
  int sum = 0;
  for (auto it = std::sregex_iterator(after_body.begin(), after_body.end(), kRecord); it != std::sregex_iterator(); ++it)
    sum += std::stoi((*it)[1]);
  BOOST_TEST(sum == after);

  // debug=2: Go's traceback grammar, every line.
  Reply d2 = get(g.port(), "/debug/pprof/goroutine?debug=2");
  BOOST_TEST_REQUIRE(d2.status == 200);
  static const std::regex kHeader(R"(^goroutine (\d+) \[([^\]]+)\]:$)");
  static const std::regex kFunc(R"(^(.+)\(\.\.\.\)$|^created by (.+) in goroutine \d+$)");
  static const std::regex kFile(R"(^\t(.*):(\d+)( \+0x[0-9a-f]+)?$)");
  std::istringstream in(d2.body);
  int goroutines = 0, chan_receive = 0, with_file = 0;
  enum { Header, Func, File } want = Header;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (want == Header) {
      BOOST_TEST_REQUIRE(std::regex_match(line, m, kHeader), "header: " << line);
      goroutines++;
      if (m[2].str().rfind("chan receive", 0) == 0) chan_receive++;
      want = Func;
    } else if (want == Func) {
      if (line.empty()) {
        want = Header;
        continue;
      }
      BOOST_TEST_REQUIRE(std::regex_match(line, m, kFunc), "function line: " << line);
      want = File;
    } else {
      BOOST_TEST_REQUIRE(std::regex_match(line, m, kFile), "file line: " << line);
      if (!m[1].str().empty() && std::stoi(m[2]) > 0) with_file++;
      want = Func;
    }
  }
  BOOST_TEST(goroutines >= 100);
  BOOST_TEST(chan_receive >= 100);
  BOOST_TEST(with_file > 0);
  BOOST_TEST(d2.body.find("demos.cpp:") != std::string::npos);

  // debug=0: a proto with goroutine/count samples and the label.
  Reply d0 = get(g.port(), "/debug/pprof/goroutine");
  std::string file = save("goroutine.pb.gz", d0.body);
  std::string top = pprof("-top -symbolize=none", file);
  BOOST_TEST(top.find("Type: goroutine") != std::string::npos);
  std::string tags = pprof("-tags -symbolize=none", file);
  BOOST_TEST(tags.find("/leak") != std::string::npos);

  BOOST_TEST(get(g.port(), "/leak?release=1").body == "leak released=100\n");
}

BOOST_AUTO_TEST_CASE(contend_fills_the_block_and_mutex_profiles) {
  Gortd g({"--block-profile-rate", "1", "--mutex-profile-fraction", "1"});
  BOOST_TEST_REQUIRE(get(g.port(), "/contend?g=8&n=2000").status == 200);
  for (const char* kind : {"mutex", "block"}) {
    Reply r = get(g.port(), std::string("/debug/pprof/") + kind);
    BOOST_TEST_REQUIRE(r.status == 200);
    std::string file = save(std::string(kind) + ".pb.gz", r.body);
    std::string top = pprof("-top -symbolize=none -sample_index=delay", file);
    BOOST_TEST_MESSAGE(kind << ":\n" << top.substr(0, 1200));
    BOOST_TEST(top.find("Type: delay") != std::string::npos);
    std::string traces = pprof("-traces -symbolize=none", file);
    BOOST_TEST(traces.find("Demos::contend") != std::string::npos, kind);
    // Go's legacy headers: "--- mutex:" with the sampling period, "---
    // contention:" for the block profile.
    Reply t = get(g.port(), std::string("/debug/pprof/") + kind + "?debug=1");
    std::string head = std::string(kind) == "mutex" ? "--- mutex:\ncycles/second=1000000000\nsampling period=1\n"
                                                    : "--- contention:\ncycles/second=1000000000\n";
    BOOST_TEST(t.body.rfind(head, 0) == 0, t.body.substr(0, 200));
  }
}

BOOST_AUTO_TEST_CASE(threadcreate_cmdline_symbol_index_and_url_fetch) {
  Gortd g;
  Reply tc = get(g.port(), "/debug/pprof/threadcreate?debug=1");
  BOOST_TEST(tc.body.rfind("threadcreate profile: total ", 0) == 0, tc.body.substr(0, 200));
  std::string tc_top = pprof("-top -symbolize=none", save("threadcreate.pb.gz", get(g.port(), "/debug/pprof/threadcreate").body));
  BOOST_TEST(tc_top.find("Type: threadcreate") != std::string::npos);

  Reply cmd = get(g.port(), "/debug/pprof/cmdline");
  BOOST_TEST(cmd.body.find("gortd") != std::string::npos);
  BOOST_TEST(cmd.body.find(std::string("\0--addr", 7)) != std::string::npos);

  Reply sym = get(g.port(), "/debug/pprof/symbol");
  BOOST_TEST(sym.body == "num_symbols: 1\n");
  // Symbolize a PC pprof gives us: a location address from a CPU profile.
  std::string raw = pprof("-raw -symbolize=none", save("tc2.pb.gz", get(g.port(), "/debug/pprof/threadcreate").body));
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_search(raw, m, std::regex(R"(\n\s*\d+: (0x[0-9a-f]+) )")), raw.substr(0, 800));
  std::string addr = m[1];
  Reply post = request(g.port(), "POST", "/debug/pprof/symbol",
                       "Content-Length: " + std::to_string(addr.size() + 8) + "\r\n\r\n" + addr + "+0x1+bad");
  BOOST_TEST(post.body.rfind("num_symbols: 1\n" + addr + " ", 0) == 0, post.body);

  Reply index = get(g.port(), "/debug/pprof/");
  BOOST_TEST(index.header("content-type") == "text/html; charset=utf-8");
  for (const char* name : {"allocs", "block", "cmdline", "goroutine", "heap", "mutex", "profile", "threadcreate", "trace"})
    BOOST_TEST(index.body.find(std::string("<a href='") + name + "?debug=1'>" + name + "</a>") != std::string::npos, name);
  BOOST_TEST(index.body.find("full goroutine stack dump") != std::string::npos);
  BOOST_TEST(get(g.port(), "/debug/pprof/nosuch").status == 404);

  // What a Go user types: pprof fetching from the live service.
  std::string url = "http://127.0.0.1:" + std::to_string(g.port());
  std::string fetched = pprof("-top -symbolize=none", url + "/debug/pprof/heap");
  BOOST_TEST(fetched.find("Type: inuse_space") != std::string::npos, fetched.substr(0, 400));
  std::string gfetched = pprof("-top", url + "/debug/pprof/goroutine");
  BOOST_TEST(gfetched.find("Type: goroutine") != std::string::npos, gfetched.substr(0, 400));
}

BOOST_AUTO_TEST_CASE(pprof_http_ui_serves_a_flame_graph) {
  Gortd g;
  Reply r;
  {
    Load work(g.port(), "/work?n=500000", 2);
    r = get(g.port(), "/debug/pprof/profile?seconds=2");
  }
  BOOST_TEST_REQUIRE(r.status == 200);
  std::string file = save("ui.pb.gz", r.body);
  // Pick a free port for the UI by binding port 0 and releasing it.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int ui_port = ntohs(a.sin_port);
  ::close(s);
  pid_t pid = fork();
  if (pid == 0) {
    // Its own process group: `go tool pprof` runs the pprof binary as a
    // child, and both must go when the test kills the group.
    setpgid(0, 0);
    setenv("HOME", scratch().path.c_str(), 1);
    std::string http = "-http=127.0.0.1:" + std::to_string(ui_port);
    execl(GO_PATH, "go", "tool", "pprof", "-no_browser", http.c_str(), file.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  Reply flame;
  BOOST_TEST(eventually([&] {
    flame = get(ui_port, "/ui/flamegraph");
    return flame.status == 200 && flame.complete;
  }));
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  BOOST_TEST(flame.body.find("xorshift_rounds") != std::string::npos,
             "flame graph page (" << flame.body.size() << " bytes, " << (flame.complete ? "whole" : "cut short")
                                  << "): " << flame.raw.substr(0, 300));
}
