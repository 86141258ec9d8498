// metrics_exporter.cpp — collection and text serialization for /metrics
// (see metrics_exporter.h).
#include "service/metrics_exporter.h"

#include <limits>
#include <sstream>

#include "service/text_format.h"

namespace gortd {

void Families::gauge(std::string name, std::string help, double v, prometheus::ClientMetric::Label label) {
  prometheus::MetricFamily f{std::move(name), std::move(help), prometheus::MetricType::Gauge, {}};
  prometheus::ClientMetric m;
  if (!label.name.empty()) m.label.push_back(std::move(label));
  m.gauge.value = v;
  f.metric.push_back(std::move(m));
  out_.push_back(std::move(f));
}

void Families::counter(std::string name, std::string help, double v) {
  prometheus::MetricFamily f{std::move(name), std::move(help), prometheus::MetricType::Counter, {}};
  prometheus::ClientMetric m;
  m.counter.value = v;
  f.metric.push_back(std::move(m));
  out_.push_back(std::move(f));
}

void Families::labelled_gauges(std::string name, std::string help, const std::string& label_name,
                               const std::vector<std::pair<std::string, double>>& samples) {
  prometheus::MetricFamily f{std::move(name), std::move(help), prometheus::MetricType::Gauge, {}};
  for (const auto& [value, v] : samples) {
    prometheus::ClientMetric m;
    m.label.push_back({label_name, value});
    m.gauge.value = v;
    f.metric.push_back(std::move(m));
  }
  out_.push_back(std::move(f));
}

void Families::labelled_counters(std::string name, std::string help, const std::string& label_name,
                                 const std::vector<std::pair<std::string, double>>& samples) {
  prometheus::MetricFamily f{std::move(name), std::move(help), prometheus::MetricType::Counter, {}};
  for (const auto& [value, v] : samples) {
    prometheus::ClientMetric m;
    m.label.push_back({label_name, value});
    m.counter.value = v;
    f.metric.push_back(std::move(m));
  }
  out_.push_back(std::move(f));
}

void Families::summary(std::string name, std::string help, const std::vector<std::pair<double, double>>& quantiles,
                       uint64_t count, double sum) {
  prometheus::MetricFamily f{std::move(name), std::move(help), prometheus::MetricType::Summary, {}};
  prometheus::ClientMetric m;
  for (const auto& [q, v] : quantiles) m.summary.quantile.push_back({q, v});
  m.summary.sample_count = count;
  m.summary.sample_sum = sum;
  f.metric.push_back(std::move(m));
  out_.push_back(std::move(f));
}

void Families::histogram(std::string name, std::string help, const std::vector<double>& bounds,
                         const std::vector<uint64_t>& counts, double sum) {
  prometheus::MetricFamily f{std::move(name), std::move(help), prometheus::MetricType::Histogram, {}};
  prometheus::ClientMetric m;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); i++) {
    cumulative += counts[i];
    m.histogram.bucket.push_back({cumulative, bounds[i]});
  }
  cumulative += counts[bounds.size()];
  m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = sum;
  f.metric.push_back(std::move(m));
  out_.push_back(std::move(f));
}

std::string MetricsExporter::render() const {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& c : collectables_) {
    auto more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  Families add(families);
  for (const auto& s : sources_) s(add);
  std::ostringstream out;
  write_text_format(out, families);
  return std::move(out).str();
}

}  // namespace gortd
