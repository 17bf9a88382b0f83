// SPDX-License-Identifier: MIT
// HugetlbReservation: for tests only. Raises /proc/sys/vm/nr_hugepages by a
// few 2 MiB pages for the test's lifetime and puts the old value back, under
// an flock so that tests running in parallel (ctest -j) do not undo each
// other's reservations. Needs root; a host that cannot reserve reports why,
// for GTEST_SKIP.
#ifndef MEMORY_TESTING_HUGETLB_RESERVATION_H_
#define MEMORY_TESTING_HUGETLB_RESERVATION_H_

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "base/unique_fd.h"
#include "memory/memory_backend.h"

namespace memory {

class HugetlbReservation {
 public:
  explicit HugetlbReservation(uint64_t pages)
      : lock_(::open("/tmp/vmm-hugetlb-test.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (!lock_.valid() || ::flock(lock_.get(), LOCK_EX) != 0) {
      why_not_ = "cannot take /tmp/vmm-hugetlb-test.lock";
      return;
    }
    old_ = Read();
    if (FreeHugetlbPages() >= pages) {
      ok_ = true;  // enough already: leave the host's setting alone
      return;
    }
    if (!Write(old_ + pages) || FreeHugetlbPages() < pages) {
      why_not_ = "the host has " + std::to_string(FreeHugetlbPages()) +
                 " free 2 MiB hugetlb pages and /proc/sys/vm/nr_hugepages could not provide " +
                 std::to_string(pages) + " (not root, or memory too fragmented)";
      Write(old_);
      return;
    }
    changed_ = true;
    ok_ = true;
  }
  ~HugetlbReservation() {
    if (changed_) Write(old_);
  }
  HugetlbReservation(const HugetlbReservation&) = delete;
  HugetlbReservation& operator=(const HugetlbReservation&) = delete;

  bool ok() const { return ok_; }
  const std::string& why_not() const { return why_not_; }
  // Sets nr_hugepages (inside the lock), for the "none reserved" case.
  bool SetTotal(uint64_t pages) {
    changed_ = true;
    return Write(pages);
  }
  uint64_t original() const { return old_; }

 private:
  static uint64_t Read() {
    std::ifstream in("/proc/sys/vm/nr_hugepages");
    uint64_t n = 0;
    in >> n;
    return n;
  }
  static bool Write(uint64_t pages) {
    std::ofstream out("/proc/sys/vm/nr_hugepages");
    out << pages << "\n";
    out.flush();
    return static_cast<bool>(out) && Read() == pages;
  }

  base::UniqueFd lock_;
  uint64_t old_ = 0;
  bool ok_ = false;
  bool changed_ = false;
  std::string why_not_;
};

}  // namespace memory

#endif  // MEMORY_TESTING_HUGETLB_RESERVATION_H_
