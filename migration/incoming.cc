// SPDX-License-Identifier: MIT
#include "migration/incoming.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "migration/wire_format.h"

namespace migration {
namespace {

// The handshake and the preamble, by `deadline`; on success the preamble
// is back in the channel for the receiver.
absl::Status CheckConnection(Channel& channel, const Listener& listener, const IncomingOptions& options,
                             absl::Time deadline) {
  if (listener.endpoint().kind == Endpoint::Kind::kTls) {
    RETURN_IF_ERROR(channel.StartTls(*options.tls, TlsRole::kServer, deadline));
  }
  const absl::Duration left = deadline - absl::Now();
  channel.set_io_timeout(left > absl::ZeroDuration() ? left : absl::Milliseconds(1));
  Preamble preamble;
  RETURN_IF_ERROR(channel.ReadExact(&preamble, sizeof(preamble)));
  RETURN_IF_ERROR(CheckPreamble(preamble));
  channel.Unread({reinterpret_cast<const uint8_t*>(&preamble), sizeof(preamble)});
  channel.set_io_timeout(options.io_timeout);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Channel> AcceptSource(Listener& listener, const IncomingOptions& options) {
  if (listener.endpoint().kind == Endpoint::Kind::kTls && options.tls == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(listener.endpoint().ToString(), " needs TLS credentials: start the VMM with --tls-dir DIR"));
  }
  const absl::Time give_up =
      options.wait == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + options.wait;
  int dropped = 0;
  base::RateLimiter log_limit(100);  // a flood of connections must not flood the log
  while (true) {
    const absl::Duration left = give_up == absl::InfiniteFuture() ? absl::InfiniteDuration() : give_up - absl::Now();
    absl::StatusOr<Channel> channel =
        listener.Accept(left > absl::ZeroDuration() ? left : absl::ZeroDuration());
    if (absl::IsDeadlineExceeded(channel.status())) {
      return absl::DeadlineExceededError(absl::StrCat("no migration source arrived on ", listener.endpoint().ToString(),
                                                      " within --incoming-timeout ",
                                                      absl::FormatDuration(options.wait), " (", dropped,
                                                      " connection(s) dropped)"));
    }
    if (!channel.ok()) return channel.status();
    const absl::Time deadline = std::min(absl::Now() + options.per_connection, give_up);
    absl::Status checked = CheckConnection(*channel, listener, options, deadline);
    if (checked.ok()) {
      if (listener.endpoint().kind == Endpoint::Kind::kTls) {
        LOG_INFO("migration: source %s: %s, record layer: %s", channel->name(), channel->DescribeTls(),
                 channel->Encryption());
      }
      return std::move(*channel);
    }
    ++dropped;
    if (log_limit.Allow()) LOG_WARNING("migration: dropped the connection from %s: %s", channel->name(), std::string(checked.message()));
  }
}

}  // namespace migration
