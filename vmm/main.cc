// The `vmm` command: `vmm run [flags]` boots a guest. See README.md for
// the flags and the exit-status table.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "vmm/api/api_client.h"
#include "vmm/machine.h"
#include "vmm/run_options.h"

ABSL_FLAG(std::string, kernel, "", "Guest kernel: vmlinux ELF or bzImage (default: the image from guest-images/)");
ABSL_FLAG(std::string, initrd, "", "Initramfs to load (default: the image's initramfs.cpio with the default kernel)");
ABSL_FLAG(std::string, cmdline, "\x01unset", "Kernel command line (default: console=ttyS0 plus the image's options)");
ABSL_FLAG(std::string, memory, "512M", "Guest RAM, with K/M/G suffix");
ABSL_FLAG(int64_t, cpus, 1, "Number of vCPUs");
ABSL_FLAG(std::string, console, "stdio", "Console: stdio, or file:PATH to write the guest console to a file");
ABSL_FLAG(std::string, timeout, "", "End the guest after this long (e.g. 90s, 5m); exit status 4");
ABSL_FLAG(std::string, api_socket, "", "Serve the control API (HTTP/JSON) on this Unix socket");
ABSL_FLAG(std::string, api, "", "vmm ctl: the VMM's API socket");
ABSL_FLAG(bool, balloon, true, "Give the guest a virtio-balloon device (virtio-mmio)");
ABSL_FLAG(std::string, balloon_size, "0", "Balloon size at boot: memory taken from the guest (e.g. 256M)");
ABSL_FLAG(bool, balloon_deflate_on_oom, false, "Offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM");
ABSL_FLAG(bool, balloon_reporting, true, "Offer free page reporting (VIRTIO_BALLOON_F_REPORTING)");
ABSL_FLAG(std::string, virtio_notify, "inline",
          "Where virtio queue notifications are handled: 'inline' on the vCPU that wrote QueueNotify "
          "(an MMIO exit), or 'thread' (KVM_IOEVENTFD and a device thread)");
ABSL_FLAG(bool, migration_write_tracking, true,
          "On PVM hosts, also track guest writes in the VMM's page tables while migrating (userfaultfd "
          "write-protect; PVM's dirty log misses some writes). Off: rely on the dirty log and the re-checks");
ABSL_FLAG(bool, mmio_cmdline, false, "Also list virtio-mmio devices as virtio_mmio.device= on the kernel command line");
ABSL_FLAG(bool, verbose, false, "Log debug messages");
ABSL_FLAG(std::string, incoming, "",
          "Receive a migrating guest on tcp:HOST:PORT or unix:PATH instead of booting (same --memory, --cpus "
          "and --balloon* flags as the source)");
ABSL_FLAG(std::string, restore, "", "Start from a snapshot file written by `vmm ctl snapshot` instead of booting");
ABSL_FLAG(std::string, profile_guest, "",
          "Developer tool: sample where each vCPU is in the guest, 1000 times a second, into this file "
          "(scripts/profile-guest.py summarises it)");
ABSL_FLAG(bool, json, false, "vmm ctl migrate/snapshot: print one JSON object instead of a summary line");
ABSL_FLAG(double, downtime_ms, 30, "vmm ctl migrate: downtime target in ms");
ABSL_FLAG(int64_t, max_rounds, 30, "vmm ctl migrate: most pre-copy rounds before stop-and-copy");
ABSL_FLAG(double, bandwidth_mib_s, 0, "vmm ctl migrate: bandwidth cap in MiB/s (0: none)");
ABSL_FLAG(bool, free_page_hinting, true, "vmm ctl migrate: skip pages the guest reports free");

namespace {

constexpr int kUsageError = 2;
constexpr const char* kUsage =
    "usage: vmm run [--kernel PATH] [--initrd PATH] [--cmdline \"...\"] [--memory 512M]\n"
    "               [--cpus N] [--console stdio|file:PATH] [--timeout DURATION]\n"
    "               [--api-socket PATH] [--balloon=false] [--balloon-size SIZE] [--mmio-cmdline]\n"
    "               [--incoming tcp:HOST:PORT|unix:PATH | --restore FILE]\n"
    "       vmm ctl --api PATH status | balloon [SIZE|stats]\n"
    "       vmm ctl --api PATH migrate tcp:HOST:PORT|unix:PATH [--json] [--downtime-ms 30]\n"
    "               [--max-rounds 30] [--bandwidth-mib-s N] [--free-page-hinting=false]\n"
    "       vmm ctl --api PATH snapshot FILE [--json]\n"
    "Boots a Linux guest on KVM with its serial console on this terminal (Ctrl-A x quits).\n"
    "Exit status: 0 guest powered off or rebooted, 1 VMM failure, 2 bad usage or set-up error,\n"
    "3 guest kernel panic, 4 --timeout reached, 5 guest crashed, 128+N killed by signal N.\n";

// Abseil's flag parser calls exit(1) on a malformed or unknown flag; this
// VMM promises status 2 for every usage error, so while parsing an exit
// handler turns that exit into _exit(2).
bool g_parsing_flags = false;
void ExitTwoDuringParsing() {
  if (g_parsing_flags) _exit(kUsageError);
}

// Abseil flag names are C++ identifiers (api_socket); users type the
// usual dashed spelling (--api-socket). Rewrites the name part of each
// "--flag[=value]" argument in place, leaving values alone.
void AcceptDashedFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (std::strncmp(arg, "--", 2) != 0 || arg[2] == '\0') continue;
    for (char* c = arg + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
}

// Abseil's parser with this VMM's conventions: dashed names, status 2.
std::vector<char*> ParseFlags(int argc, char** argv) {
  AcceptDashedFlagNames(argc, argv);
  std::atexit(ExitTwoDuringParsing);
  g_parsing_flags = true;
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  g_parsing_flags = false;
  return rest;
}

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "-help")) {
      return true;
    }
  }
  return false;
}

uint64_t HostMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  return pages > 0 && page_size > 0 ? uint64_t(pages) * uint64_t(page_size) : 0;
}

int RunCommand(int argc, char** argv, absl::Time process_start) {
  if (WantsHelp(argc, argv)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::vector<char*> rest = ParseFlags(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "vmm: error: unexpected argument '%s'\n%s", rest[1], kUsage);
    return kUsageError;
  }
  if (absl::GetFlag(FLAGS_verbose)) base::SetMinLogLevel(base::LogLevel::kDebug);

  vmm::RunFlags flags{
      .kernel = absl::GetFlag(FLAGS_kernel),
      .initrd = absl::GetFlag(FLAGS_initrd),
      .memory = absl::GetFlag(FLAGS_memory),
      .cpus = absl::GetFlag(FLAGS_cpus),
      .console = absl::GetFlag(FLAGS_console),
      .timeout = absl::GetFlag(FLAGS_timeout),
      .api_socket = absl::GetFlag(FLAGS_api_socket),
      .balloon = absl::GetFlag(FLAGS_balloon),
      .balloon_size = absl::GetFlag(FLAGS_balloon_size),
      .balloon_deflate_on_oom = absl::GetFlag(FLAGS_balloon_deflate_on_oom),
      .balloon_reporting = absl::GetFlag(FLAGS_balloon_reporting),
      .mmio_cmdline = absl::GetFlag(FLAGS_mmio_cmdline),
      .virtio_notify = absl::GetFlag(FLAGS_virtio_notify),
      .migration_write_tracking = absl::GetFlag(FLAGS_migration_write_tracking),
      .incoming = absl::GetFlag(FLAGS_incoming),
      .restore = absl::GetFlag(FLAGS_restore),
      .profile_guest = absl::GetFlag(FLAGS_profile_guest),
      .guest_image_dir = vmm::DefaultGuestImageDir(),
      .host_memory_bytes = HostMemoryBytes(),
  };
  if (std::string cmdline = absl::GetFlag(FLAGS_cmdline); cmdline != "\x01unset") flags.cmdline = cmdline;

  absl::StatusOr<vmm::MachineConfig> config = vmm::BuildMachineConfig(flags);
  if (!config.ok()) {
    std::fprintf(stderr, "vmm: error: %s\n", std::string(config.status().message()).c_str());
    return kUsageError;
  }
  config->process_start = process_start;
  absl::StatusOr<std::unique_ptr<vmm::Machine>> machine = vmm::Machine::Create(*config);
  if (!machine.ok()) {
    std::fprintf(stderr, "vmm: error: %s\n", std::string(machine.status().message()).c_str());
    return kUsageError;
  }
  vmm::MachineOutcome outcome = (*machine)->Run();
  int status = vmm::ExitStatusFor(outcome, (*machine)->signal_number());
  machine->reset();  // restores the terminal before the last line
  if (status != 0) LOG_INFO("exit status %d", status);
  return status;
}

int CtlCommand(int argc, char** argv) {
  std::vector<char*> rest = ParseFlags(argc, argv);
  std::vector<std::string> words(rest.begin() + 1, rest.end());
  vmm::api::CtlOptions options{.json = absl::GetFlag(FLAGS_json)};
  options.migrate.downtime_target_ms = absl::GetFlag(FLAGS_downtime_ms);
  options.migrate.free_page_hinting = absl::GetFlag(FLAGS_free_page_hinting);
  options.migrate.bandwidth_bytes_per_s = static_cast<uint64_t>(absl::GetFlag(FLAGS_bandwidth_mib_s) * (1 << 20));
  int64_t rounds = absl::GetFlag(FLAGS_max_rounds);
  if (rounds < 1 || rounds > 1000 || absl::GetFlag(FLAGS_downtime_ms) < 0 || absl::GetFlag(FLAGS_bandwidth_mib_s) < 0) {
    std::fprintf(stderr, "vmm: error: --max-rounds must be 1..1000, --downtime-ms and --bandwidth-mib-s non-negative\n");
    return kUsageError;
  }
  options.migrate.max_rounds = static_cast<uint32_t>(rounds);
  return vmm::api::RunCtlCommand(absl::GetFlag(FLAGS_api), words, options);
}

}  // namespace

int main(int argc, char** argv) {
  absl::Time process_start = absl::Now();
  absl::SetProgramUsageMessage(kUsage);
  if (argc < 2 || std::strcmp(argv[1], "help") == 0 || std::strcmp(argv[1], "--help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? kUsageError : 0;
  }
  std::string command = argv[1];
  // The subcommand is removed so the flag parser sees "vmm --flag ...".
  argv[1] = argv[0];
  if (command == "run") return RunCommand(argc - 1, argv + 1, process_start);
  if (command == "ctl") return CtlCommand(argc - 1, argv + 1);
  std::fprintf(stderr, "vmm: error: unknown command '%s' (expected: run, ctl)\n", command.c_str());
  return kUsageError;
}
