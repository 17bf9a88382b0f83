// SPDX-License-Identifier: MIT
#include "devices/net/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "devices/net/net_header.h"

namespace devices {
namespace {

std::string Hint(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
      return " (creating a tap needs CAP_NET_ADMIN; or create it first with `ip tuntap add NAME mode tap user "
             "USER vnet_hdr` and run as that user)";
    case EBUSY: return " (another process has it open, or it exists as a tun rather than a tap device)";
    case ENOENT:
    case ENODEV: return " (no /dev/net/tun: load the tun module)";
    case EINVAL: return " (it exists with other flags: it must be a tap made with vnet_hdr)";
    default: return "";
  }
}

}  // namespace

absl::StatusOr<Tap> Tap::Open(const std::string& name) {
  auto fail = [&](const char* what, int err) {
    return absl::Status(absl::ErrnoToStatus(err, "").code(),
                        absl::StrCat("cannot open tap '", name, "': ", what, ": ", std::strerror(err), Hint(err)));
  };
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(
        absl::StrCat("tap name '", name, "' must be 1 to ", IFNAMSIZ - 1, " characters"));
  }
  base::UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return fail("open /dev/net/tun", errno);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) return fail("TUNSETIFF", errno);
  int header_bytes = kNetHeaderBytes;
  if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &header_bytes) < 0) return fail("TUNSETVNETHDRSZ", errno);
  Tap tap(std::move(fd), name, /*is_tap=*/true);
  // A tap that refuses the offloads (an old kernel, a restricted one)
  // still carries plain frames.
  tap.offloads_supported_ = ::ioctl(tap.fd(), TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0;
  if (::ioctl(tap.fd(), TUNSETOFFLOAD, 0) < 0) return fail("TUNSETOFFLOAD", errno);
  return tap;
}

Tap Tap::ForTesting(base::UniqueFd fd, std::string name) {
  Tap tap(std::move(fd), std::move(name), /*is_tap=*/false);
  tap.offloads_supported_ = true;
  return tap;
}

absl::Status Tap::SetOffloads(unsigned tun_flags) {
  if (is_tap_ && ::ioctl(fd_.get(), TUNSETOFFLOAD, tun_flags) < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("TUNSETOFFLOAD 0x", absl::Hex(tun_flags), " on tap ", name_));
  }
  offloads_ = tun_flags;
  return absl::OkStatus();
}

}  // namespace devices
