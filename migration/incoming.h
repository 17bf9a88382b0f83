// SPDX-License-Identifier: MIT
// AcceptSource: the destination's wait for its migration source. The
// listening port is open to anyone who can reach it, so each connection is
// checked before the receiver sees it: the TLS handshake (for tls:, with
// the source's certificate verified) and the stream's preamble, both
// within a per-connection time limit. A connection that fails either, or
// closes early, is logged (one line naming the peer and why) and dropped,
// and the wait goes on, until a connection passes or the overall wait
// (--incoming-timeout) runs out.
#ifndef MIGRATION_INCOMING_H_
#define MIGRATION_INCOMING_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "migration/channel.h"
#include "migration/tls_credentials.h"

namespace migration {

struct IncomingOptions {
  // Required for a tls: listener (this side presents the server pair).
  const TlsCredentials* tls = nullptr;
  // How long to wait for a connection that passes; infinite by default.
  absl::Duration wait = absl::InfiniteDuration();
  // How long one connection may take to finish its handshake and send the
  // preamble. Shorter than the source's own connect limit
  // (kDefaultIoTimeout), so one bad connection ahead of the real source
  // cannot make the source give up.
  absl::Duration per_connection = absl::Seconds(5);
  // The accepted channel's io_timeout for the stream that follows.
  absl::Duration io_timeout = kDefaultIoTimeout;
};

// The first connection that passes, with its preamble put back for the
// Receiver (which checks it again). DeadlineExceeded once `wait` is over,
// saying how many connections were dropped.
absl::StatusOr<Channel> AcceptSource(Listener& listener, const IncomingOptions& options);

}  // namespace migration

#endif  // MIGRATION_INCOMING_H_
