// threadcreate_profile.cpp — Go's threadcreate profile from the thread
// registry (runtime/threads.h): each registered thread contributes the
// stack that created it (ThreadInfo::creator_pcs, captured on the creating
// thread when an M is started).
//
// Go's profile lists every M ever created (allm never shrinks) and shows
// m0, which nobody created, with an empty stack. gort's registry forgets
// threads that exit, and registers M0 and sysmon without a creating stack;
// to keep Go's total — threads created — the threads that have exited are
// listed with empty stacks as well, so the total is
// max(gort::threads_created(), live threads). Stacks are truncated at
// ThreadInfo::kMaxCreatorPcs (32, as Go's StackRecord).
//
// Go's text hides a stack's leading runtime frames unless nothing else is
// left; its thread-creating stacks are runtime frames only, so it shows
// them all. Ours end in std::thread's frames, which would be all that was
// left, so the text shows every frame (all_frames), as Go's output does.
//
// Text form (Go's printCountProfile, stack_text.h):
//   threadcreate profile: total 6
//   4 @ 0x4c2d1f 0x4c35a8 …
//   #	0x4c2d1e	gort::startm(…)+0x8e	/src/runtime/proc.cpp:63
//   …
//   <empty line>
//   2 @
//   #	0x0
//   <empty line>
#include "profilers/threadcreate_profile.h"

#include <time.h>

#include <vector>

#include "profilers/stack_text.h"
#include "runtime/threads.h"

namespace profilers {

namespace {

std::vector<CountRecord> thread_records() {
  std::vector<CountRecord> records;
  records.reserve(64);
  gort::for_each_thread([&](const gort::ThreadInfo& t) {
    records.push_back({std::vector<uintptr_t>(t.creator_pcs, t.creator_pcs + t.ncreator_pcs), {}});
  });
  const int64_t created = gort::threads_created();
  while (static_cast<int64_t>(records.size()) < created) records.push_back({});  // exited threads
  return records;
}

}  // namespace

Profile threadcreate_profile() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  std::vector<CountRecord> records = thread_records();
  Profile p = count_profile("threadcreate", records);
  p.time_nanos = int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  return p;
}

std::string threadcreate_profile_text() {
  std::vector<CountRecord> records = thread_records();
  std::string out;
  append_count_profile(out, "threadcreate", records, /*all_frames=*/true);
  return out;
}

}  // namespace profilers
