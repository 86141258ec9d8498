// metrics_exporter.h — the /metrics endpoint's engine: gathers metric
// families from prometheus-cpp Collectables (the Registry holding the RED
// metrics) and from scrape-time sources (runtime, process, connections —
// values read when scraped, as client_golang's Go and process collectors
// do), and renders them in client_golang's text format (text_format.h).
//
// Families helps sources build prometheus::MetricFamily values tersely.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gortd {

// Families appends metric families to a vector under construction.
class Families final {
 public:
  explicit Families(std::vector<prometheus::MetricFamily>& out) : out_(out) {}
  void gauge(std::string name, std::string help, double v, prometheus::ClientMetric::Label label = {});
  void counter(std::string name, std::string help, double v);
  // labelled_gauges adds one gauge family with a sample per (label value, v).
  void labelled_gauges(std::string name, std::string help, const std::string& label_name,
                       const std::vector<std::pair<std::string, double>>& samples);
  // labelled_counters adds one counter family with a sample per (label value, v).
  void labelled_counters(std::string name, std::string help, const std::string& label_name,
                         const std::vector<std::pair<std::string, double>>& samples);
  // summary adds a summary from (quantile, value) pairs, a count and a sum.
  void summary(std::string name, std::string help, const std::vector<std::pair<double, double>>& quantiles,
               uint64_t count, double sum);
  // histogram adds a histogram from per-bucket (non-cumulative) counts;
  // counts has bounds.size() + 1 entries, the last one for +Inf.
  void histogram(std::string name, std::string help, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& counts, double sum);

 private:
  std::vector<prometheus::MetricFamily>& out_;
};

class MetricsExporter final {
 public:
  using Source = std::function<void(Families&)>;
  void add_collectable(std::shared_ptr<prometheus::Collectable> c) { collectables_.push_back(std::move(c)); }
  void add_source(Source s) { sources_.push_back(std::move(s)); }
  // render returns the Prometheus text exposition (format 0.0.4).
  std::string render() const;

 private:
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;  // fixed after start-up
  std::vector<Source> sources_;                                        // fixed after start-up
};

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace gortd
