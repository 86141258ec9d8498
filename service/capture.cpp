// capture.cpp — scheduled profiles and slow-request snapshots (capture.h).
#include "service/capture.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <vector>

#include "profilers/cpu_profiler.h"
#include "profilers/flight_recorder.h"
#include "profilers/goroutine_profile.h"
#include "profilers/heap_profile.h"
#include "profilers/profile.h"
#include "runtime/chan.h"
#include "runtime/gort.h"

namespace gortd {

namespace {

// A scheduled CPU profile lasts this long, or half the period if shorter.
constexpr int64_t kCpuProfileNs = 5'000'000'000;

std::string timestamp_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

bool mkdir_p(const std::string& dir, std::string* why) {
  std::string at;
  for (size_t i = 0; i <= dir.size(); i++) {
    if (i == dir.size() || (dir[i] == '/' && i > 0)) {
      at = dir.substr(0, i);
      if (::mkdir(at.c_str(), 0755) != 0 && errno != EEXIST) {
        *why = "cannot create " + at + ": " + std::strerror(errno);
        return false;
      }
    }
  }
  return true;
}

}  // namespace

bool ProfileDir::open(const std::string& dir, int64_t keep, std::unique_ptr<ProfileDir>* out, std::string* why) {
  if (!mkdir_p(dir, why)) return false;
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    *why = "cannot write to " + dir + ": " + std::strerror(errno);
    return false;
  }
  out->reset(new ProfileDir(dir, keep));
  return true;
}

std::string ProfileDir::save(const std::string& kind, const std::string& ext, const std::string& bytes,
                             std::string* why) {
  std::string base = dir_ + "/" + kind + "-" + timestamp_now();
  std::string path = base + ext;
  for (int n = 1; ::access(path.c_str(), F_OK) == 0; n++) path = base + "-" + std::to_string(n) + ext;
  std::string tmp = dir_ + "/." + kind + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    if (!f) {
      *why = "cannot write " + tmp + ": " + std::strerror(errno);
      ::unlink(tmp.c_str());
      return {};
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *why = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return {};
  }
  rotate(kind, ext);
  return path;
}

// rotate removes the oldest files of a kind beyond keep_. Names sort by
// time: KIND-YYYYmmdd-HHMMSS[-N].EXT.
void ProfileDir::rotate(const std::string& kind, const std::string& ext) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir_.c_str())) {
    const std::string prefix = kind + "-";
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind(prefix, 0) == 0 && n.size() > ext.size() && n.compare(n.size() - ext.size(), ext.size(), ext) == 0 &&
          n.size() >= prefix.size() + 15 && std::isdigit(static_cast<unsigned char>(n[prefix.size()])))
        names.push_back(n);
    }
    ::closedir(d);
  }
  // Same-second files (-N) sort after their first one by length, then name.
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() && a.compare(0, std::min(a.size(), b.size()), b, 0, std::min(a.size(), b.size())) == 0
               ? a.size() < b.size()
               : a < b;
  });
  for (size_t i = 0; i + static_cast<size_t>(keep_) < names.size(); i++) ::unlink((dir_ + "/" + names[i]).c_str());
}

void start_scheduled_capture(ProfileDir& dir, int64_t every_ns, const std::atomic<bool>& stopping) {
  gort::go([&dir, every_ns, &stopping] {
    auto report = [](const std::string& kind, const std::string& path, const std::string& why) {
      if (path.empty()) std::fprintf(stderr, "gortd: scheduled %s profile: %s\n", kind.c_str(), why.c_str());
    };
    const int64_t cpu_ns = std::min(kCpuProfileNs, every_ns / 2);
    int64_t next = gort::nanotime();
    while (!stopping.load()) {
      std::string why, path;
      // CPU: skipped when someone else is profiling (one CPU profile at a time).
      if (auto prof = profilers::CpuProfiler::start(profilers::CpuProfiler::kDefaultHz, &why)) {
        const int64_t end = gort::nanotime() + cpu_ns;
        while (!stopping.load() && gort::nanotime() < end) {
          gort::sleep_for(std::chrono::milliseconds(100));
          prof->drain();
        }
        path = dir.save("cpu", ".pb.gz", profilers::encode_pprof(prof->stop()), &why);
        report("cpu", path, why);
      } else {
        std::fprintf(stderr, "gortd: scheduled cpu profile skipped: %s\n", why.c_str());
      }
      path = dir.save("heap", ".pb.gz", profilers::encode_pprof(profilers::heap_profile(false)), &why);
      report("heap", path, why);
      path = dir.save("goroutine", ".pb.gz", profilers::encode_pprof(profilers::goroutine_profile()), &why);
      report("goroutine", path, why);
      next += every_ns;
      while (!stopping.load() && gort::nanotime() < next) {
        int64_t left = next - gort::nanotime();
        gort::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(left, 250'000'000)));
      }
    }
  });
}

// Pending carries snapshot requests from requests to the snapshot goroutine.
struct SlowRequestSnapshots::Pending {
  gort::Chan<std::string> requests{1};  // the slow request's description; closed at the end
};

SlowRequestSnapshots::SlowRequestSnapshots(ProfileDir& dir, profilers::FlightRecorder& recorder, int64_t threshold_ns,
                                           int64_t window_ns)
    : dir_(dir), recorder_(recorder), threshold_ns_(threshold_ns), window_ns_(window_ns),
      pending_(std::make_shared<Pending>()) {
  gort::go([this, p = pending_] {
    for (;;) {
      std::optional<std::string> what = p->requests.recv_ok();
      if (!what) return;
      std::string why;
      std::string trace = recorder_.snapshot(&why);
      std::string path = trace.empty() ? std::string() : dir_.save("flight", ".out", trace, &why);
      if (path.empty()) {
        std::fprintf(stderr, "gortd: slow request %s: flight recorder snapshot failed: %s\n", what->c_str(),
                     why.c_str());
        continue;
      }
      saved_.fetch_add(1, std::memory_order_relaxed);
      std::fprintf(stderr, "gortd: slow request %s: flight recorder saved to %s (go tool trace %s)\n", what->c_str(),
                   path.c_str(), path.c_str());
    }
  });
}

SlowRequestSnapshots::~SlowRequestSnapshots() { pending_->requests.close(); }

void SlowRequestSnapshots::on_request(const RequestRecord& r) {
  // Profiles, traces and the dashboard's stream are long by design.
  if (r.duration_ns <= threshold_ns_ || r.route.rfind("/debug/", 0) == 0) return;
  const int64_t now = gort::nanotime();
  int64_t allowed = next_allowed_ns_.load(std::memory_order_relaxed);
  if (now < allowed || !next_allowed_ns_.compare_exchange_strong(allowed, now + window_ns_)) return;
  char took[32];
  std::snprintf(took, sizeof took, "%.3fs", static_cast<double>(r.duration_ns) * 1e-9);
  pending_->requests.try_send(std::string(r.method) + " " + std::string(r.target) + " took " + took);
}

}  // namespace gortd
