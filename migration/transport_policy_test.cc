// SPDX-License-Identifier: MIT
#include "migration/transport_policy.h"

#include "gtest/gtest.h"

namespace migration {
namespace {

Endpoint Parsed(const char* text) {
  absl::StatusOr<Endpoint> e = ParseEndpoint(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status();
  return *e;
}

TEST(TransportPolicyTest, OnlyLiteralLoopbackAddressesAreLoopback) {
  for (const char* yes : {"tcp:127.0.0.1:1", "tcp:127.9.8.7:1", "tcp:[::1]:1", "tcp:localhost:1", "tcp:LocalHost:1",
                          "tcp:[::ffff:127.0.0.1]:1"}) {
    EXPECT_TRUE(IsLoopback(Parsed(yes))) << yes;
  }
  for (const char* no : {"tcp:10.0.0.2:1", "tcp:0.0.0.0:1", "tcp::1", "tcp:[::]:1", "tcp:example.com:1",
                         "tcp:128.0.0.1:1", "tcp:[::ffff:10.0.0.1]:1", "tcp:localhost.evil.example:1"}) {
    EXPECT_FALSE(IsLoopback(Parsed(no))) << no;
  }
}

TEST(TransportPolicyTest, PlainTcpBeyondLoopbackNeedsInsecure) {
  const Endpoint remote = Parsed("tcp:10.0.0.2:7000");
  absl::Status refused = CheckTransport(remote, {});
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("tcp:10.0.0.2:7000"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("--insecure"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("tls:10.0.0.2:7000"), std::string::npos) << refused;
  EXPECT_TRUE(CheckTransport(remote, {.insecure = true}).ok());
  EXPECT_FALSE(CheckTransport(Parsed("tcp:0.0.0.0:7000"), {.have_tls_credentials = true}).ok());
  EXPECT_TRUE(CheckTransport(Parsed("tcp:127.0.0.1:7000"), {}).ok());
  EXPECT_TRUE(CheckTransport(Parsed("unix:/tmp/x"), {}).ok());
}

TEST(TransportPolicyTest, TlsNeedsCredentials) {
  absl::Status refused = CheckTransport(Parsed("tls:10.0.0.2:7000"), {.insecure = true});
  EXPECT_NE(refused.message().find("--tls-dir"), std::string::npos) << refused;
  EXPECT_TRUE(CheckTransport(Parsed("tls:10.0.0.2:7000"), {.have_tls_credentials = true}).ok());
}

}  // namespace
}  // namespace migration
