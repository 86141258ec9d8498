// profile.cpp — operations on the Profile model (profile.h) that do not
// depend on the wire format: delta profiles.
#include "profilers/profile.h"

#include <map>
#include <tuple>

namespace profilers {

namespace {

// SampleKey identifies a sample for matching across two profiles: Go's
// pprof Merge matches samples by their locations and labels.
using SampleKey = std::tuple<std::vector<uintptr_t>, Labels, NumLabels>;

SampleKey key_of(const Sample& s) { return {s.stack, s.labels, s.num_labels}; }

// wrapping_add and wrapping_sub are int64 arithmetic as Go defines it
// (two's complement, wrapping on overflow), which pprof's Merge and
// net/http/pprof's delta use: values near INT64_MIN/MAX must not be C++'s
// undefined signed overflow.
int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t wrapping_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

}  // namespace

Profile subtract_profiles(const Profile& after, const Profile& before) {
  Profile out = after;
  out.samples.clear();
  out.duration_nanos = wrapping_sub(after.time_nanos, before.time_nanos);
  if (out.duration_nanos < 0) out.duration_nanos = 0;

  // Sum each side per key (a profile may list one stack more than once),
  // then keep the keys whose difference is not all zero, in the order they
  // first appear in `after`, then `before`.
  std::map<SampleKey, size_t> index;
  std::vector<Sample> merged;
  auto add = [&](const Sample& s, bool subtract) {
    auto [it, fresh] = index.try_emplace(key_of(s), merged.size());
    if (fresh) {
      Sample m = s;
      m.values.assign(after.sample_types.size(), 0);
      merged.push_back(std::move(m));
    }
    Sample& m = merged[it->second];
    for (size_t i = 0; i < m.values.size() && i < s.values.size(); i++)
      m.values[i] = subtract ? wrapping_sub(m.values[i], s.values[i]) : wrapping_add(m.values[i], s.values[i]);
  };
  for (const Sample& s : after.samples) add(s, false);
  for (const Sample& s : before.samples) add(s, true);
  for (Sample& m : merged) {
    bool zero = true;
    for (int64_t v : m.values) zero = zero && v == 0;
    if (!zero) out.samples.push_back(std::move(m));
  }
  return out;
}

}  // namespace profilers
