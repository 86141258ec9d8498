// gortd_harness.h — test helpers for gortd's integration tests: run the
// real gortd binary as a child process on 127.0.0.1:0 and talk raw HTTP/1.1
// to it over loopback.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace gortd_test {

// kPatience bounds every wait for gortd to do something: far beyond what a
// healthy run needs, even on a loaded 2-core machine, so running out of it
// means a real bug.
inline constexpr std::chrono::seconds kPatience{60};

// Reply is a parsed HTTP response.
struct Reply {
  int status = 0;                             // 0: no parsable response
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                 // de-chunked when Transfer-Encoding is chunked
  bool complete = false;            // the body arrived whole: the last chunk, or Content-Length bytes, or up to the close
  std::string raw;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// parse_reply parses the first response in raw (Content-Length framed,
// chunked, or up to the end when neither).
Reply parse_reply(const std::string& raw);

// Gortd runs gortd with args (plus --addr 127.0.0.1:0 unless args has
// --addr) and env additions; the constructor waits (up to kPatience) for
// its "listening on" line(s). The destructor kills it if it is still running.
// nofile, when not 0, is gortd's RLIMIT_NOFILE (soft and hard), set in the
// child before exec. The child keeps only stdin, stdout and stderr of the
// test's descriptors, so a test holding many sockets starts a gortd with
// none of them.
class Gortd {
 public:
  explicit Gortd(std::vector<std::string> args = {}, std::vector<std::string> env = {}, unsigned long nofile = 0);
  ~Gortd();
  Gortd(const Gortd&) = delete;
  Gortd& operator=(const Gortd&) = delete;

  int port() const { return port_; }
  int debug_port() const { return debug_port_; }
  pid_t pid() const { return pid_; }
  // signal sends sig; wait_exit waits (bounded) and returns the exit status
  // (-1 on timeout, 128+N when killed by signal N).
  void signal(int sig);
  int wait_exit(std::chrono::milliseconds limit);
  // log returns what gortd wrote to stderr so far.
  std::string log() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0, debug_port_ = 0;
  std::string log_path_;
  bool reaped_ = false;
};

// connect_to opens a blocking TCP connection to 127.0.0.1:port (-1 on error).
int connect_to(int port);
// exchange sends bytes on a fresh connection and reads until the server
// closes or timeout passes; returns everything read.
std::string exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));
// read_until_close reads fd until EOF or timeout.
std::string read_until_close(int fd, std::chrono::milliseconds timeout);
// get sends "METHOD target HTTP/1.1" with Connection: close and extra header
// lines ("Name: value\r\n" each) and parses the reply.
Reply request(int port, const std::string& method, const std::string& target, const std::string& extra_headers = "");
inline Reply get(int port, const std::string& target, const std::string& extra_headers = "") {
  return request(port, "GET", target, extra_headers);
}

// promtool_check_metrics runs `promtool check metrics` on an exposition
// text; returns its exit status and sets *out to what it printed.
int promtool_check_metrics(const std::string& promtool, const std::string& exposition, std::string* out);

// raise_fd_limit raises RLIMIT_NOFILE to its hard limit.
void raise_fd_limit();
// fd_limit returns RLIMIT_NOFILE's soft limit.
unsigned long fd_limit();

// open_fds counts a process's open descriptors (/proc/PID/fd; -1 if gone);
// open_sockets only its sockets (a leaked connection is one, while files a
// profiler's symbolizer opens on first use and keeps are not).
int open_fds(pid_t pid);
int open_sockets(pid_t pid);
// rss_kb reads a process's resident set size (/proc/PID/status VmRSS; -1 if gone).
long rss_kb(pid_t pid);

// eventually polls pred every 5 ms until it holds (true) or limit passes
// (false). The integration tests wait for conditions — a log line, a
// metric, a refused connect — never for a fixed time.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = kPatience);

}  // namespace gortd_test
