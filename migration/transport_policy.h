// SPDX-License-Identifier: MIT
// Which migration transports this VMM accepts: tls: needs credentials
// (--tls-dir); plain tcp: carries the guest unencrypted and unauthenticated,
// so it is allowed to a loopback address only, unless the operator says
// --insecure; unix: is local by nature.
#ifndef MIGRATION_TRANSPORT_POLICY_H_
#define MIGRATION_TRANSPORT_POLICY_H_

#include "absl/status/status.h"
#include "migration/channel.h"

namespace migration {

struct TransportPolicy {
  bool have_tls_credentials = false;
  bool insecure = false;  // plain tcp: to any address
};

// Only literal addresses count: 127.0.0.0/8, ::1, ::ffff:127.x.y.z and the
// name "localhost". A wildcard ("" / 0.0.0.0 / ::) listens on every
// interface, so it is not loopback.
bool IsLoopback(const Endpoint& endpoint);

// InvalidArgument saying what to use instead when `endpoint` is not
// allowed.
absl::Status CheckTransport(const Endpoint& endpoint, const TransportPolicy& policy);

}  // namespace migration

#endif  // MIGRATION_TRANSPORT_POLICY_H_
