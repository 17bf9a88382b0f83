// SPDX-License-Identifier: MIT
#include "vmm/run_options.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "base/size_parse.h"
#include "base/status_macros.h"
#include "devices/net/mac_address.h"
#include "migration/transport_policy.h"

namespace vmm {
namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

// An octal permission mode of at most 0777 ("0600", "660"); a socket has no
// use for the setuid, setgid or sticky bits.
absl::StatusOr<uint32_t> ParseSocketMode(const std::string& text) {
  const bool octal = !text.empty() && text.size() <= 4 &&
                     text.find_first_not_of("01234567") == std::string::npos;
  const uint32_t mode = octal ? static_cast<uint32_t>(std::stoul(text, nullptr, 8)) : 0;
  if (!octal || mode > 0777) {
    return absl::InvalidArgumentError(
        absl::StrCat("--api-socket-mode must be an octal mode up to 0777 like 0600 or 0660, not '", text, "'"));
  }
  return mode;
}

// --tls-dir (loaded and checked here, so a bad directory is a usage error
// at start-up, and the files are read before any thread is confined),
// --tls-peer-name, --insecure, --incoming-timeout, and whether --incoming's
// transport is allowed.
absl::Status ApplyMigrationTransport(const RunFlags& flags, MachineConfig& config) {
  if (!flags.tls_peer_name.empty() && flags.tls_dir.empty()) {
    return absl::InvalidArgumentError("--tls-peer-name needs --tls-dir");
  }
  if (!flags.tls_dir.empty()) {
    ASSIGN_OR_RETURN(config.tls, migration::TlsCredentials::Load(flags.tls_dir, flags.tls_peer_name));
  }
  config.insecure_transport = flags.insecure;
  if (!flags.incoming_timeout.empty()) {
    if (flags.incoming.empty()) return absl::InvalidArgumentError("--incoming-timeout needs --incoming");
    if (!absl::ParseDuration(flags.incoming_timeout, &config.incoming_timeout) ||
        config.incoming_timeout <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--incoming-timeout must be a positive duration like 30s or 5m, not '", flags.incoming_timeout, "'"));
    }
  }
  if (flags.incoming.empty()) return absl::OkStatus();
  absl::StatusOr<migration::Endpoint> endpoint = migration::ParseEndpoint(flags.incoming);
  if (!endpoint.ok()) return absl::InvalidArgumentError(absl::StrCat("--incoming: ", endpoint.status().message()));
  absl::Status allowed = migration::CheckTransport(
      *endpoint, {.have_tls_credentials = config.tls != nullptr, .insecure = config.insecure_transport});
  if (!allowed.ok()) return absl::InvalidArgumentError(absl::StrCat("--incoming: ", allowed.message()));
  return absl::OkStatus();
}

}  // namespace

std::string DefaultGuestImageDir() {
  if (const char* env = std::getenv("VMM_GUEST_IMAGE_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  for (std::filesystem::path dir = exe.parent_path(); !ec && dir.has_relative_path();
       dir = dir.parent_path()) {
    std::filesystem::path candidate = dir / "guest-images" / "out";
    if (std::filesystem::exists(candidate / "vmlinux", ec)) return candidate.string();
  }
  return "guest-images/out";
}

absl::StatusOr<MachineConfig> BuildMachineConfig(const RunFlags& flags) {
  MachineConfig config;
  bool default_image = flags.kernel.empty();
  if (!flags.incoming.empty() && !flags.restore.empty()) {
    return absl::InvalidArgumentError("--incoming and --restore exclude each other");
  }
  const bool receives_guest = !flags.incoming.empty() || !flags.restore.empty();
  if (receives_guest && (!flags.kernel.empty() || !flags.initrd.empty() || flags.cmdline.has_value())) {
    return absl::InvalidArgumentError(absl::StrCat(
        flags.incoming.empty() ? "--restore" : "--incoming",
        " takes the guest from its source: --kernel, --initrd and --cmdline do not apply"));
  }
  config.incoming = flags.incoming;
  config.restore_path = flags.restore;
  RETURN_IF_ERROR(ApplyMigrationTransport(flags, config));
  config.profile_guest_path = flags.profile_guest;
  if (!flags.restore.empty() && ::access(flags.restore.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read snapshot ", flags.restore));
  }
  if (receives_guest) {
    // No kernel to find; the rest of the flags still shape the VM.
  } else if (default_image) {
    config.kernel_path = flags.guest_image_dir + "/vmlinux";
    config.initrd_path = flags.initrd.empty() ? flags.guest_image_dir + "/initramfs.cpio" : flags.initrd;
    if (::access(config.kernel_path.c_str(), R_OK) != 0) {
      return absl::NotFoundError(absl::StrCat(
          "no --kernel given and the default guest image ", config.kernel_path,
          " is missing: build it with guest-images/build.sh"));
    }
  } else {
    config.kernel_path = flags.kernel;
    config.initrd_path = flags.initrd;
  }
  if (!receives_guest && ::access(config.kernel_path.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read kernel ", config.kernel_path));
  }
  if (!config.initrd_path.empty() && ::access(config.initrd_path.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read initrd ", config.initrd_path));
  }

  if (flags.cmdline.has_value()) {
    config.cmdline = *flags.cmdline;
  } else {
    config.cmdline = "console=ttyS0";
    if (default_image) {
      std::string extra = ReadFirstLine(flags.guest_image_dir + "/cmdline");
      if (!extra.empty()) absl::StrAppend(&config.cmdline, " ", extra);
    }
  }

  absl::StatusOr<uint64_t> memory = base::ParseSize(flags.memory);
  if (!memory.ok()) return absl::InvalidArgumentError(absl::StrCat("--memory: ", memory.status().message()));
  if (*memory < kMinGuestMemory) {
    return absl::InvalidArgumentError(absl::StrCat("--memory ", flags.memory, " is too small: at least 64M"));
  }
  if (*memory % (2ull << 20) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--memory ", flags.memory, " must be a multiple of 2M"));
  }
  if (flags.host_memory_bytes != 0 && *memory > flags.host_memory_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("--memory ", flags.memory, " is more than this host's ",
                                                     flags.host_memory_bytes >> 20, " MiB of RAM"));
  }
  config.memory_size = *memory;
  ASSIGN_OR_RETURN(config.memory_backend, memory::ParseMemoryBackend(flags.memory_backend));

  if (flags.cpus < 1 || flags.cpus > kMaxCpus) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cpus must be between 1 and ", kMaxCpus, ", not ", flags.cpus));
  }
  config.cpus = static_cast<uint32_t>(flags.cpus);

  if (flags.console == "stdio") {
    config.console.output_file.clear();
  } else if (absl::StartsWith(flags.console, "file:") && flags.console.size() > 5) {
    config.console.output_file = flags.console.substr(5);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--console must be 'stdio' or 'file:PATH', not '", flags.console, "'"));
  }

  if (!flags.timeout.empty()) {
    absl::Duration timeout;
    if (!absl::ParseDuration(flags.timeout, &timeout) || timeout <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--timeout must be a positive duration like 90s or 5m, not '", flags.timeout, "'"));
    }
    config.timeout = timeout;
  }
  config.api_socket = flags.api_socket;
  ASSIGN_OR_RETURN(config.api_socket_mode, ParseSocketMode(flags.api_socket_mode));
  config.devices.balloon = flags.balloon;
  config.devices.balloon_deflate_on_oom = flags.balloon_deflate_on_oom;
  config.devices.balloon_reporting = flags.balloon_reporting;
  if (flags.balloon_chunks == "true" || flags.balloon_chunks == "false") {
    config.devices.balloon_chunks = flags.balloon_chunks == "true";
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--balloon-chunks must be 'true' or 'false', not '", flags.balloon_chunks, "'"));
  }
  config.mmio_cmdline = flags.mmio_cmdline;
  config.migration_write_tracking = flags.migration_write_tracking;
  if (flags.virtio_notify == "inline") {
    config.devices.virtio_notify = VirtioNotifyMode::kInline;
  } else if (flags.virtio_notify == "thread") {
    config.devices.virtio_notify = VirtioNotifyMode::kDeviceThread;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--virtio-notify must be 'inline' or 'thread', not '", flags.virtio_notify, "'"));
  }
  absl::StatusOr<uint64_t> balloon = base::ParseSize(flags.balloon_size);
  if (!balloon.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--balloon-size: ", balloon.status().message()));
  }
  if (*balloon % (1ull << 20) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--balloon-size ", flags.balloon_size, " must be whole MiB"));
  }
  if (*balloon >= config.memory_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("--balloon-size ", flags.balloon_size, " must be below --memory ", flags.memory));
  }
  if (*balloon > 0 && !flags.balloon) {
    return absl::InvalidArgumentError("--balloon-size needs the balloon (--balloon)");
  }
  config.devices.balloon_size = *balloon;
  for (const std::string& disk : flags.disks) {
    ASSIGN_OR_RETURN(DiskConfig parsed, ParseDiskFlag(disk));
    config.devices.disks.push_back(std::move(parsed));
  }
  for (const std::string& net : flags.nets) {
    ASSIGN_OR_RETURN(NetConfig parsed, ParseNetFlag(net));
    for (const NetConfig& earlier : config.devices.nets) {
      if (earlier.tap == parsed.tap) {
        return absl::InvalidArgumentError(absl::StrCat("--net '", net, "': tap '", parsed.tap, "' is given twice"));
      }
      if (parsed.mac.has_value() && earlier.mac == parsed.mac) {
        return absl::InvalidArgumentError(absl::StrCat("--net '", net, "': MAC ", devices::FormatMacAddress(*parsed.mac),
                                                       " is given twice"));
      }
    }
    config.devices.nets.push_back(std::move(parsed));
  }
  // The source VMM holds its disks' locks until it exits (or for ever,
  // should it resume): a destination locks them once the guest is its.
  config.devices.defer_disk_locks = !flags.incoming.empty() || !flags.restore.empty();
  ASSIGN_OR_RETURN(config.seccomp, seccomp::ParseSeccompMode(flags.seccomp));
  return config;
}

absl::StatusOr<DiskConfig> ParseDiskFlag(const std::string& value) {
  std::vector<std::string> parts = absl::StrSplit(value, ',');
  DiskConfig disk{.path = parts[0]};
  if (disk.path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--disk '", value, "' has no image path (expected PATH[,readonly][,direct])"));
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    bool* option = parts[i] == "readonly" ? &disk.readonly : parts[i] == "direct" ? &disk.direct : nullptr;
    if (option == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("--disk '", value, "': unknown option '", parts[i],
                                                     "' (expected PATH[,readonly][,direct])"));
    }
    if (*option) {
      return absl::InvalidArgumentError(absl::StrCat("--disk '", value, "': '", parts[i], "' is given twice"));
    }
    *option = true;
  }
  return disk;
}

absl::StatusOr<NetConfig> ParseNetFlag(const std::string& value) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--net '", value, "': ", why, " (expected tap=NAME[,mac=MAC])"));
  };
  NetConfig net;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == "tap" && net.tap.empty() && !kv.second.empty()) {
      net.tap = std::string(kv.second);
    } else if (kv.first == "mac" && !net.mac.has_value()) {
      absl::StatusOr<devices::MacAddress> mac = devices::ParseMacAddress(kv.second);
      if (!mac.ok()) return absl::InvalidArgumentError(absl::StrCat("--net '", value, "': ", mac.status().message()));
      net.mac = *mac;
    } else if (kv.first == "tap" || kv.first == "mac") {
      return bad(absl::StrCat("'", part, "' is empty or given twice"));
    } else {
      return bad(absl::StrCat("unknown option '", part, "'"));
    }
  }
  if (net.tap.empty()) return bad("no tap=NAME");
  // Linux's limit (IFNAMSIZ less the terminating zero); '/' and ':' and
  // blanks are not allowed in interface names.
  if (net.tap.size() > 15 || net.tap.find_first_of("/: \t\n") != std::string::npos) {
    return bad(absl::StrCat("'", net.tap, "' is not an interface name (at most 15 characters, no '/', ':' or blanks)"));
  }
  return net;
}

std::vector<std::string> TakeRepeatedFlag(absl::string_view flag, int& argc, char** argv) {
  const std::string with_value = absl::StrCat(flag, "=");
  std::vector<std::string> values;
  int out = 1;
  int i = 1;
  for (; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (absl::StartsWith(arg, with_value)) {
      values.emplace_back(arg.substr(with_value.size()));
      continue;
    }
    if (arg == flag && i + 1 < argc) {
      values.emplace_back(argv[++i]);
      continue;
    }
    argv[out++] = argv[i];
  }
  for (; i < argc; ++i) argv[out++] = argv[i];
  argc = out;
  return values;
}

}  // namespace vmm
