// SPDX-License-Identifier: MIT
#include "migration/transport_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace migration {

bool IsLoopback(const Endpoint& endpoint) {
  if (absl::AsciiStrToLower(endpoint.host) == "localhost") return true;
  in_addr v4;
  if (::inet_pton(AF_INET, endpoint.host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (::inet_pton(AF_INET6, endpoint.host.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

absl::Status CheckTransport(const Endpoint& endpoint, const TransportPolicy& policy) {
  switch (endpoint.kind) {
    case Endpoint::Kind::kUnix:
      return absl::OkStatus();
    case Endpoint::Kind::kTls:
      if (policy.have_tls_credentials) return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrCat(endpoint.ToString(), " needs TLS credentials: start the VMM with --tls-dir DIR"));
    case Endpoint::Kind::kTcp:
      if (policy.insecure || IsLoopback(endpoint)) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrCat(
          endpoint.ToString(), " would carry the guest's memory unencrypted and unauthenticated to or from ",
          endpoint.host.empty() ? "any address" : endpoint.host, ": use tls:", endpoint.host, ":", endpoint.port,
          " with --tls-dir, or start the VMM with --insecure to allow plain tcp: beyond loopback"));
  }
  return absl::OkStatus();
}

}  // namespace migration
