// SPDX-License-Identifier: MIT
// devices::Tap: the host end of a guest NIC, a tap device opened through
// /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR. Every read gives
// one frame behind a 12-byte virtio-net header (TUNSETVNETHDRSZ), every
// write takes one, so frames move between the tap and the guest's buffers
// with the header as the guest wrote or will read it.
//
// Offloads: TUNSETOFFLOAD says which kinds of frame the tap may hand to the
// VMM (partial checksums, TSO); they follow what the guest's driver
// accepted (GUEST_CSUM, GUEST_TSO4/6), and are off while no driver runs.
// What the guest transmits needs no setting: the tap takes any header.
//
// The fd is non-blocking; the device's worker polls it.
#ifndef DEVICES_NET_TAP_H_
#define DEVICES_NET_TAP_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace devices {

class Tap {
 public:
  // Opens (or creates, given CAP_NET_ADMIN) the tap `name`. The error
  // names the tap and what to check.
  static absl::StatusOr<Tap> Open(const std::string& name);
  // Any fd that keeps frame boundaries (a SOCK_SEQPACKET or SOCK_DGRAM
  // socket), for tests and fuzzing: frames carry the header the same way,
  // and SetOffloads only records what it was asked.
  static Tap ForTesting(base::UniqueFd fd, std::string name);

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }
  // Whether the tap takes TUNSETOFFLOAD with checksum and TSO (probed at
  // Open); without, the device offers none of those features.
  bool offloads_supported() const { return offloads_supported_; }
  // TUN_F_* bits; the tap keeps the last ones set.
  absl::Status SetOffloads(unsigned tun_flags);
  unsigned offloads() const { return offloads_; }

 private:
  Tap(base::UniqueFd fd, std::string name, bool is_tap) : fd_(std::move(fd)), name_(std::move(name)), is_tap_(is_tap) {}

  base::UniqueFd fd_;
  std::string name_;
  bool is_tap_ = true;
  bool offloads_supported_ = false;
  unsigned offloads_ = 0;
};

}  // namespace devices

#endif  // DEVICES_NET_TAP_H_
