// SPDX-License-Identifier: MIT
// GET /metrics' text, checked against the exposition format's rules: every
// sample line is `name{labels} value`, every metric family has HELP and
// TYPE before its samples, counters end in _total, units are suffixes.
#include "vmm/api/metrics_text.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "vmm/api/prometheus_text.h"

namespace vmm::api {
namespace {

struct Parsed {
  std::map<std::string, std::string> type;  // family -> counter|gauge
  std::set<std::string> help;
  std::map<std::string, double> samples;  // "name{labels}" -> value
};

// Fails the test on any line that breaks the format.
Parsed Parse(const std::string& text) {
  Parsed out;
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+)");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge))");
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf))");
  std::istringstream lines(text);
  std::string line;
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, m, kHelp)) {
      EXPECT_TRUE(out.help.insert(m[1]).second) << "second HELP for " << m[1];
    } else if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(out.help.count(m[1])) << "TYPE before HELP for " << m[1];
      EXPECT_TRUE(out.type.emplace(m[1], m[2]).second) << "second TYPE for " << m[1];
    } else if (std::regex_match(line, m, kSample)) {
      EXPECT_TRUE(out.type.count(m[1])) << "sample of an undeclared metric: " << line;
      out.samples[std::string(m[1]) + std::string(m[2])] = std::stod(m[3]);
    } else {
      ADD_FAILURE() << "not a metric line: '" << line << "'";
    }
  }
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  return out;
}

VmMetrics Full() {
  VmMetrics m{.uptime_seconds = 12.5, .rss_bytes = 40 << 20, .guest_ram_resident_bytes = 300 << 20,
              .cpu_user_seconds = 1.25, .cpu_system_seconds = 0.5};
  m.vcpu_exits = {{0, "io", 100}, {0, "mmio", 7}, {1, "halt", 3}};
  m.balloon = BalloonInfo{.target_bytes = 256 << 20, .actual_bytes = 128 << 20,
                          .counters = {{"requests", 5}, {"ballooned_pages", 32768}, {"service_p99_ns", 50000}}};
  m.migration = migration::MigrationStats{.phase = "completed", .round = 3, .bytes_sent = 1 << 30};
  m.migration->downtime_ms = 25;
  m.migration->total_ms = 2000;
  return m;
}

TEST(MetricsText, EveryLineFollowsTheFormatAndEveryCounterEndsInTotal) {
  Parsed p = Parse(FormatMetrics(Full()));
  ASSERT_FALSE(p.type.empty());
  for (const auto& [name, type] : p.type) {
    EXPECT_EQ(name.rfind("vmm_", 0), 0u) << name;
    EXPECT_EQ(type == "counter", name.ends_with("_total")) << name << " is a " << type;
  }
}

TEST(MetricsText, CarriesTheFiguresInBaseUnits) {
  Parsed p = Parse(FormatMetrics(Full()));
  EXPECT_EQ(p.samples["vmm_uptime_seconds"], 12.5);
  EXPECT_EQ(p.samples["vmm_resident_memory_bytes"], 40 << 20);
  EXPECT_EQ(p.samples["vmm_vcpu_exits_total{vcpu=\"0\",reason=\"io\"}"], 100);
  EXPECT_EQ(p.samples["vmm_vcpu_exits_total{vcpu=\"1\",reason=\"halt\"}"], 3);
  EXPECT_EQ(p.samples["vmm_balloon_target_bytes"], 256 << 20);
  EXPECT_EQ(p.samples["vmm_balloon_requests_total"], 5);
  EXPECT_EQ(p.samples["vmm_balloon_pages"], 32768);
  EXPECT_DOUBLE_EQ(p.samples["vmm_balloon_service_p99_seconds"], 50e-6);
  EXPECT_EQ(p.samples["vmm_migration_sent_bytes"], 1 << 30);
  EXPECT_DOUBLE_EQ(p.samples["vmm_migration_downtime_seconds"], 0.025);
  EXPECT_EQ(p.samples["vmm_migration_duration_seconds"], 2);
  EXPECT_EQ(p.samples["vmm_migration_state{state=\"completed\"}"], 1);
  EXPECT_EQ(p.samples["vmm_migration_state{state=\"precopy\"}"], 0);
}

TEST(MetricsText, LeavesOutWhatTheVmDoesNotHave) {
  Parsed p = Parse(FormatMetrics(VmMetrics{}));
  EXPECT_TRUE(p.type.count("vmm_uptime_seconds"));
  EXPECT_FALSE(p.type.count("vmm_balloon_target_bytes"));
  EXPECT_FALSE(p.type.count("vmm_migration_state"));
}

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
  PrometheusText out;
  out.Family("vmm_x", "gauge", "a \\ b\nc");
  out.Sample(1, {{"l", "q\"\\\n"}});
  EXPECT_EQ(out.text(), "# HELP vmm_x a \\\\ b\\nc\n# TYPE vmm_x gauge\nvmm_x{l=\"q\\\"\\\\\\n\"} 1\n");
  Parse(out.text());
}

TEST(PrometheusText, PrintsLargeCountsExactly) {
  PrometheusText out;
  out.Family("vmm_y_bytes", "gauge", "y");
  out.Sample(123456789012.0);
  EXPECT_NE(out.text().find("vmm_y_bytes 123456789012\n"), std::string::npos) << out.text();
}

}  // namespace
}  // namespace vmm::api
