// runtime_metrics.cpp — go_*, gort_sched_* and process_* metric sources
// (see runtime_metrics.h). Everything is read when /metrics is scraped.
#include "service/runtime_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/gort.h"

namespace gortd {

void collect_go_metrics(Families& f) {
  gort::SchedStats s = gort::sched_stats();
  f.gauge("go_goroutines", "Number of goroutines that currently exist.", static_cast<double>(s.goroutines));
  f.gauge("go_threads", "Number of OS threads created.", static_cast<double>(s.threads));
  f.gauge("go_info", "Information about the Go environment.", 1,
          {"version", std::string("gort") + kServiceVersion});
}

void collect_sched_metrics(Families& f) {
  gort::SchedStats s = gort::sched_stats();
  f.gauge("gort_sched_gomaxprocs", "Number of Ps (GOMAXPROCS).", s.gomaxprocs);
  f.gauge("gort_sched_idle_procs", "Number of Ps on the idle list.", static_cast<double>(s.idle_procs));
  f.gauge("gort_sched_spinning_threads", "Number of Ms spinning in search of work.",
          static_cast<double>(s.spinning_threads));
  f.gauge("gort_sched_idle_threads", "Number of Ms parked on the idle list.", static_cast<double>(s.idle_threads));
  f.gauge("gort_sched_global_runqueue_length", "Goroutines waiting on the global run queue.",
          static_cast<double>(s.global_runq));
  std::vector<std::pair<std::string, double>> local;
  for (size_t p = 0; p < s.local_runq.size(); p++)
    local.emplace_back(std::to_string(p), static_cast<double>(s.local_runq[p]));
  f.labelled_gauges("gort_sched_local_runqueue_length", "Goroutines waiting on each P's local run queue (with runnext).",
                    "p", local);
  f.counter("gort_sched_goroutines_created_total", "Goroutines created since start.",
            static_cast<double>(s.goroutines_created));
  f.counter("gort_sched_steals_total", "Successful work-stealing operations.", static_cast<double>(s.steals));
  f.counter("gort_sched_stolen_goroutines_total", "Goroutines moved by work stealing.",
            static_cast<double>(s.stolen_gs));
  f.counter("gort_sched_preempt_requests_total", "Preemption requests made by sysmon and stop-the-world.",
            static_cast<double>(s.preempt_requests));
  f.counter("gort_sched_preemptions_total", "Preemption requests honoured at a safepoint.",
            static_cast<double>(s.preemptions));
  f.counter("gort_sched_preempt_latency_seconds_total",
            "Total time from preemption request to the safepoint that honoured it.",
            static_cast<double>(s.preempt_latency_sum_ns) * 1e-9);
  f.gauge("gort_sched_preempt_latency_max_seconds", "Longest time from preemption request to safepoint.",
          static_cast<double>(s.preempt_latency_max_ns) * 1e-9);
  f.counter("gort_sched_handoffs_total", "Ps handed off from Ms blocked in system calls.",
            static_cast<double>(s.handoffs));
  f.counter("gort_sched_context_switches_total", "Goroutine switches performed by the scheduler.",
            static_cast<double>(s.context_switches));
  f.counter("gort_sched_stw_total", "Stop-the-world pauses.", static_cast<double>(s.stw_count));
  f.gauge("gort_sched_stw_stop_max_seconds", "Longest time taken to stop the world.",
          static_cast<double>(s.stw_max_ns) * 1e-9);
  f.counter("gort_sched_netpoll_polls_total", "Polls of the Asio netpoller.", static_cast<double>(s.netpoll_polls));

  gort::LatencyHistogram h = gort::sched_latency();
  std::vector<double> bounds(gort::kLatencyBoundsSeconds, gort::kLatencyBoundsSeconds + gort::kLatencyBuckets);
  std::vector<uint64_t> counts(h.counts, h.counts + gort::kLatencyBuckets + 1);
  f.histogram("gort_sched_latency_seconds",
              "Scheduling latency: time goroutines spent runnable before they started running.", bounds, counts,
              h.sum_seconds);
}

namespace {

// read_file returns the whole file, "" if it cannot be read.
std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// boot_time_seconds returns btime from /proc/stat (0 if unknown).
double boot_time_seconds() {
  std::istringstream in(read_file("/proc/stat"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  return 0;
}

int open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace

void collect_process_metrics(Families& f) {
  // /proc/self/stat: fields after the parenthesized command name, which may
  // itself contain spaces and parentheses.
  std::string stat = read_file("/proc/self/stat");
  size_t rparen = stat.rfind(')');
  if (rparen != std::string::npos) {
    std::istringstream in(stat.substr(rparen + 2));
    std::vector<std::string> fld;  // fld[0] is field 3 (state)
    for (std::string x; in >> x;) fld.push_back(x);
    if (fld.size() > 21) {
      const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
      double utime = std::stod(fld[11]), stime = std::stod(fld[12]);  // fields 14, 15
      double start = std::stod(fld[19]);                               // field 22
      double vsize = std::stod(fld[20]), rss = std::stod(fld[21]);     // fields 23, 24
      f.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                (utime + stime) / ticks);
      f.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", rss * page);
      f.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", vsize);
      f.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
              boot_time_seconds() + start / ticks);
    }
  }
  int fds = open_fds();
  if (fds >= 0) f.gauge("process_open_fds", "Number of open file descriptors.", fds);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    f.gauge("process_max_fds", "Maximum number of open file descriptors.", static_cast<double>(rl.rlim_cur));
  // RLIM_INFINITY reads 1.8446744073709552e+19, as client_golang reports "unlimited".
  if (getrlimit(RLIMIT_AS, &rl) == 0)
    f.gauge("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.",
            static_cast<double>(rl.rlim_cur));
}

}  // namespace gortd
