#include "migration/channel.h"

#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"

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
  auto unix_ep = ParseEndpoint("unix:/tmp/x.sock");
  ASSERT_TRUE(unix_ep.ok());
  EXPECT_EQ(unix_ep->path, "/tmp/x.sock");
  for (const char* bad : {"", "10.0.0.2:4444", "tcp:host", "tcp:host:0", "tcp:host:70000", "tcp:host:x", "unix:",
                          "udp:1.2.3.4:5"}) {
    EXPECT_FALSE(ParseEndpoint(bad).ok()) << bad;
  }
}

class ListenerTest : public ::testing::TestWithParam<bool> {
 protected:
  std::string Where() const {
    if (GetParam()) return "tcp:127.0.0.1:" + std::to_string(40000 + ::getpid() % 20000);
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
  auto endpoint = ParseEndpoint("tcp:127.0.0.1:" + std::to_string(40000 + (::getpid() + 1) % 20000));
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

}  // namespace
}  // namespace migration
