// SPDX-License-Identifier: MIT
#include "migration/channel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"
#include "migration/testing/loopback.h"

namespace migration {
namespace {

TEST(EndpointTest, ParsesTcpAndUnixAndRejectsTheRest) {
  auto tcp = ParseEndpoint("tcp:10.0.0.2:4444");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(tcp->host, "10.0.0.2");
  EXPECT_EQ(tcp->port, 4444);
  auto v6 = ParseEndpoint("tcp:[::1]:80");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "tcp:[::1]:80");
  auto tls = ParseEndpoint("tls:dest.example:7000");
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(tls->kind, Endpoint::Kind::kTls);
  EXPECT_EQ(tls->host, "dest.example");
  EXPECT_EQ(tls->ToString(), "tls:dest.example:7000");
  auto unix_ep = ParseEndpoint("unix:/tmp/x.sock");
  ASSERT_TRUE(unix_ep.ok());
  EXPECT_EQ(unix_ep->path, "/tmp/x.sock");
  for (const char* bad : {"", "10.0.0.2:4444", "tcp:host", "tcp:host:0", "tcp:host:70000", "tcp:host:x", "unix:",
                          "udp:1.2.3.4:5", "tls:host", "tls:host:0"}) {
    EXPECT_FALSE(ParseEndpoint(bad).ok()) << bad;
  }
}

class ListenerTest : public ::testing::TestWithParam<bool> {
 protected:
  std::string Where() const {
    if (GetParam()) return "tcp:127.0.0.1:" + std::to_string(NextLoopbackPort());
    return "unix:" + ::testing::TempDir() + "/channel-test-" + std::to_string(::getpid()) + ".sock";
  }
};

TEST_P(ListenerTest, AcceptsAndBytesArriveIntact) {
  auto endpoint = ParseEndpoint(Where());
  ASSERT_TRUE(endpoint.ok());
  auto listener = Listener::Listen(*endpoint);
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::vector<uint8_t> sent(3 << 20);
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<uint8_t>(i * 7);
  std::thread writer([&] {
    auto out = Channel::Connect(*endpoint);
    ASSERT_TRUE(out.ok()) << out.status();
    // Three iovecs, the middle one large: partial writes must be resumed.
    iovec iov[] = {{sent.data(), 10}, {sent.data() + 10, sent.size() - 20}, {sent.data() + sent.size() - 10, 10}};
    ASSERT_TRUE(out->WriteAll(iov).ok());
    EXPECT_EQ(out->bytes_written(), sent.size());
  });
  auto in = listener->Accept(absl::Seconds(10));
  ASSERT_TRUE(in.ok()) << in.status();
  std::vector<uint8_t> got(sent.size());
  ASSERT_TRUE(in->ReadExact(got.data(), got.size()).ok());
  writer.join();
  EXPECT_EQ(got, sent);
  uint8_t extra;
  absl::Status eof = in->ReadExact(&extra, 1);
  EXPECT_NE(eof.message().find("truncated"), std::string::npos) << eof;
}

INSTANTIATE_TEST_SUITE_P(Transports, ListenerTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Tcp" : "Unix"; });

TEST(ChannelTest, ListeningOnAnAddressInUseNamesTheEndpoint) {
  auto endpoint = ParseEndpoint("tcp:127.0.0.1:" + std::to_string(NextLoopbackPort()));
  ASSERT_TRUE(endpoint.ok());
  auto first = Listener::Listen(*endpoint);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Listener::Listen(*endpoint);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot listen on " + endpoint->ToString()), std::string::npos)
      << second.status();
}

TEST(ChannelTest, ConnectionRefusedNamesTheEndpoint) {
  auto endpoint = ParseEndpoint("tcp:127.0.0.1:1");
  ASSERT_TRUE(endpoint.ok());
  auto out = Channel::Connect(*endpoint);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("tcp:127.0.0.1:1"), std::string::npos) << out.status();
}

// A peer that stops reading: the writer fails within its time limit with
// DeadlineExceeded, naming the endpoint and how far it got, instead of
// hanging until TCP gives up.
TEST(ChannelDeadlineTest, AWriterToAPeerThatStopsReadingGivesUpInTime) {
  const Endpoint at{.kind = Endpoint::Kind::kTcp, .host = "127.0.0.1", .port = NextLoopbackPort(), .path = ""};
  auto listener = Listener::Listen(at);
  ASSERT_TRUE(listener.ok()) << listener.status();
  auto out = Channel::Connect(at, {.io_timeout = absl::Milliseconds(300)});
  ASSERT_TRUE(out.ok()) << out.status();
  auto in = listener->Accept(absl::Seconds(10));  // accepted, never read
  ASSERT_TRUE(in.ok()) << in.status();
  std::vector<uint8_t> block(1 << 20, 0x42);
  absl::Status st;
  for (int i = 0; i < 1024 && st.ok(); ++i) st = out->Write(block.data(), block.size());
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  EXPECT_NE(st.message().find(at.ToString()), std::string::npos) << st;
  EXPECT_NE(st.message().find("no progress for 300ms"), std::string::npos) << st;
  EXPECT_NE(st.message().find(std::to_string(out->bytes_written()) + " bytes"), std::string::npos) << st;
  EXPECT_GT(out->bytes_written(), 0u);
}

TEST(ChannelDeadlineTest, AReaderOfAPeerThatStopsWritingGivesUpInTime) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Channel out(base::UniqueFd(sv[0]), "the source", true), in(base::UniqueFd(sv[1]), "the destination", true);
  in.set_io_timeout(absl::Milliseconds(200));
  ASSERT_TRUE(out.Write("abc", 3).ok());
  char got[8];
  absl::Status st = in.ReadExact(got, sizeof(got));
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  EXPECT_NE(st.message().find("reading from the destination"), std::string::npos) << st;
  EXPECT_NE(st.message().find("after 3 bytes"), std::string::npos) << st;
}

TEST(ChannelTest, UnreadBytesComeBackFirstAndAreCountedOnce) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Channel out(base::UniqueFd(sv[0]), "a", true), in(base::UniqueFd(sv[1]), "b", true);
  ASSERT_TRUE(out.Write("headbody", 8).ok());
  char head[4];
  ASSERT_TRUE(in.ReadExact(head, 4).ok());
  in.Unread({reinterpret_cast<const uint8_t*>(head), 4});
  EXPECT_EQ(in.bytes_read(), 0u);
  auto readable = in.WaitReadable(absl::ZeroDuration());
  ASSERT_TRUE(readable.ok());
  EXPECT_TRUE(*readable);
  char all[8];
  ASSERT_TRUE(in.ReadExact(all, 8).ok());
  EXPECT_EQ(std::string(all, 8), "headbody");
  EXPECT_EQ(in.bytes_read(), 8u);
}

}  // namespace
}  // namespace migration
