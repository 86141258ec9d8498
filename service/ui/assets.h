// assets.h — the live dashboard's files (/debug/ui), embedded in gortd at
// build time: service/CMakeLists.txt runs service/ui/embed.cmake on each,
// which writes its definition. No CDN, no network: the page loads only
// these, from gortd itself.
#pragma once

#include <string_view>

namespace gortd::ui {

extern const std::string_view kDashboardHtml;  // service/ui/dashboard.html: the page
extern const std::string_view kDashboardJs;    // service/ui/dashboard.js: its script
extern const std::string_view kChartJs;        // Chart.js 3.9 (Debian's libjs-chart.js chart.min.js)

}  // namespace gortd::ui
