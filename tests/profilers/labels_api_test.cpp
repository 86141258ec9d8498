// labels_api_test.cpp — Go's pprof label API on goroutine labels
// (profilers/labels.h): WithLabels merging, Do restoring the previous set
// even when the body throws, goroutines started inside Do inheriting the
// merged set, and shared per-route sets (gort::SharedLabelSet).
#define BOOST_TEST_MODULE labels_api_test
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "profilers/labels.h"
#include "runtime/chan.h"
#include "runtime/gort.h"

using gort::LabelSet;

BOOST_AUTO_TEST_CASE(with_labels_overrides_and_appends) {
  LabelSet merged = profilers::with_labels({{"a", "1"}, {"b", "2"}}, {{"b", "3"}, {"c", "4"}});
  BOOST_TEST((merged == LabelSet{{"a", "1"}, {"b", "3"}, {"c", "4"}}));
}

BOOST_AUTO_TEST_CASE(do_with_labels_runs_under_merged_labels_and_restores) {
  LabelSet inside, child, after, after_throw;
  gort::run_main([&] {
    profilers::set_goroutine_labels({{"endpoint", "/work"}});
    profilers::do_with_labels({{"phase", "parse"}}, [&] {
      inside = gort::get_labels();
      gort::Chan<LabelSet> ch(1);
      gort::go([&ch] { ch.send(gort::get_labels()); });
      child = ch.recv();
    });
    after = gort::get_labels();
    try {
      profilers::do_with_labels({{"phase", "boom"}}, [] { throw std::runtime_error("x"); });
    } catch (const std::runtime_error&) {
    }
    after_throw = gort::get_labels();
  });
  BOOST_TEST((inside == LabelSet{{"endpoint", "/work"}, {"phase", "parse"}}));
  BOOST_TEST((child == inside));
  BOOST_TEST((after == LabelSet{{"endpoint", "/work"}}));
  BOOST_TEST((after_throw == LabelSet{{"endpoint", "/work"}}));
}

BOOST_AUTO_TEST_CASE(shared_label_sets_install_without_copying_and_outlive_goroutines) {
  LabelSet seen, child, cleared;
  gort::run_main([&] {
    auto route = std::make_unique<gort::SharedLabelSet>(LabelSet{{"endpoint", "/alloc"}});
    for (int i = 0; i < 1000; i++) gort::set_shared_labels(*route);
    seen = gort::get_labels();
    gort::Chan<int> release(0);
    gort::Chan<LabelSet> out(1);
    gort::go([&] {
      out.send(gort::get_labels());
      release.recv();  // still holds the shared set when the handle dies
    });
    child = out.recv();
    gort::set_labels({});
    route.reset();  // the child's reference keeps the set alive (ASan checks)
    release.send(1);
    cleared = gort::get_labels();
  });
  BOOST_TEST((seen == LabelSet{{"endpoint", "/alloc"}}));
  BOOST_TEST((child == seen));
  BOOST_TEST(cleared.empty());
}
