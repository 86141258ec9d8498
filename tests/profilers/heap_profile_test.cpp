// heap_profile_test — the heap and allocs profiles: at rate 1 a site's
// counts are exact, live objects stay in use and dropped ones leave it once
// a collection has been swept and published, never earlier (Go's
// cycle-consistent snapshots); at the default rate the unsampled estimate
// is within sampling error of the truth; the first frame is the allocating
// function (the heap's own frames dropped); the debug=1 text parses with
// pprof's legacy grammar; deltas show only what happened in between; rate 0
// records nothing; and all of it holds under allocation on every P while
// collections run and profiles are read.
//
// Allocating functions are noinline and named, and run on goroutines of
// their own that exit, so no stale copy of a pointer on a live stack keeps
// a dropped object reachable. Loops wait for conditions under a deadline.
#define BOOST_TEST_MODULE heap_profile
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "gc/heap.h"
#include "gc/hooks.h"
#include "profilers/heap_profile.h"
#include "profilers/profile.h"
#include "profilers/symbolize.h"
#include "runtime/gort.h"
#include "runtime/sync.h"

using namespace gort;
using profilers::Profile;
using profilers::Sample;

namespace {

constexpr size_t kObjectBytes = 64;  // a size class of its own: requested = slot size
constexpr int kObjects = 200;

// frame_names returns the function names at return address pc (inlined
// frames included).
std::vector<std::string> frame_names(uintptr_t pc) {
  std::vector<std::string> names;
  for (const auto& f : profilers::Symbolizer::global().frames(pc - 1)) names.push_back(f.function);
  return names;
}

bool pc_names(uintptr_t pc, const std::string& fn) {
  for (const auto& n : frame_names(pc))
    if (n.find(fn) != std::string::npos) return true;
  return false;
}

// top_is reports whether s's first location is in function fn.
bool top_is(const Sample& s, const std::string& fn) { return !s.stack.empty() && pc_names(s.stack[0], fn); }

// SiteValues sums the values of a profile's samples whose first frame is fn.
struct SiteValues {
  int64_t alloc_objects = 0, alloc_space = 0, inuse_objects = 0, inuse_space = 0;
  int samples = 0;
  int64_t bytes_label = 0;
};
SiteValues site(const Profile& p, const std::string& fn) {
  SiteValues v;
  for (const Sample& s : p.samples) {
    if (!top_is(s, fn)) continue;
    v.samples++;
    v.alloc_objects += s.values[0];
    v.alloc_space += s.values[1];
    v.inuse_objects += s.values[2];
    v.inuse_space += s.values[3];
    for (const auto& [k, n] : s.num_labels)
      if (k == "bytes") v.bytes_label = n;
  }
  return v;
}

// run_on_goroutine runs fn on a new goroutine and waits until it exits.
template <class F>
void run_on_goroutine(F fn) {
  WaitGroup wg;
  wg.add(1);
  go([&] {
    fn();
    wg.done();
  });
  wg.wait();
}

__attribute__((noinline)) void alloc_site_exact(std::vector<gc::Root<uint8_t>>& keep, int n) {
  for (int i = 0; i < n; i++) {
    uint8_t* p = gc::alloc_bytes(kObjectBytes);
    p[0] = 1;  // a body of its own, so the compiler cannot fold the sites into one
    keep.emplace_back(p);
  }
}

__attribute__((noinline)) void alloc_site_warmup(std::vector<gc::Root<uint8_t>>& keep, int n) {
  for (int i = 0; i < n; i++) {
    uint8_t* p = gc::alloc_bytes(kObjectBytes);
    p[0] = 2;  // a body of its own, so the compiler cannot fold the sites into one
    keep.emplace_back(p);
  }
}

__attribute__((noinline)) void alloc_site_delta(std::vector<gc::Root<uint8_t>>& keep, int n) {
  for (int i = 0; i < n; i++) {
    uint8_t* p = gc::alloc_bytes(kObjectBytes);
    p[0] = 3;  // a body of its own, so the compiler cannot fold the sites into one
    keep.emplace_back(p);
  }
}

__attribute__((noinline)) void alloc_site_when_off(std::vector<gc::Root<uint8_t>>& keep, int n) {
  for (int i = 0; i < n; i++) {
    uint8_t* p = gc::alloc_bytes(kObjectBytes);
    p[0] = 4;  // a body of its own, so the compiler cannot fold the sites into one
    keep.emplace_back(p);
  }
}

__attribute__((noinline)) uint64_t alloc_site_sampled(int n, size_t bytes) {
  uint64_t sum = 0;
  for (int i = 0; i < n; i++) {
    uint8_t* p = gc::alloc_bytes(bytes);
    p[0] = static_cast<uint8_t>(i);
    sum += p[0];
  }
  return sum;
}

__attribute__((noinline)) uint64_t alloc_site_stress(int n) {
  uint64_t sum = 0;
  for (int i = 0; i < n; i++) {
    uint8_t* p = gc::alloc_bytes(kObjectBytes);
    p[1] = 1;
    sum += p[1];
  }
  return sum;
}

Config two_procs() { return Config{.gomaxprocs = 2}; }

}  // namespace

BOOST_AUTO_TEST_CASE(rate_1_counts_a_site_exactly_as_of_the_last_swept_collection) {
  std::string why;
  SiteValues before_gc, kept, unswept, dropped;
  Profile heap, allocs;
  int rounds = 0;
  run_main(
      [&] {
        profilers::start_heap_profiler();
        profilers::start_heap_profiler();  // idempotent
        int64_t prev = profilers::set_mem_profile_rate(1);
        if (prev != gc::kDefaultMemProfileRateBytes) why = "previous rate " + std::to_string(prev);
        // Publish something first: until a profile holds anything, a read
        // shows every cycle's events (Go's case for programs that never
        // collect), which is not what this test is about.
        std::vector<gc::Root<uint8_t>> warm;
        run_on_goroutine([&] { alloc_site_warmup(warm, 10); });
        profilers::collect_for_heap_profile();
        if (site(profilers::heap_profile(false), "alloc_site_warmup").inuse_objects != 10) why = "warm-up not published";
        std::vector<gc::Root<uint8_t>> keep;
        keep.reserve(kObjects);
        run_on_goroutine([&] { alloc_site_exact(keep, kObjects); });
        // Not yet: allocations count toward a snapshot two cycles ahead.
        before_gc = site(profilers::heap_profile(false), "alloc_site_exact");
        profilers::collect_for_heap_profile();
        heap = profilers::heap_profile(false);
        allocs = profilers::heap_profile(true);
        kept = site(heap, "alloc_site_exact");
        for (auto& r : keep) r = nullptr;
        // A collection alone frees them but does not publish its sweep.
        gc::collect();
        unswept = site(profilers::heap_profile(false), "alloc_site_exact");
        // Conservative stack scanning may keep one alive for a cycle or two.
        for (rounds = 0; rounds < 20; rounds++) {
          profilers::collect_for_heap_profile();
          dropped = site(profilers::heap_profile(false), "alloc_site_exact");
          if (dropped.inuse_objects == 0) break;
        }
        profilers::set_mem_profile_rate(gc::kDefaultMemProfileRateBytes);
      },
      two_procs());
  BOOST_TEST(why == "");
  BOOST_TEST(before_gc.alloc_objects == 0);
  BOOST_TEST(before_gc.inuse_objects == 0);

  BOOST_REQUIRE(heap.sample_types.size() == 4u);
  BOOST_TEST(heap.sample_types[0].type == "alloc_objects");
  BOOST_TEST(heap.sample_types[0].unit == "count");
  BOOST_TEST(heap.sample_types[1].type == "alloc_space");
  BOOST_TEST(heap.sample_types[1].unit == "bytes");
  BOOST_TEST(heap.sample_types[2].type == "inuse_objects");
  BOOST_TEST(heap.sample_types[2].unit == "count");
  BOOST_TEST(heap.sample_types[3].type == "inuse_space");
  BOOST_TEST(heap.sample_types[3].unit == "bytes");
  BOOST_TEST(heap.period_type.type == "space");
  BOOST_TEST(heap.period_type.unit == "bytes");
  BOOST_TEST(heap.period == 1);
  BOOST_TEST(heap.default_sample_type == "");
  BOOST_TEST(allocs.default_sample_type == "alloc_space");
  BOOST_TEST(heap.time_nanos > 0);

  BOOST_TEST(kept.samples == 1);  // one site, one size: one sample once the heap's frames are dropped
  BOOST_TEST(kept.alloc_objects == kObjects);
  BOOST_TEST(kept.alloc_space == int64_t{kObjects} * int64_t{kObjectBytes});
  BOOST_TEST(kept.inuse_objects == kObjects);
  BOOST_TEST(kept.inuse_space == int64_t{kObjects} * int64_t{kObjectBytes});
  BOOST_TEST(kept.bytes_label == int64_t{kObjectBytes});
  BOOST_TEST(unswept.inuse_objects == kObjects);
  BOOST_TEST(rounds < 20);
  BOOST_TEST(dropped.inuse_objects == 0);
  BOOST_TEST(dropped.inuse_space == 0);
  BOOST_TEST(dropped.alloc_objects == kObjects);
  BOOST_TEST(dropped.alloc_space == int64_t{kObjects} * int64_t{kObjectBytes});

  // The first frame is the allocating function itself; the caller (the
  // goroutine's lambda, in this file when the symbolizer knows files)
  // follows; no frame of the profiler's hook is left.
  for (const Sample& s : heap.samples)
    if (top_is(s, "alloc_site_exact")) {
      BOOST_TEST(s.stack.size() >= 2u);
      const auto& f = profilers::Symbolizer::global().frames(s.stack[0] - 1).back();
      BOOST_TEST(f.function.find("alloc_site_exact") != std::string::npos);
      // The caller's line: the call of alloc_site_exact in this file (the
      // lambda making it may be inlined into the runtime's entry thunk, so
      // look through the PC's inlined frames).
      const auto& callers = profilers::Symbolizer::global().frames(s.stack[1] - 1);
      if (!callers.back().file.empty()) {
        bool here = false;
        for (const auto& c : callers) here = here || (c.file.find("heap_profile_test.cpp") != std::string::npos && c.line > 0);
        BOOST_TEST(here, callers.front().file << ":" << callers.front().line);
      }
      for (uintptr_t pc : s.stack)
        for (const auto& n : frame_names(pc)) BOOST_TEST(n.find("profilers::") == std::string::npos, n);
    }
}

BOOST_AUTO_TEST_CASE(default_rate_estimate_is_within_sampling_error) {
  // kBytes-sized objects at rate R are each sampled with probability
  // p = 1 − exp(−kBytes/R); Go's scaleHeapSample divides by p. The
  // estimate of N objects has standard deviation sqrt(N(1−p)/p); eight of
  // them (a one-in-10^15 miss) is the bound.
  constexpr int kN = 16384;
  constexpr size_t kBytes = 16384;
  SiteValues v;
  int64_t rate = 0;
  run_main(
      [&] {
        profilers::start_heap_profiler();
        rate = gc::mem_profile_rate();
        run_on_goroutine([&] { alloc_site_sampled(kN, kBytes); });
        profilers::collect_for_heap_profile();
        v = site(profilers::heap_profile(true), "alloc_site_sampled");
      },
      two_procs());
  BOOST_TEST(rate == gc::kDefaultMemProfileRateBytes);
  double p = 1 - std::exp(-static_cast<double>(kBytes) / static_cast<double>(rate));
  double sd = std::sqrt(kN * (1 - p) / p);
  BOOST_TEST_MESSAGE("estimate " << v.alloc_objects << " of " << kN << " objects, sd " << sd);
  BOOST_TEST(std::abs(static_cast<double>(v.alloc_objects) - kN) <= 8 * sd);
  BOOST_TEST(std::abs(static_cast<double>(v.alloc_space) - double{kN} * kBytes) <= 8 * sd * kBytes);
  BOOST_TEST(v.bytes_label == int64_t{kBytes});
  BOOST_TEST(v.inuse_objects <= v.alloc_objects);
}

BOOST_AUTO_TEST_CASE(debug1_text_parses_with_pprofs_legacy_grammar) {
  std::string text;
  run_main(
      [&] {
        profilers::start_heap_profiler();
        profilers::set_mem_profile_rate(1);
        std::vector<gc::Root<uint8_t>> keep;
        run_on_goroutine([&] { alloc_site_exact(keep, kObjects); });
        // Some garbage too: pprof's legacy reader shows the alloc_* columns
        // only when the header's alloc totals differ from its in-use ones,
        // which in a test run first and alone they otherwise would not.
        run_on_goroutine([] { alloc_site_sampled(10, kObjectBytes); });
        profilers::collect_for_heap_profile();
        text = profilers::heap_profile_text();
        profilers::set_mem_profile_rate(gc::kDefaultMemProfileRateBytes);
      },
      two_procs());
  // pprof's legacy heap grammar (internal/profile/legacy_profile.go).
  std::regex header(R"((?:heap profile: *(\d+): *(\d+) *\[ *(\d+): *(\d+) *\] *@ *(heap[_a-z0-9]*)/?(\d*)))");
  std::regex record(R"((-?\d+): *(-?\d+) *\[ *(\d+): *(\d+) *] @([ x0-9a-f]*))");
  std::regex frame("#\t0x[0-9a-f]+\t.*");
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  std::smatch m;
  BOOST_TEST(std::regex_match(line, m, header), line);
  if (m.size() > 6) BOOST_TEST(m[6].str() == "2");  // 2*MemProfileRate, as Go
  int records = 0, site_records = 0;
  bool in_memstats = false;
  std::vector<std::string> fields;
  std::string last_record;
  while (std::getline(in, line)) {
    if (line == "# runtime.MemStats") {
      in_memstats = true;
      continue;
    }
    if (in_memstats) {
      BOOST_TEST(line.rfind("# ", 0) == 0u, line);
      fields.push_back(line.substr(2, line.find(" = ") - 2));
      if (line.rfind("# PauseNs = ", 0) == 0)
        BOOST_TEST(std::regex_match(line, std::regex(R"(# PauseNs = \[(\d+ ){255}\d+\])")));
      continue;
    }
    if (line.empty()) continue;
    if (line[0] == '#') {
      BOOST_TEST(std::regex_match(line, frame), line);
      if (line.find("alloc_site_exact") != std::string::npos && last_record.find(": 12800 [") != std::string::npos)
        site_records++;
      continue;
    }
    BOOST_TEST(std::regex_match(line, record), line);
    last_record = line;
    records++;
  }
  BOOST_TEST(records >= 1);
  BOOST_TEST(site_records == 1);
  const std::vector<std::string> go_fields = {
      "Alloc", "TotalAlloc", "Sys", "Lookups", "Mallocs", "Frees", "HeapAlloc", "HeapSys", "HeapIdle",
      "HeapInuse", "HeapReleased", "HeapObjects", "Stack", "MSpan", "MCache", "BuckHashSys", "GCSys",
      "OtherSys", "NextGC", "LastGC", "PauseNs", "PauseEnd", "NumGC", "NumForcedGC", "GCCPUFraction",
      "DebugGC", "MaxRSS"};
  BOOST_TEST(fields == go_fields, boost::test_tools::per_element());
  BOOST_TEST(text.find("\n# NumGC = ") != std::string::npos);
  BOOST_TEST(text.find("\n# DebugGC = false\n") != std::string::npos);
  BOOST_TEST(std::regex_search(text, std::regex(R"(\n# Alloc = \d+\n)")));
  BOOST_TEST(std::regex_search(text, std::regex(R"(\n# Stack = \d+ / \d+\n)")));
  BOOST_TEST(std::regex_search(text, std::regex(R"(\n# GCCPUFraction = [0-9.e+-]+\n)")));

  // Go's own reader: `go tool pprof -raw` parses the legacy text and lists
  // the site's sample, unscaled at rate 1.
  if (std::string(GO_PATH).empty()) return;
  char path[] = "/tmp/heap_profile_test_XXXXXX";
  int fd = mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  std::string cmd = std::string(GO_PATH) + " tool pprof -raw " + path + " 2>&1";
  std::string raw;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) raw.append(buf, n);
    BOOST_TEST(pclose(f) == 0, raw);
  }
  unlink(path);
  BOOST_TEST(raw.find("alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes") != std::string::npos, raw);
  BOOST_TEST(std::regex_search(raw, std::regex(R"(\n +200 +12800 +200 +12800: )")), raw);
}

BOOST_AUTO_TEST_CASE(delta_of_two_profiles_shows_only_what_happened_between) {
  Profile before, after;
  run_main(
      [&] {
        profilers::start_heap_profiler();
        profilers::set_mem_profile_rate(1);
        std::vector<gc::Root<uint8_t>> keep_a, keep_b;
        run_on_goroutine([&] { alloc_site_exact(keep_a, kObjects); });
        profilers::collect_for_heap_profile();
        before = profilers::heap_profile(false);
        run_on_goroutine([&] { alloc_site_delta(keep_b, kObjects / 2); });
        profilers::collect_for_heap_profile();
        after = profilers::heap_profile(false);
        profilers::set_mem_profile_rate(gc::kDefaultMemProfileRateBytes);
      },
      two_procs());
  Profile d = profilers::subtract_profiles(after, before);
  SiteValues delta = site(d, "alloc_site_delta");
  BOOST_TEST(delta.alloc_objects == kObjects / 2);
  BOOST_TEST(delta.inuse_objects == kObjects / 2);
  BOOST_TEST(site(d, "alloc_site_exact").samples == 0);
  BOOST_TEST(site(before, "alloc_site_exact").inuse_objects == kObjects);
}

BOOST_AUTO_TEST_CASE(rate_0_records_nothing) {
  SiteValues v;
  int procs = 0;
  run_main(
      [&] {
        profilers::start_heap_profiler();
        profilers::set_mem_profile_rate(0);
        procs = gort::gomaxprocs();
        std::vector<gc::Root<uint8_t>> keep;
        run_on_goroutine([&] { alloc_site_when_off(keep, 1000); });
        profilers::collect_for_heap_profile();
        profilers::collect_for_heap_profile();
        v = site(profilers::heap_profile(false), "alloc_site_when_off");
        BOOST_TEST_MESSAGE("period at rate 0: " << profilers::heap_profile(false).period);
        profilers::set_mem_profile_rate(gc::kDefaultMemProfileRateBytes);
      },
      two_procs());
  // A P's countdown drawn before the change may still fire once (as in Go).
  BOOST_TEST(v.alloc_objects <= procs);
}

BOOST_AUTO_TEST_CASE(concurrent_allocation_collection_and_reads_stay_consistent) {
  constexpr int kWorkers = 8;
  constexpr int kPerWorker = 20000;
  std::atomic<bool> bad{false};
  std::string why;
  SiteValues final_values;
  int rounds = 0;
  run_main(
      [&] {
        profilers::start_heap_profiler();
        profilers::set_mem_profile_rate(1);
        std::atomic<int> running{kWorkers};
        WaitGroup wg;
        wg.add(kWorkers + 2);
        for (int w = 0; w < kWorkers; w++)
          go([&] {
            for (int i = 0; i < 10; i++) alloc_site_stress(kPerWorker / 10);
            running.fetch_sub(1);
            wg.done();
          });
        go([&] {  // collections while they allocate
          while (running.load() > 0) gc::collect();
          wg.done();
        });
        go([&] {  // profile reads while they allocate
          while (running.load() > 0) {
            Profile p = profilers::heap_profile(false);
            for (const Sample& s : p.samples)
              if (s.values[2] < 0 || s.values[2] > s.values[0] || s.values[3] > s.values[1]) bad = true;
            std::string t = profilers::heap_profile_text();
            if (t.rfind("heap profile: ", 0) != 0) bad = true;
            gort::yield();  // reading is not a safepoint: let a collection stop the world
          }
          wg.done();
        });
        wg.wait();
        for (rounds = 0; rounds < 20; rounds++) {
          profilers::collect_for_heap_profile();
          final_values = site(profilers::heap_profile(false), "alloc_site_stress");
          if (final_values.inuse_objects == 0) break;
        }
        profilers::set_mem_profile_rate(gc::kDefaultMemProfileRateBytes);
      },
      two_procs());
  BOOST_TEST(!bad.load());
  BOOST_TEST(final_values.alloc_objects == int64_t{kWorkers} * kPerWorker);
  BOOST_TEST(final_values.alloc_space == int64_t{kWorkers} * kPerWorker * int64_t{kObjectBytes});
  BOOST_TEST(final_values.inuse_objects == 0);
}
