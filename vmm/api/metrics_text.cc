// SPDX-License-Identifier: MIT
#include "vmm/api/metrics_text.h"

#include <string>

#include "vmm/api/prometheus_text.h"

namespace vmm::api {
namespace {

// Every phase a migration can be in, so the state gauge has one series per
// phase (1 for the current one) and a dashboard sees each change.
constexpr const char* kMigrationPhases[] = {
    "setup", "hinting", "precopy", "stop-and-copy", migration::kPhaseAwaitingAck, migration::kPhaseCommitting,
    migration::kPhaseCompleted, migration::kPhaseFailed, migration::kPhaseCancelled,
    migration::kPhaseUnknownOutcome, migration::kPhaseResumed, migration::kPhaseAbandoned};

void Balloon(PrometheusText& out, const BalloonInfo& b) {
  out.Family("vmm_balloon_target_bytes", "gauge", "Memory the balloon is asked to take from the guest");
  out.Sample(static_cast<double>(b.target_bytes));
  out.Family("vmm_balloon_actual_bytes", "gauge", "Memory the guest has given to the balloon");
  out.Sample(static_cast<double>(b.actual_bytes));
  // The device's counters only ever grow (devices/balloon): counters.
  for (const auto& [name, value] : b.counters) {
    if (name == "ballooned_pages") {
      out.Family("vmm_balloon_pages", "gauge", "Guest pages in the balloon now");
    } else if (name.ends_with("_ns")) {  // service time percentiles: gauges, in seconds
      out.Family("vmm_balloon_" + name.substr(0, name.size() - 3) + "_seconds", "gauge",
                 "Balloon request service time, " + name);
      out.Sample(static_cast<double>(value) / 1e9);
      continue;
    } else {
      out.Family("vmm_balloon_" + name + "_total", "counter", "Balloon device counter " + name);
    }
    out.Sample(static_cast<double>(value));
  }
}

void Migration(PrometheusText& out, const migration::MigrationStats& m) {
  out.Family("vmm_migration_state", "gauge", "The current or last migration's phase (1 for the phase it is in)");
  for (const char* phase : kMigrationPhases) out.Sample(m.phase == phase ? 1 : 0, {{"state", phase}});
  out.Family("vmm_migration_sent_bytes", "gauge", "Bytes the current or last migration has sent");
  out.Sample(static_cast<double>(m.bytes_sent));
  out.Family("vmm_migration_remaining_bytes", "gauge", "Bytes the current migration still has to send");
  out.Sample(static_cast<double>(m.remaining_bytes));
  out.Family("vmm_migration_rounds", "gauge", "Pre-copy rounds of the current or last migration");
  out.Sample(m.round);
  out.Family("vmm_migration_downtime_seconds", "gauge", "The last migration's downtime (guest paused)");
  out.Sample(m.downtime_ms / 1000);
  out.Family("vmm_migration_duration_seconds", "gauge", "The current or last migration's time so far");
  out.Sample(m.total_ms / 1000);
}

}  // namespace

std::string FormatMetrics(const VmMetrics& m) {
  PrometheusText out;
  out.Family("vmm_uptime_seconds", "gauge", "Time since the VMM process started");
  out.Sample(m.uptime_seconds);
  out.Family("vmm_resident_memory_bytes", "gauge", "Resident memory of the VMM process (RSS)");
  out.Sample(static_cast<double>(m.rss_bytes));
  out.Family("vmm_guest_ram_resident_bytes", "gauge", "Guest RAM pages the host holds (allocated memfd blocks)");
  out.Sample(static_cast<double>(m.guest_ram_resident_bytes));
  out.Family("vmm_cpu_user_seconds_total", "counter", "User CPU time of the VMM process, vCPU threads included");
  out.Sample(m.cpu_user_seconds);
  out.Family("vmm_cpu_system_seconds_total", "counter", "System CPU time of the VMM process, vCPU threads included");
  out.Sample(m.cpu_system_seconds);
  if (!m.vcpu_exits.empty()) {
    out.Family("vmm_vcpu_exits_total", "counter", "KVM_RUN exits by vCPU and reason");
    for (const VcpuExitCount& e : m.vcpu_exits) {
      out.Sample(static_cast<double>(e.count), {{"vcpu", std::to_string(e.vcpu)}, {"reason", e.reason}});
    }
  }
  if (m.balloon) Balloon(out, *m.balloon);
  if (m.migration) Migration(out, *m.migration);
  return out.text();
}

}  // namespace vmm::api
