// SPDX-License-Identifier: MIT
// A writer of the Prometheus text exposition format, version 0.0.4: one
// "# HELP" and one "# TYPE" line per metric family, then its samples as
// `name{label="value",...} number`. Label values and help texts are escaped
// as the format asks (backslash, double quote, newline).
//
// Our own rather than Debian's prometheus-cpp: that library keeps its own
// registry of long-lived counter objects (and its pull side brings a
// second HTTP server), while every figure here is read from the VM at
// scrape time and served by the API's existing server; copying each
// scrape into its registry would be more code than this writer.
#ifndef VMM_API_PROMETHEUS_TEXT_H_
#define VMM_API_PROMETHEUS_TEXT_H_

#include <string>
#include <utility>
#include <vector>

namespace vmm::api {

// Content-Type of a response in this format.
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Starts a family; `type` is "counter" or "gauge". Counter names end in
  // _total (the caller names them so; the tests check it).
  void Family(const std::string& name, const std::string& type, const std::string& help);
  // One sample of the family last started.
  void Sample(double value, const Labels& labels = {});

  const std::string& text() const { return text_; }

 private:
  std::string family_;
  std::string text_;
};

}  // namespace vmm::api

#endif  // VMM_API_PROMETHEUS_TEXT_H_
