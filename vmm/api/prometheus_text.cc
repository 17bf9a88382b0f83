// SPDX-License-Identifier: MIT
#include "vmm/api/prometheus_text.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vmm::api {
namespace {

// Help text escapes backslash and newline; label values also the quote.
std::string Escape(const std::string& in, bool quote) {
  std::string out;
  for (char c : in) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
  return out;
}

// Integers (most figures are counts of bytes or events) print exactly, not
// in %g's 6 significant digits.
std::string Number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e18) return absl::StrFormat("%.0f", value);
  return absl::StrFormat("%.17g", value);
}

}  // namespace

void PrometheusText::Family(const std::string& name, const std::string& type, const std::string& help) {
  family_ = name;
  absl::StrAppend(&text_, "# HELP ", name, " ", Escape(help, false), "\n# TYPE ", name, " ", type, "\n");
}

void PrometheusText::Sample(double value, const Labels& labels) {
  std::string line = family_;
  if (!labels.empty()) {
    line += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      absl::StrAppend(&line, i ? "," : "", labels[i].first, "=\"", Escape(labels[i].second, true), "\"");
    }
    line += '}';
  }
  absl::StrAppend(&text_, line, " ", Number(value), "\n");
}

}  // namespace vmm::api
