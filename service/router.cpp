// router.cpp — the route table (see router.h).
#include "service/router.h"

#include <memory>

namespace gortd {

Route& Router::add(std::string pattern, std::vector<http::verb> methods, Handler handler, bool protected_) {
  Route r;
  size_t brace = pattern.find('{');
  if (brace != std::string::npos) r.prefix = pattern.substr(0, brace);
  r.labels = std::make_shared<const gort::SharedLabelSet>(gort::LabelSet{{"endpoint", pattern}});
  r.pattern = std::move(pattern);
  bool has_get = false, has_head = false;
  for (http::verb v : methods) {
    has_get |= v == http::verb::get;
    has_head |= v == http::verb::head;
  }
  if (has_get && !has_head) methods.push_back(http::verb::head);
  for (http::verb v : methods) {
    r.methods |= uint64_t{1} << static_cast<unsigned>(v);
    if (!r.allow.empty()) r.allow += ", ";
    r.allow += std::string(http::to_string(v));
  }
  r.handler = std::move(handler);
  r.protected_ = protected_;
  routes_.push_back(std::move(r));
  return routes_.back();
}

RouteMatch Router::match(std::string_view path, http::verb method) const {
  const Route* best = nullptr;
  for (const Route& r : routes_) {
    if (r.prefix.empty()) {
      if (path == r.pattern) {
        best = &r;
        break;
      }
    } else if (path.size() > r.prefix.size() && path.substr(0, r.prefix.size()) == r.prefix) {
      if (!best || r.prefix.size() > best->prefix.size()) best = &r;
    }
  }
  if (!best) return {};
  uint64_t bit = method == http::verb::unknown ? 0 : uint64_t{1} << static_cast<unsigned>(method);
  return {(best->methods & bit) ? RouteMatch::Found : RouteMatch::MethodNotAllowed, best};
}

}  // namespace gortd
