#include "coordinator/http_message.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

using ::testing::HasSubstr;

absl::StatusCode ParseCode(const std::string& head) { return ParseRequestHead(head).status().code(); }

TEST(ParseRequestHeadTest, ReadsAGoodRequest) {
  const absl::StatusOr<HttpRequest> request = ParseRequestHead(
      "GET /api/status?x=1&y HTTP/1.1\r\nHost: localhost:8080\r\nauthorization:  Bearer t0k \r\n\r\n");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->method, "GET");
  EXPECT_EQ(request->path, "/api/status");
  EXPECT_EQ(request->query, "x=1&y");
  EXPECT_EQ(request->authorization, "Bearer t0k");
  EXPECT_FALSE(request->announces_body);
}

TEST(ParseRequestHeadTest, RefusesLinesWithoutCrlf) {
  EXPECT_EQ(ParseCode("GET / HTTP/1.1\nHost: x\n\n"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCode("GET / HTTP/1.1\r\nHost: x\n\r\n"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCode("GET / HTTP/1.1\r\nHost: x\r\n"), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ParseRequestHead("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n").status().message(), HasSubstr("line 2"));
}

TEST(ParseRequestHeadTest, RefusesMalformedRequestLines) {
  for (const char* line : {"GET /", "GET  / HTTP/1.1", "GET / HTTP/2.0", "G(T / HTTP/1.1", "GET * HTTP/1.1",
                           "GET /a\x01 HTTP/1.1", "GET /\xc3\xa9 HTTP/1.1", ""}) {
    EXPECT_EQ(ParseCode(std::string(line) + "\r\n\r\n"), absl::StatusCode::kInvalidArgument) << line;
  }
}

TEST(ParseRequestHeadTest, RefusesMalformedHeaders) {
  for (const char* header : {"NoColon", "Space : before colon", " folded: line", ": no name", "A: nul\x01"}) {
    EXPECT_EQ(ParseCode(std::string("GET / HTTP/1.1\r\n") + header + "\r\n\r\n"),
              absl::StatusCode::kInvalidArgument)
        << header;
  }
}

TEST(ParseRequestHeadTest, ReducesAbsoluteFormToThePath) {
  const absl::StatusOr<HttpRequest> request = ParseRequestHead("GET HTTP://example.org:80/healthz?a HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->path, "/healthz");
  EXPECT_EQ(request->query, "a");
  EXPECT_EQ(ParseRequestHead("GET http://example.org HTTP/1.0\r\n\r\n")->path, "/");
}

// Routes compare raw paths, so an escaped "/healthz" is a different path.
TEST(ParseRequestHeadTest, KeepsPercentSignsRaw) {
  const absl::StatusOr<HttpRequest> request = ParseRequestHead("GET /heal%74hz/%2e%2e?q=%00 HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->path, "/heal%74hz/%2e%2e");
  EXPECT_EQ(request->query, "q=%00");
}

TEST(ParseRequestHeadTest, RefusesRepeatedHeadersItActsOn) {
  for (const char* name : {"Authorization", "Content-Length", "Transfer-Encoding"}) {
    EXPECT_EQ(ParseCode(absl::StrCat("GET / HTTP/1.1\r\n", name, ": 0\r\n", name, ": 0\r\n\r\n")),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
  EXPECT_TRUE(ParseRequestHead("GET / HTTP/1.1\r\nX-A: 1\r\nX-A: 2\r\n\r\n").ok());
}

TEST(ParseRequestHeadTest, SeesAnnouncedBodies) {
  const auto announces = [](const std::string& header) {
    return ParseRequestHead("GET / HTTP/1.1\r\n" + header + "\r\n\r\n").value().announces_body;
  };
  EXPECT_FALSE(announces("Content-Length: 0"));
  EXPECT_FALSE(announces("Content-Length: 000"));
  EXPECT_TRUE(announces("Content-Length: 1"));
  EXPECT_TRUE(announces("Content-Length: 99999999999999999999999999"));
  EXPECT_TRUE(announces("transfer-encoding: chunked"));
  EXPECT_EQ(ParseCode("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCode("GET / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n"), absl::StatusCode::kInvalidArgument);
}

// The parser holds no limit of its own; the server's buffer bounds a head.
TEST(ParseRequestHeadTest, ParsesAnOversizedHeadInFull) {
  const std::string big(64 * 1024, 'a');
  const absl::StatusOr<HttpRequest> request = ParseRequestHead("GET /" + big + " HTTP/1.1\r\nX: " + big + "\r\n\r\n");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->path.size(), big.size() + 1);
}

TEST(SerializeResponseTest, WritesLengthAndCloseAndDropsTheBodyForHead) {
  HttpResponse response;
  response.status = 405;
  response.content_type = "text/plain";
  response.body = "no\n";
  response.headers.emplace_back("Allow", "GET, HEAD");
  const std::string head =
      "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
      "Connection: close\r\nAllow: GET, HEAD\r\n\r\n";
  EXPECT_EQ(SerializeResponse(response, false), head + "no\n");
  EXPECT_EQ(SerializeResponse(response, true), head);
}

}  // namespace
}  // namespace tributary::coordinator
