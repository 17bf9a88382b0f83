// SPDX-License-Identifier: MIT
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
#include "absl/time/time.h"
#include "base/logging.h"
#include "base/version.h"
#include "vmm/api/api_client.h"
#include "vmm/cli_completion.h"
#include "vmm/cli_flag_check.h"
#include "vmm/config_file.h"
#include "vmm/machine.h"
#include "vmm/run_options.h"
#include "vmm/seccomp/seccomp_mode.h"

ABSL_FLAG(std::string, kernel, "", "Guest kernel: vmlinux ELF or bzImage (default: the image from guest-images/)");
ABSL_FLAG(std::string, initrd, "", "Initramfs to load (default: the image's initramfs.cpio with the default kernel)");
ABSL_FLAG(std::string, cmdline, "\x01unset", "Kernel command line (default: console=ttyS0 plus the image's options)");
ABSL_FLAG(std::string, memory, "512M", "Guest RAM, with K/M/G suffix");
ABSL_FLAG(int64_t, cpus, 1, "Number of vCPUs");
ABSL_FLAG(std::string, console, "stdio", "Console: stdio, or file:PATH to write the guest console to a file");
ABSL_FLAG(std::string, timeout, "",
          "vmm run and vmm ctl: `vmm run`: end the guest after this long (e.g. 90s, 5m); exit status 4. "
          "`vmm ctl shutdown`: how long the guest gets to power off after the power button before the VMM "
          "stops it (default 30s)");
ABSL_FLAG(std::string, api_socket, "", "vmm run and vmm ctl: the control API's Unix socket (run serves the API (HTTP/JSON) on it, ctl talks to it)");
ABSL_FLAG(std::string, api_socket_mode, "0600", "The --api-socket file's permissions, in octal (0660: the owner's group too)");
ABSL_FLAG(std::string, api, "", "vmm ctl: the VMM's API socket (the older name of --api-socket)");
// Repeatable: RunCommand takes every --disk and --net out of argv before
// Abseil's parser runs (TakeRepeatedFlag); the flags are defined for
// --help and the shell completion.
ABSL_FLAG(std::string, disk, "",
          "A virtio-blk disk on a raw image: PATH[,readonly][,direct] (direct: O_DIRECT, bypassing the host's page "
          "cache); repeat for more (the first is /dev/vda)");
ABSL_FLAG(std::string, net, "",
          "A virtio-net NIC on a tap device: tap=NAME[,mac=MAC] (created if missing, given CAP_NET_ADMIN); "
          "repeat for more (the first is eth0)");
ABSL_FLAG(bool, balloon, true, "Give the guest a virtio-balloon device (virtio-mmio)");
ABSL_FLAG(std::string, balloon_size, "0", "Balloon size at boot: memory taken from the guest (e.g. 256M)");
ABSL_FLAG(bool, balloon_deflate_on_oom, false, "Offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM");
ABSL_FLAG(bool, balloon_reporting, true, "Offer free page reporting (VIRTIO_BALLOON_F_REPORTING)");
ABSL_FLAG(std::string, balloon_chunks, "true",
          "Offer the balloon's range format (true or false; devices/balloon/CHUNKS.md): a driver that takes it "
          "inflates in blocks of up to 2 MiB; a driver without it is served 4 KiB pages as before");
ABSL_FLAG(std::string, memory_backend, "memfd",
          "Guest RAM backing: memfd (4 KiB pages), thp (shmem transparent huge pages) or hugetlb (2 MiB pages)");
ABSL_FLAG(std::string, virtio_notify, "inline",
          "Where virtio queue notifications are handled: 'inline' on the vCPU that wrote QueueNotify "
          "(an MMIO exit), or 'thread' (KVM_IOEVENTFD and a device thread)");
ABSL_FLAG(bool, migration_write_tracking, true,
          "On PVM hosts, also track guest writes in the VMM's page tables while migrating (userfaultfd "
          "write-protect; PVM's dirty log misses some writes). Off: rely on the dirty log and the re-checks");
ABSL_FLAG(bool, mmio_cmdline, false, "Also list virtio-mmio devices as virtio_mmio.device= on the kernel command line");
ABSL_FLAG(bool, verbose, false, "Log debug messages");
ABSL_FLAG(std::string, config, "", "Read the VM's flags from this JSON file; flags given on the command line override it");
ABSL_FLAG(bool, print_config, false, "Print the configuration (the --config file with the flags applied) as JSON and exit");
ABSL_FLAG(std::string, incoming, "",
          "Receive a migrating guest on tls:HOST:PORT (with --tls-dir), tcp:HOST:PORT (loopback, or with "
          "--insecure) or unix:PATH instead of booting (same --memory, --cpus "
          "and --balloon* flags as the source)");
ABSL_FLAG(std::string, incoming_timeout, "",
          "With --incoming: give up (exit status 1) when no source has got in after this long (e.g. 5m); "
          "default: wait for ever");
ABSL_FLAG(std::string, tls_dir, "",
          "Certificates for tls: migrations, in QEMU's layout: ca-cert.pem, server-cert.pem, server-key.pem "
          "(presented as the destination), client-cert.pem, client-key.pem (presented as the source)");
ABSL_FLAG(std::string, tls_peer_name, "",
          "With --tls-dir: the name (DNS or IP subjectAltName, or CN) the migration peer's certificate must carry");
ABSL_FLAG(bool, insecure, false,
          "Allow plain tcp: migrations (unencrypted, unauthenticated) to and from non-loopback addresses");
ABSL_FLAG(std::string, restore, "", "Start from a snapshot file written by `vmm ctl snapshot` instead of booting");
ABSL_FLAG(std::string, profile_guest, "",
          "Developer tool: sample where each vCPU is in the guest, 1000 times a second, into this file "
          "(scripts/profile-guest.py summarises it)");
ABSL_FLAG(std::string, seccomp, std::string(vmm::seccomp::SeccompModeName(vmm::seccomp::DefaultSeccompMode())),
          "Confine each VMM thread's system calls to its kind's list: 'on' (a forbidden call ends the VMM, "
          "exit status 1), 'log' (report it on stderr and allow it) or 'off'");
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
    "               [--api-socket PATH [--api-socket-mode 0600]] [--balloon=false] [--balloon-size SIZE] [--mmio-cmdline]\n"
    "               [--disk PATH[,readonly][,direct]]... [--net tap=NAME[,mac=MAC]]...\n"
    "               [--incoming tls:HOST:PORT|tcp:HOST:PORT|unix:PATH [--incoming-timeout DURATION]\n"
    "                | --restore FILE] [--tls-dir DIR [--tls-peer-name NAME]] [--insecure]\n"
    "               [--seccomp on|log|off]\n"
    "               [--memory-backend memfd|thp|hugetlb] [--balloon-chunks=false]\n"
    "               [--config vm.json] [--print-config]\n"
    "       vmm ctl --api-socket PATH status | ping | pause | resume | metrics | balloon [SIZE|stats]\n"
    "       vmm ctl --api-socket PATH shutdown [--timeout 30s]\n"
    "       vmm ctl --api-socket PATH migrate tls:HOST:PORT|tcp:HOST:PORT|unix:PATH [--json] [--downtime-ms 30]\n"
    "               [--max-rounds 30] [--bandwidth-mib-s N] [--free-page-hinting=false]\n"
    "       vmm ctl --api-socket PATH migrate-status | migrate-cancel | migrate-resume | migrate-abandon\n"
    "       vmm ctl --api-socket PATH snapshot FILE [--json]\n"
    "       vmm completion bash | vmm --version\n"
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
    if (!std::strcmp(argv[i], "--")) break;
    for (const char* help : {"-h", "--help", "-help", "--helpshort", "--helpfull", "--help=full"}) {
      if (!std::strcmp(argv[i], help)) return true;
    }
  }
  return false;
}

// The flags typed after `vmm SUBCOMMAND` must be that subcommand's
// (vmm/cli_flag_check.h); prints the error and returns false otherwise.
bool SubcommandFlagsAreOwn(const char* subcommand, int argc, char** argv) {
  absl::Status st = vmm::CheckSubcommandFlags(subcommand, std::vector<std::string>(argv + 1, argv + argc),
                                              vmm::CommandsFromLinkedFlags());
  if (st.ok()) return true;
  std::fprintf(stderr, "vmm: error: %s\n", std::string(st.message()).c_str());
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
  std::vector<std::string> disks = vmm::TakeRepeatedFlag("--disk", argc, argv);
  std::vector<std::string> nets = vmm::TakeRepeatedFlag("--net", argc, argv);
  if (!SubcommandFlagsAreOwn("run", argc, argv)) return kUsageError;
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
      .memory_backend = absl::GetFlag(FLAGS_memory_backend),
      .cpus = absl::GetFlag(FLAGS_cpus),
      .console = absl::GetFlag(FLAGS_console),
      .timeout = absl::GetFlag(FLAGS_timeout),
      .api_socket = absl::GetFlag(FLAGS_api_socket),
      .api_socket_mode = absl::GetFlag(FLAGS_api_socket_mode),
      .balloon = absl::GetFlag(FLAGS_balloon),
      .balloon_size = absl::GetFlag(FLAGS_balloon_size),
      .balloon_deflate_on_oom = absl::GetFlag(FLAGS_balloon_deflate_on_oom),
      .balloon_reporting = absl::GetFlag(FLAGS_balloon_reporting),
      .balloon_chunks = absl::GetFlag(FLAGS_balloon_chunks),
      .disks = disks,
      .nets = nets,
      .mmio_cmdline = absl::GetFlag(FLAGS_mmio_cmdline),
      .virtio_notify = absl::GetFlag(FLAGS_virtio_notify),
      .migration_write_tracking = absl::GetFlag(FLAGS_migration_write_tracking),
      .incoming = absl::GetFlag(FLAGS_incoming),
      .incoming_timeout = absl::GetFlag(FLAGS_incoming_timeout),
      .tls_dir = absl::GetFlag(FLAGS_tls_dir),
      .tls_peer_name = absl::GetFlag(FLAGS_tls_peer_name),
      .insecure = absl::GetFlag(FLAGS_insecure),
      .restore = absl::GetFlag(FLAGS_restore),
      .profile_guest = absl::GetFlag(FLAGS_profile_guest),
      .seccomp = absl::GetFlag(FLAGS_seccomp),
      .guest_image_dir = vmm::DefaultGuestImageDir(),
      .host_memory_bytes = HostMemoryBytes(),
  };
  if (std::string cmdline = absl::GetFlag(FLAGS_cmdline); cmdline != "\x01unset") flags.cmdline = cmdline;
  if (std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    std::set<std::string> given = vmm::FlagsGivenOnCommandLine(argc, argv);
    if (!disks.empty()) given.insert("disk");  // taken out of argv already
    if (!nets.empty()) given.insert("net");
    absl::Status applied = vmm::ApplyConfigFile(path, given, flags);
    if (!applied.ok()) {
      std::fprintf(stderr, "vmm: error: %s\n", std::string(applied.message()).c_str());
      return kUsageError;
    }
  }
  if (absl::GetFlag(FLAGS_print_config)) return std::fputs(vmm::ConfigJson(flags).c_str(), stdout) < 0 ? 1 : 0;

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
  if (WantsHelp(argc, argv)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!SubcommandFlagsAreOwn("ctl", argc, argv)) return kUsageError;
  std::vector<char*> rest = ParseFlags(argc, argv);
  const std::string api_socket = absl::GetFlag(FLAGS_api_socket), api = absl::GetFlag(FLAGS_api);
  if (!api_socket.empty() && !api.empty() && api_socket != api) {
    std::fprintf(stderr, "vmm: error: --api-socket '%s' and --api '%s' name different sockets; give one\n",
                 api_socket.c_str(), api.c_str());
    return kUsageError;
  }
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
  if (const std::string timeout = absl::GetFlag(FLAGS_timeout); !timeout.empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(timeout, &d) || d < absl::ZeroDuration()) {
      std::fprintf(stderr, "vmm: error: --timeout '%s' is not a duration such as 30s or 2m\n", timeout.c_str());
      return kUsageError;
    }
    options.shutdown_timeout_seconds = absl::ToDoubleSeconds(d);
  }
  return vmm::api::RunCtlCommand(api_socket.empty() ? api : api_socket, words, options);
}

}  // namespace

int main(int argc, char** argv) {
  absl::Time process_start = absl::Now();
  absl::SetProgramUsageMessage(kUsage);
  // `vmm --version`, `vmm run --version`, `vmm ctl --version`.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) return std::puts(base::VersionLine().c_str()) < 0 ? 1 : 0;
  }
  if (argc < 2 || std::strcmp(argv[1], "help") == 0 || std::strcmp(argv[1], "--help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? kUsageError : 0;
  }
  std::string command = argv[1];
  // The subcommand is removed so the flag parser sees "vmm --flag ...".
  argv[1] = argv[0];
  if (command == "run") return RunCommand(argc - 1, argv + 1, process_start);
  if (command == "ctl") return CtlCommand(argc - 1, argv + 1);
  if (command == "completion") return vmm::RunCompletionCommand(argc - 1, argv + 1);
  std::fprintf(stderr, "vmm: error: unknown command '%s' (expected: run, ctl, completion)\n", command.c_str());
  return kUsageError;
}
