#include "worker/http_blob_source.h"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

TEST(ParseBlobUrlTest, TakesHostPortAndPath) {
  absl::StatusOr<BlobUrl> url = ParseBlobUrl("http://relay.example:8081/tributary/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "relay.example");
  EXPECT_EQ(url->port, 8081);
  EXPECT_EQ(url->path, "/tributary");
  EXPECT_EQ(url->ToString(), "http://relay.example:8081/tributary");
  url = ParseBlobUrl("http://127.0.0.1");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->path, "");
  url = ParseBlobUrl("http://[::1]:9000");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->ToString(), "http://[::1]:9000");
}

TEST(ParseBlobUrlTest, RefusesWhatIsNotAPlainHttpBase) {
  for (const char* bad : {"", "relay:8081", "https://relay:8081", "ftp://relay", "http://", "http://:8081",
                          "http://relay:0", "http://relay:65536", "http://relay:80x", "http://relay:",
                          "http://re lay", "http://relay/?x=1", "http://user@relay", "http://[::1", "http://[zz]"}) {
    EXPECT_EQ(ParseBlobUrl(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// A cache that answers well or badly, on 127.0.0.1.
class HttpBlobSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/relay/blobs/" + Sha256Hex(Sha256(kBlob)), [](const httplib::Request&, httplib::Response& response) {
      response.set_content(kBlob, "application/octet-stream");
    });
    server_.Get("/relay/blobs/" + Sha256Hex(Sha256("long")), [](const httplib::Request&, httplib::Response& response) {
      response.set_content(std::string(10000, 'l'), "application/octet-stream");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the loop has started would leave it running for good.
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!server_.is_running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    ASSERT_TRUE(server_.is_running());
  }
  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  HttpBlobSource Source() { return HttpBlobSource(*ParseBlobUrl(absl::StrCat("http://127.0.0.1:", port_, "/relay"))); }

  static constexpr char kBlob[] = "the bytes of a shard";
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(HttpBlobSourceTest, FetchesAndHashesABlob) {
  HttpBlobSource source = Source();
  const BlobRef ref{DigestBytes(Sha256(kBlob)), sizeof(kBlob) - 1};
  const absl::StatusOr<BlobBody> body = source.Get(ref);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->bytes, kBlob);
  EXPECT_EQ(body->sha256, Sha256(kBlob));
  EXPECT_EQ(source.Url(ref), absl::StrCat("http://127.0.0.1:", port_, "/relay/blobs/", Sha256Hex(Sha256(kBlob))));
}

TEST_F(HttpBlobSourceTest, ANotFoundSaysSo) {
  const absl::StatusOr<BlobBody> body = Source().Get(BlobRef{DigestBytes(Sha256("other")), 5});
  EXPECT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("HTTP 404"), std::string::npos) << body.status();
}

TEST_F(HttpBlobSourceTest, ABodyLongerThanExpectedIsCutOff) {
  const absl::StatusOr<BlobBody> body = Source().Get(BlobRef{DigestBytes(Sha256("long")), 100});
  EXPECT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("Content-Length 10000"), std::string::npos) << body.status();
}

TEST(HttpBlobSourceNoServerTest, NoServerIsUnavailable) {
  // A port that was free a moment ago and that nothing listens on.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(fd);
  HttpBlobSource source(*ParseBlobUrl(absl::StrCat("http://127.0.0.1:", ntohs(address.sin_port))));
  EXPECT_EQ(source.Get(BlobRef{DigestBytes(Sha256("x")), 1}).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tributary::worker
