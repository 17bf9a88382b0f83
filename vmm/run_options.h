// SPDX-License-Identifier: MIT
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
#include <vector>

#include "absl/status/statusor.h"
#include "vmm/machine.h"
#include "vmm/seccomp/seccomp_mode.h"

namespace vmm {

struct RunFlags {
  std::string kernel;   // empty: the default guest image
  std::string initrd;   // empty: the default image's initramfs (only with the default kernel)
  std::optional<std::string> cmdline;  // unset: console=ttyS0 + the image's options
  std::string memory = "512M";
  std::string memory_backend = "memfd";  // or thp, hugetlb
  int64_t cpus = 1;
  std::string console = "stdio";  // or file:PATH
  std::string timeout;  // empty: none; else a duration like 90s or 5m
  std::string api_socket;
  std::string api_socket_mode = "0600";  // octal
  bool balloon = true;
  std::string balloon_size = "0";
  bool balloon_deflate_on_oom = false;
  bool balloon_reporting = true;
  // "true" offers the range format (the default); "false" only PFN arrays.
  std::string balloon_chunks = "true";
  std::vector<std::string> disks;  // each --disk as typed: PATH[,readonly][,direct]
  std::vector<std::string> nets;   // each --net as typed: tap=NAME[,mac=MAC]
  bool mmio_cmdline = false;
  std::string virtio_notify = "inline";  // or "thread"
  bool migration_write_tracking = true;
  std::string incoming;      // tls:HOST:PORT, tcp:HOST:PORT or unix:PATH: receive a migrating guest
  std::string incoming_timeout;  // empty: wait for the source for ever
  std::string tls_dir;       // the migration channel's certificates (tls_credentials.h)
  std::string tls_peer_name;  // the name the migration peer's certificate must carry
  bool insecure = false;     // allow plain tcp: migration beyond loopback
  std::string restore;       // a snapshot file to start from
  std::string profile_guest;  // a file for guest RIP samples (developer tool)
  std::string seccomp = seccomp::SeccompModeName(seccomp::DefaultSeccompMode());  // on, log or off
  std::string guest_image_dir;  // where the default image lives
  uint64_t host_memory_bytes = 0;  // 0: unknown (no upper check)
};

inline constexpr uint64_t kMinGuestMemory = 64ull << 20;
// xAPIC IDs are 8 bits and 255 is the broadcast ID.
inline constexpr int64_t kMaxCpus = 255;

absl::StatusOr<MachineConfig> BuildMachineConfig(const RunFlags& flags);

// One --disk value, PATH[,readonly][,direct]; the error quotes what was typed.
absl::StatusOr<DiskConfig> ParseDiskFlag(const std::string& value);

// One --net value, tap=NAME[,mac=MAC]; the error quotes what was typed.
absl::StatusOr<NetConfig> ParseNetFlag(const std::string& value);

// Takes every "--NAME VALUE" and "--NAME=VALUE" (`flag` is "--disk" or
// "--net") out of argv (before "--"), in order, shifting the rest down and
// lowering argc: the flag repeats, which Abseil's flags cannot express (a
// repeated flag keeps its last value, and a list flag splits at the commas
// ",readonly" uses). A trailing flag with no value is left for the flag
// parser to refuse.
std::vector<std::string> TakeRepeatedFlag(absl::string_view flag, int& argc, char** argv);

// guest-images/out next to the source tree this binary was built from, or
// $VMM_GUEST_IMAGE_DIR.
std::string DefaultGuestImageDir();

}  // namespace vmm

#endif  // VMM_RUN_OPTIONS_H_
