// gortd_harness.cpp — child-process and raw-HTTP helpers (see
// gortd_harness.h).
#include "gortd_harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef GORTD_PATH
#error "GORTD_PATH must name the gortd binary"
#endif

namespace gortd_test {

using namespace std::chrono;

Reply parse_reply(const std::string& raw) {
  Reply r;
  r.raw = raw;
  size_t eoh = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || eoh == std::string::npos) return r;
  r.status = std::atoi(raw.c_str() + 9);
  size_t pos = raw.find("\r\n") + 2;
  while (pos < eoh) {
    size_t eol = raw.find("\r\n", pos);
    std::string line = raw.substr(pos, eol - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon), value = line.substr(colon + 1);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      value.erase(0, value.find_first_not_of(' '));
      r.headers[name] = value;
    }
    pos = eol + 2;
  }
  std::string rest = raw.substr(eoh + 4);
  auto te = r.headers.find("transfer-encoding");
  if (te != r.headers.end() && te->second == "chunked") {
    // Chunks up to the last one (size 0); a body cut short keeps what came.
    size_t at = 0;
    for (;;) {
      size_t eol = rest.find("\r\n", at);
      if (eol == std::string::npos) break;
      size_t n = std::stoul(rest.substr(at, eol - at), nullptr, 16);
      if (n == 0) {
        r.complete = true;
        break;
      }
      r.body.append(rest, eol + 2, n);
      at = eol + 2 + n + 2;
      if (at > rest.size()) break;
    }
    return r;
  }
  auto cl = r.headers.find("content-length");
  if (cl == r.headers.end()) {
    r.body = rest;
    r.complete = true;
    return r;
  }
  size_t n = std::stoul(cl->second);
  r.body = rest.substr(0, n);
  r.complete = rest.size() >= n;
  return r;
}

Gortd::Gortd(std::vector<std::string> args, std::vector<std::string> env, unsigned long nofile) {
  bool has_addr = std::any_of(args.begin(), args.end(), [](const std::string& a) { return a.rfind("--addr", 0) == 0; });
  bool has_debug = std::any_of(args.begin(), args.end(), [](const std::string& a) { return a.rfind("--debug-addr", 0) == 0; });
  if (!has_addr) {
    args.insert(args.begin(), "127.0.0.1:0");
    args.insert(args.begin(), "--addr");
  }
  char tmpl[] = "/tmp/gortd_test_log_XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  log_path_ = tmpl;
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fd, 2);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    close_range(3, ~0U, 0);
    if (nofile != 0) {
      rlimit rl{nofile, nofile};
      if (setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(126);
    }
    for (const std::string& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(GORTD_PATH));
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(GORTD_PATH, argv.data());
    _exit(127);
  }
  close(fd);
  static const std::regex main_re(R"(gortd listening on [0-9.]+:(\d+))"), debug_re(R"(gortd debug listening on [0-9.]+:(\d+))");
  auto deadline = steady_clock::now() + kPatience;
  while (steady_clock::now() < deadline) {
    std::string text = log();
    std::smatch m;
    if (std::regex_search(text, m, main_re)) port_ = std::stoi(m[1]);
    if (std::regex_search(text, m, debug_re)) debug_port_ = std::stoi(m[1]);
    if (port_ && (!has_debug || debug_port_)) return;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      throw std::runtime_error("gortd exited during start-up: " + text);
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  throw std::runtime_error("gortd did not report its listening address: " + log());
}

Gortd::~Gortd() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(log_path_.c_str());
}

void Gortd::signal(int sig) { kill(pid_, sig); }

int Gortd::wait_exit(milliseconds limit) {
  auto deadline = steady_clock::now() + limit;
  while (steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return -1;
}

std::string Gortd::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::string read_until_close(int fd, milliseconds timeout) {
  std::string out;
  auto deadline = steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string exchange(int port, const std::string& bytes, milliseconds timeout) {
  int fd = connect_to(port);
  if (fd < 0) return "";
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string out = read_until_close(fd, timeout);
  close(fd);
  return out;
}

Reply request(int port, const std::string& method, const std::string& target, const std::string& extra_headers) {
  return parse_reply(exchange(port, method + " " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" +
                                         extra_headers + "\r\n"));
}

bool eventually(const std::function<bool()>& pred, milliseconds limit) {
  auto deadline = steady_clock::now() + limit;
  for (;;) {
    if (pred()) return true;
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

int promtool_check_metrics(const std::string& promtool, const std::string& exposition, std::string* out) {
  char path[] = "/tmp/gortd_metrics_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  bool written = write(fd, exposition.data(), exposition.size()) == static_cast<ssize_t>(exposition.size());
  close(fd);
  out->clear();
  int status = -1;
  if (written) {
    FILE* p = popen((promtool + " check metrics < " + path + " 2>&1").c_str(), "r");
    if (p != nullptr) {
      char buf[4096];
      while (size_t n = fread(buf, 1, sizeof buf, p)) out->append(buf, n);
      status = pclose(p);
    }
  }
  unlink(path);
  return status;
}

void raise_fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

unsigned long fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

namespace {
// count_fds counts the entries of /proc/PID/fd whose link starts with
// prefix ("" for all); -1 if the process is gone.
int count_fds(pid_t pid, const std::string& prefix) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char link[256];
    ssize_t len = readlink((dir + "/" + e->d_name).c_str(), link, sizeof link - 1);
    if (len >= 0 && std::string(link, static_cast<size_t>(len)).rfind(prefix, 0) == 0) n++;
  }
  closedir(d);
  return n;
}
}  // namespace

int open_fds(pid_t pid) { return count_fds(pid, ""); }
int open_sockets(pid_t pid) { return count_fds(pid, "socket:"); }

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace gortd_test
