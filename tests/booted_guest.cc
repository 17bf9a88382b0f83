// SPDX-License-Identifier: MIT
#include "tests/booted_guest.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/guest_process.h"

namespace tests {
namespace {

constexpr char kReadyMarker[] = "VMM-GUEST-READY";
// Boots take minutes here; two guests may boot side by side under ctest -j.
const absl::Duration kBootTimeout = absl::Seconds(600);

// Modification time in nanoseconds, 0 when the file is missing.
int64_t MtimeNs(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// A snapshot is reusable while it is newer than everything it came from.
bool IsFresh(const std::string& snapshot) {
  const int64_t saved = MtimeNs(snapshot);
  if (saved == 0) return false;
  for (const std::string& input :
       {VmmBinary(), GuestImageDir() + "/vmlinux", GuestImageDir() + "/initramfs.cpio"}) {
    if (MtimeNs(input) >= saved) return false;
  }
  return true;
}

// Holds an exclusive flock for its lifetime: one process boots, the others
// wait and then find the snapshot made.
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ >= 0) locked_ = ::flock(fd_, LOCK_EX) == 0;
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool locked() const { return locked_; }

 private:
  int fd_;
  bool locked_ = false;
};

absl::Status BootAndSave(const std::vector<std::string>& shape, const std::string& snapshot) {
  const std::string socket = absl::StrCat(snapshot, ".", ::getpid(), ".sock");
  const std::string partial = absl::StrCat(snapshot, ".", ::getpid(), ".partial");
  GuestProcess vm(RunArgs(shape, {"--api-socket", socket}));
  if (!vm.WaitFor(kReadyMarker, kBootTimeout)) {
    return absl::DeadlineExceededError(absl::StrCat("the guest to snapshot did not boot: ", vm.stderr_text()));
  }
  // The shell is at its prompt once a command has round-tripped.
  if (!vm.RunCommand("true", absl::Seconds(120)).has_value()) {
    return absl::DeadlineExceededError("the booted guest's shell did not answer");
  }
  GuestProcess ctl({"ctl", "--api", socket, "snapshot", partial});
  if (ctl.WaitExit(absl::Seconds(300)) != 0) {
    ::unlink(partial.c_str());
    return absl::InternalError(absl::StrCat("vmm ctl snapshot failed: ", ctl.stderr_text(), vm.stderr_text()));
  }
  vm.Send("poweroff -f\n");
  (void)vm.WaitExit(absl::Seconds(60));
  if (::rename(partial.c_str(), snapshot.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename the snapshot to ", snapshot));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> BootedGuestSnapshot(const std::vector<std::string>& shape) {
  const std::string dir = SNAPSHOT_CACHE_DIR;
  ::mkdir(dir.c_str(), 0755);
  const size_t key = std::hash<std::string>{}(absl::StrJoin(shape, " "));
  const std::string snapshot = absl::StrCat(dir, "/guest-", absl::Hex(key), ".snap");
  FileLock lock(snapshot + ".lock");
  if (!lock.locked()) return absl::InternalError(absl::StrCat("cannot lock ", snapshot, ".lock"));
  if (IsFresh(snapshot)) return snapshot;
  ::unlink(snapshot.c_str());
  if (absl::Status saved = BootAndSave(shape, snapshot); !saved.ok()) return saved;
  return snapshot;
}

std::vector<std::string> RunArgs(const std::vector<std::string>& shape, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"run"};
  args.insert(args.end(), shape.begin(), shape.end());
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::vector<std::string> RestoreArgs(const std::vector<std::string>& shape, const std::string& snapshot,
                                     const std::vector<std::string>& extra) {
  std::vector<std::string> args = RunArgs(shape, {"--restore", snapshot});
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace tests
