// websocket_client.hpp: a minimal WebSocket client (RFC 6455) over a plain TCP socket, for the
// live view's tests: it sends the upgrade request, reads the server's answer (101, or a refused
// request's status and body), then reads messages with a timeout and sends masked text messages.
// Written here rather than on civetweb's client so that a test decides when it reads and acks
// (civetweb's client reads on a thread of its own) and sees a refusal's status and body.
//
// Header-only and inline: each test executable includes it once.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace framering::test {

/// One WebSocket connection to 127.0.0.1:`port`. Closed on destruction.
class WebSocketClient {
 public:
  /// One message: its opcode (1 text, 2 binary, 8 close) and payload.
  struct Message {
    int opcode = 0;
    std::string payload;
    /// A close message's status code (RFC 6455 7.4); 0 for other messages or an empty close.
    [[nodiscard]] int close_code() const {
      return opcode == 8 && payload.size() >= 2
                 ? (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1])
                 : 0;
    }
  };

  /// Connects and asks for the upgrade of `path` ("/api/v1/rings/raw/live?bin=2"), with `headers`
  /// ("Name: value") added. status() is then the server's answer: 101 when the connection is a
  /// WebSocket, else the refusal's status with its body in body(); -1 when nothing came within
  /// `timeout` or the connection failed.
  WebSocketClient(int port, const std::string& path, const std::vector<std::string>& headers = {},
                  std::chrono::milliseconds timeout = std::chrono::milliseconds{10000}) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) return;
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    for (const auto& h : headers) request += h + "\r\n";
    request += "\r\n";
    if (!write_all(request)) return;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t end = std::string::npos;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return;
    }
    const std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    if (head.size() < 12 || !head.starts_with("HTTP/1.1 ")) return;
    status_ = std::stoi(head.substr(9, 3));
    std::size_t line = head.find("\r\n");
    while (line != std::string::npos) {
      const std::size_t next = head.find("\r\n", line + 2);
      const std::string text = head.substr(line + 2, next == std::string::npos ? std::string::npos : next - line - 2);
      if (const auto colon = text.find(": "); colon != std::string::npos) headers_[text.substr(0, colon)] = text.substr(colon + 2);
      line = next;
    }
    if (status_ != 101) {
      const auto length = headers_.find("Content-Length");
      const std::size_t want = length != headers_.end() ? std::stoul(length->second) : 0;
      while (buffer_.size() < want && fill(deadline)) {
      }
      body_ = buffer_.substr(0, want);
    }
  }
  ~WebSocketClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  [[nodiscard]] int status() const noexcept { return status_; }
  [[nodiscard]] const std::string& body() const noexcept { return body_; }
  [[nodiscard]] const std::map<std::string, std::string>& headers() const noexcept { return headers_; }

  /// The next message, waiting up to `timeout` for it; nullopt on timeout or once the
  /// connection is closed (closed() says which).
  std::optional<Message> read(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto message = take_message()) return message;
      if (!fill(deadline)) return std::nullopt;
    }
  }

  /// The next close message, passing over the frames that come before it (sent before the
  /// server saw a close), waiting up to `timeout` for each message; nullopt when none came.
  std::optional<Message> read_close(std::chrono::milliseconds timeout) {
    auto m = read(timeout);
    while (m && m->opcode != 8) m = read(timeout);
    return m;
  }

  /// Whether any byte of a next message is here or arriving now (a poll with no wait).
  [[nodiscard]] bool has_pending() {
    if (!buffer_.empty()) return true;
    pollfd p{fd_, POLLIN, 0};
    return fd_ >= 0 && ::poll(&p, 1, 0) > 0;
  }

  /// Whether the server closed the connection (or it failed).
  [[nodiscard]] bool closed() const noexcept { return closed_; }

  /// Sends a text message (masked, as a client must).
  bool send_text(std::string_view text) { return send_frame(0x1, text); }
  /// Sends a close message with `code`.
  bool send_close(int code = 1000) {
    const char body[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    return send_frame(0x8, std::string_view(body, 2));
  }

 private:
  bool write_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads what has come, waiting until `deadline`; false on timeout, end or error.
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0 || closed_) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  // One whole message from the buffer (the server sends unfragmented, unmasked frames).
  std::optional<Message> take_message() {
    if (buffer_.size() < 2) return std::nullopt;
    const auto byte = [&](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(buffer_[i])); };
    std::uint64_t length = byte(1) & 0x7F;
    std::size_t header = 2;
    if (length == 126) {
      if (buffer_.size() < 4) return std::nullopt;
      length = (byte(2) << 8) | byte(3);
      header = 4;
    } else if (length == 127) {
      if (buffer_.size() < 10) return std::nullopt;
      length = 0;
      for (std::size_t i = 2; i < 10; ++i) length = (length << 8) | byte(i);
      header = 10;
    }
    if (buffer_.size() < header + length) return std::nullopt;
    Message m{static_cast<int>(byte(0) & 0x0F), buffer_.substr(header, length)};
    buffer_.erase(0, header + length);
    return m;
  }

  bool send_frame(int opcode, std::string_view payload) {
    std::string frame;
    frame += static_cast<char>(0x80 | opcode);
    if (payload.size() < 126) {
      frame += static_cast<char>(0x80 | payload.size());
    } else {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>((payload.size() >> 8) & 0xFF);
      frame += static_cast<char>(payload.size() & 0xFF);
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    frame.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) frame += static_cast<char>(payload[i] ^ mask[i % 4]);
    return write_all(frame);
  }

  int fd_ = -1;
  int status_ = -1;
  bool closed_ = false;
  std::string buffer_;
  std::string body_;
  std::map<std::string, std::string> headers_;
};

}  // namespace framering::test
