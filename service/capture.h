// capture.h — profiles and traces gortd saves by itself into --profile-dir:
//
//   - scheduled capture (--profile-every D): every D a CPU profile of a few
//     seconds, a heap and a goroutine profile, as
//     cpu-20261204-190700.pb.gz, heap-….pb.gz, goroutine-….pb.gz;
//   - slow-request snapshots (--slow-request T, with --flight-recorder): a
//     request slower than T has the flight recorder's window saved as
//     flight-20261204-190700.out, for `go tool trace` — at most one per
//     window, so that one spike does not write the same seconds many times
//     (requests to /debug/*, long by design, never trigger one).
//
// Files are written under a temporary name and renamed, so a reader never
// sees half a profile; each kind keeps its --profile-keep newest files.
// The work runs on goroutines of its own: a slow request only sends a
// non-blocking signal.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "service/serve_context.h"

namespace profilers {
class FlightRecorder;
}

namespace gortd {

// ProfileDir names, writes and rotates the files of one directory.
class ProfileDir final {
 public:
  // open creates dir if missing; false with *why if it cannot be written.
  static bool open(const std::string& dir, int64_t keep, std::unique_ptr<ProfileDir>* out, std::string* why);
  // save writes bytes as KIND-YYYYmmdd-HHMMSS.EXT (local time; -N added if
  // taken), then removes the oldest files of that kind beyond keep.
  // Returns the path, or "" with *why.
  std::string save(const std::string& kind, const std::string& ext, const std::string& bytes, std::string* why);
  const std::string& dir() const { return dir_; }

 private:
  ProfileDir(std::string dir, int64_t keep) : dir_(std::move(dir)), keep_(keep) {}
  void rotate(const std::string& kind, const std::string& ext);
  std::string dir_;
  int64_t keep_;
};

// start_scheduled_capture starts the goroutine that saves cpu, heap and
// goroutine profiles into dir every every_ns, until *stopping.
void start_scheduled_capture(ProfileDir& dir, int64_t every_ns, const std::atomic<bool>& stopping);

// SlowRequestSnapshots saves the flight recorder into dir when a request
// takes longer than the threshold (one snapshot per window at most).
class SlowRequestSnapshots final : public RequestObserver {
 public:
  SlowRequestSnapshots(ProfileDir& dir, profilers::FlightRecorder& recorder, int64_t threshold_ns, int64_t window_ns);
  ~SlowRequestSnapshots() override;
  void on_request(const RequestRecord& r) override;
  uint64_t saved() const { return saved_.load(std::memory_order_relaxed); }

  struct Pending;

 private:
  ProfileDir& dir_;
  profilers::FlightRecorder& recorder_;
  int64_t threshold_ns_, window_ns_;
  std::atomic<int64_t> next_allowed_ns_{0};  // nanotime before which no snapshot is taken
  std::atomic<uint64_t> saved_{0};
  std::shared_ptr<Pending> pending_;
};

}  // namespace gortd
