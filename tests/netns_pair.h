// SPDX-License-Identifier: MIT
// Two network namespaces joined by a veth pair, standing in for two hosts
// in the migration guest tests (made here with iproute2, addresses only
// inside them, removed at the end), and RunInNetns, which lets the test
// process itself open sockets on one of those "hosts".
#ifndef TESTS_NETNS_PAIR_H_
#define TESTS_NETNS_PAIR_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tests {

// Runs `command` through the shell, its output discarded (what it redirects
// itself excepted); the exit status.
int Shell(const std::string& command);

// Hosts A (SUBNET.1) and B (SUBNET.2), one veth pair between them. The
// names carry this process's pid, so test processes do not collide.
class NetnsPair {
 public:
  NetnsPair();
  ~NetnsPair();
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;

  bool ok() const { return ok_; }
  // The prefix that runs a command on host `ns`.
  std::vector<std::string> In(const std::string& ns) const { return {"ip", "netns", "exec", ns}; }
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }
  std::string AddressA() const { return subnet_ + "1"; }
  std::string AddressB() const { return subnet_ + "2"; }
  // B's end of the link.
  const std::string& VethB() const { return veth_b_; }
  // Bytes host B has received on the link; nullopt when the counter cannot
  // be read.
  std::optional<uint64_t> BytesReceivedByB() const;

 private:
  void Remove();
  std::string a_, b_, subnet_, veth_a_, veth_b_;
  bool ok_ = false;
};

// Runs `fn` on a thread that has entered the network namespace `ns` (as
// made by `ip netns add`): sockets it creates belong to that namespace and
// stay there when used from other threads. The calling thread's namespace
// is untouched. Returns why the namespace could not be entered.
absl::Status RunInNetns(const std::string& ns, const std::function<void()>& fn);

}  // namespace tests

#endif  // TESTS_NETNS_PAIR_H_
