// Turns the `vmm run` flags (as strings, the way the user typed them) into a
// MachineConfig, with one clear error per bad value. This is the one place
// the command line is validated: Machine and the devices take the config as
// checked here. Kept apart from the Abseil flag definitions so it is
// unit-tested directly.
#ifndef VMM_RUN_OPTIONS_H_
#define VMM_RUN_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "vmm/machine.h"

namespace vmm {

struct RunFlags {
  std::string kernel;   // empty: the default guest image
  std::string initrd;   // empty: the default image's initramfs (only with the default kernel)
  std::optional<std::string> cmdline;  // unset: console=ttyS0 + the image's options
  std::string memory = "512M";
  int64_t cpus = 1;
  std::string console = "stdio";  // or file:PATH
  std::string timeout;  // empty: none; else a duration like 90s or 5m
  std::string api_socket;
  bool balloon = true;
  std::string balloon_size = "0";
  bool balloon_deflate_on_oom = false;
  bool balloon_reporting = true;
  bool mmio_cmdline = false;
  std::string virtio_notify = "inline";  // or "thread"
  bool migration_write_tracking = true;
  std::string incoming;      // tcp:HOST:PORT or unix:PATH: receive a migrating guest
  std::string restore;       // a snapshot file to start from
  std::string profile_guest;  // a file for guest RIP samples (developer tool)
  std::string guest_image_dir;  // where the default image lives
  uint64_t host_memory_bytes = 0;  // 0: unknown (no upper check)
};

inline constexpr uint64_t kMinGuestMemory = 64ull << 20;
// xAPIC IDs are 8 bits and 255 is the broadcast ID.
inline constexpr int64_t kMaxCpus = 255;

absl::StatusOr<MachineConfig> BuildMachineConfig(const RunFlags& flags);

// guest-images/out next to the source tree this binary was built from, or
// $VMM_GUEST_IMAGE_DIR.
std::string DefaultGuestImageDir();

}  // namespace vmm

#endif  // VMM_RUN_OPTIONS_H_
