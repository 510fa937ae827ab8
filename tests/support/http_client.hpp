// http_client.hpp: a blocking HTTP/1.1 client for the HTTP API's tests, on civetweb's client API
// (mg_connect_client, mg_get_response with a timeout, mg_read, which also decodes chunked
// bodies): the tests speak real HTTP over TCP to `framering run --http`.
//
// Header-only and inline: each test executable includes it once.
#pragma once

#include <signal.h>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <civetweb.h>
#include <nlohmann/json.hpp>

namespace framering::test {

/// One response: status -1 when the connection failed (then `body` says why).
struct HttpReply {
  int status = -1;
  std::map<std::string, std::string> headers;
  std::string body;
  /// The body as JSON; null when it is not JSON.
  [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

/// An open connection to 127.0.0.1:`port`, closed on destruction.
class HttpConnection {
 public:
  explicit HttpConnection(int port) {
    ::signal(SIGPIPE, SIG_IGN);  // the server may close while a refused body is still being sent
    mg_init_library(0);
    char error[256] = "";
    conn_ = mg_connect_client("127.0.0.1", port, 0, error, sizeof error);
    if (conn_ == nullptr) error_ = error;
  }
  ~HttpConnection() {
    if (conn_ != nullptr) mg_close_connection(conn_);
  }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  /// Sends a request (with `Connection: close`) and reads the response's status and headers,
  /// waiting up to `timeout`; the body is then read with read_some() or read_all().
  HttpReply send(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::vector<std::string>& headers = {},
                 std::chrono::milliseconds timeout = std::chrono::milliseconds{10000}) {
    HttpReply reply;
    if (conn_ == nullptr) {
      reply.body = "cannot connect: " + error_;
      return reply;
    }
    std::string head = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    for (const auto& h : headers) head += h + "\r\n";
    if (!body.empty() || method == "POST") head += "Content-Type: application/json\r\nContent-Length: " +
                                                   std::to_string(body.size()) + "\r\n";
    head += "\r\n";
    mg_write(conn_, head.data(), head.size());
    if (!body.empty()) mg_write(conn_, body.data(), body.size());
    char error[256] = "";
    if (mg_get_response(conn_, error, sizeof error, static_cast<int>(timeout.count())) < 0) {
      reply.body = std::string("no response: ") + error;
      return reply;
    }
    const mg_response_info* info = mg_get_response_info(conn_);
    reply.status = info->status_code;
    for (int i = 0; i < info->num_headers; ++i) reply.headers[info->http_headers[i].name] = info->http_headers[i].value;
    return reply;
  }

  /// Reads the body up to and including `end` (a byte at a time: civetweb's mg_read blocks until
  /// its whole buffer is filled, which a stream never does); what came before its end otherwise.
  std::string read_until(std::string_view end) {
    std::string out;
    char c = 0;
    while (conn_ != nullptr && mg_read(conn_, &c, 1) == 1) {
      out += c;
      if (out.ends_with(end)) break;
    }
    return out;
  }

  /// Reads up to 4 KiB of the body: blocks until they have come or the body ends ("" at its end).
  std::string read_some() {
    char buffer[4096];
    const int n = conn_ != nullptr ? mg_read(conn_, buffer, sizeof buffer) : 0;
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string{};
  }

  /// Reads the body to its end.
  std::string read_all() {
    std::string all;
    for (std::string part = read_some(); !part.empty(); part = read_some()) all += part;
    return all;
  }

 private:
  mg_connection* conn_ = nullptr;
  std::string error_;
};

/// One request on a fresh connection, the whole body read.
inline HttpReply http_request(int port, const std::string& method, const std::string& path,
                              const std::string& body = "", const std::vector<std::string>& headers = {}) {
  HttpConnection connection(port);
  HttpReply reply = connection.send(method, path, body, headers);
  if (reply.status > 0) reply.body = connection.read_all();
  return reply;
}

}  // namespace framering::test
