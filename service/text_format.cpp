// text_format.cpp — client_golang's text exposition (see text_format.h).
// Follows expfmt's MetricFamilyToText, writeSample, writeLabelPairs,
// writeEscapedString and writeFloat.
#include "service/text_format.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

namespace gortd {

std::string format_go_float(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  if (f == 0) return "0";  // -0 too, as expfmt's f == 0 case
  // The shortest digits that read back as f (Go's shortest mode), from
  // to_chars' scientific form "d.ddde±xx".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') {
    out += '-';
    i = 1;
  }
  size_t e = sci.find('e');
  std::string digits;
  for (size_t k = i; k < e; k++)
    if (sci[k] != '.') digits += sci[k];
  int exp = std::atoi(sci.c_str() + e + 1);  // decimal exponent of the first digit
  int nd = static_cast<int>(digits.size());
  int dp = exp + 1;                          // digits before the decimal point
  // strconv's %g: %e when the exponent is < -4 or ≥ the precision, which
  // is 6 in shortest mode; %f otherwise.
  if (exp < -4 || exp >= 6) {
    out += digits[0];
    if (nd > 1) out += '.' + digits.substr(1);
    out += exp < 0 ? "e-" : "e+";
    int a = std::abs(exp);
    if (a < 10) out += '0';
    out += std::to_string(a);
    return out;
  }
  if (dp <= 0) {
    out += "0." + std::string(static_cast<size_t>(-dp), '0') + digits;
  } else if (dp >= nd) {
    out += digits + std::string(static_cast<size_t>(dp - nd), '0');
  } else {
    out += digits.substr(0, static_cast<size_t>(dp)) + '.' + digits.substr(static_cast<size_t>(dp));
  }
  return out;
}

namespace {

// escape is writeEscapedString: \ and newline always, " in label values.
void write_escaped(std::ostream& out, const std::string& s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out << "\\\\";
    } else if (c == '\n') {
      out << "\\n";
    } else if (quote && c == '"') {
      out << "\\\"";
    } else {
      out << c;
    }
  }
}

// Extra is the label a sample line adds after the metric's own: quantile
// or le.
struct Extra {
  const char* name;
  double value;
};

// write_sample is writeSample: name+suffix, labels, value, timestamp.
void write_sample(std::ostream& out, const std::string& name, const char* suffix, const prometheus::ClientMetric& m,
                  std::optional<Extra> extra, double value) {
  out << name << suffix;
  if (!m.label.empty() || extra) {
    char sep = '{';
    for (const auto& l : m.label) {
      out << sep << l.name << "=\"";
      write_escaped(out, l.value, true);
      out << '"';
      sep = ',';
    }
    if (extra) out << sep << extra->name << "=\"" << format_go_float(extra->value) << '"';
    out << '}';
  }
  out << ' ' << format_go_float(value);
  if (m.timestamp_ms != 0) out << ' ' << m.timestamp_ms;
  out << '\n';
}

const char* type_name(prometheus::MetricType t) {
  switch (t) {
    case prometheus::MetricType::Counter: return "counter";
    case prometheus::MetricType::Gauge: return "gauge";
    case prometheus::MetricType::Summary: return "summary";
    case prometheus::MetricType::Histogram: return "histogram";
    case prometheus::MetricType::Untyped: break;
  }
  return "untyped";
}

}  // namespace

void write_text_format(std::ostream& out, const std::vector<prometheus::MetricFamily>& families) {
  for (const auto& f : families) {
    if (f.metric.empty()) continue;  // client_golang's Gather drops these
    out << "# HELP " << f.name << ' ';
    write_escaped(out, f.help, false);
    out << "\n# TYPE " << f.name << ' ' << type_name(f.type) << '\n';
    for (const auto& m : f.metric) {
      switch (f.type) {
        case prometheus::MetricType::Counter: write_sample(out, f.name, "", m, {}, m.counter.value); break;
        case prometheus::MetricType::Gauge: write_sample(out, f.name, "", m, {}, m.gauge.value); break;
        case prometheus::MetricType::Untyped: write_sample(out, f.name, "", m, {}, m.untyped.value); break;
        case prometheus::MetricType::Summary:
          for (const auto& q : m.summary.quantile) write_sample(out, f.name, "", m, Extra{"quantile", q.quantile}, q.value);
          write_sample(out, f.name, "_sum", m, {}, m.summary.sample_sum);
          write_sample(out, f.name, "_count", m, {}, static_cast<double>(m.summary.sample_count));
          break;
        case prometheus::MetricType::Histogram: {
          bool inf_seen = false;
          for (const auto& b : m.histogram.bucket) {
            write_sample(out, f.name, "_bucket", m, Extra{"le", b.upper_bound},
                         static_cast<double>(b.cumulative_count));
            if (std::isinf(b.upper_bound) && b.upper_bound > 0) inf_seen = true;
          }
          if (!inf_seen)
            write_sample(out, f.name, "_bucket", m, Extra{"le", std::numeric_limits<double>::infinity()},
                         static_cast<double>(m.histogram.sample_count));
          write_sample(out, f.name, "_sum", m, {}, m.histogram.sample_sum);
          write_sample(out, f.name, "_count", m, {}, static_cast<double>(m.histogram.sample_count));
          break;
        }
      }
    }
  }
}

}  // namespace gortd
