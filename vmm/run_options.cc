#include "vmm/run_options.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "base/size_parse.h"
#include "base/status_macros.h"

namespace vmm {
namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
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
  config.devices.balloon = flags.balloon;
  config.devices.balloon_deflate_on_oom = flags.balloon_deflate_on_oom;
  config.devices.balloon_reporting = flags.balloon_reporting;
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
  return config;
}

}  // namespace vmm
