// http_server.hpp: `framering run --http`: the run's HTTP + JSON API (docs/http-api.md), served
// by civetweb on its own worker threads. The handlers read rings from shared memory themselves
// (read-only, like `framering status`) and reach the supervisor only through RunService
// (run_service.hpp): a published snapshot, a command queue, an event log.
//
// Routing: one table of (method, path pattern, handler); a pattern's `{name}` segment matches one
// path segment. A path no pattern matches is 404; a path that matches with another method is 405
// with an Allow header. Later routes (PATCH of a stage's parameters, the live view) are rows in
// the same table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framering/supervise/run_service.hpp"
#include "framering/supervise/web_root.hpp"

namespace framering::supervise {

/// Where and how the API listens: `run --http [ADDRESS:]PORT` and the pipeline's [http] table.
struct HttpOptions {
  std::string address = "127.0.0.1";  ///< IPv4 address or bracket-less IPv6 address
  std::uint16_t port = 0;             ///< 0 = any free port (logged: see HttpServer)
  std::string token;                  ///< non-empty: every request needs "Authorization: Bearer <token>"
  std::size_t max_body_bytes = 64 * 1024;  ///< a larger request body is refused with 413
  std::vector<std::string> recording_roots = {"recordings"};  ///< POST recordings write under one of these
  /// The live view page's folder (GET / and /static/...): the source tree's web/ unless the
  /// pipeline's [http] web_root names another.
  std::string web_root = default_web_root();
};

/// "8080" -> {127.0.0.1, 8080}; "0.0.0.0:8080"; "[::1]:8080"; "localhost:0". Throws ConfigError
/// naming `what` (the option or key) for anything else.
void parse_endpoint(const std::string& text, const std::string& what, HttpOptions& options);

/// Whether `address` is a loopback address (127.0.0.0/8, ::1, "localhost").
[[nodiscard]] bool is_loopback(const std::string& address);

/// The API's server. Starts listening in its constructor and stops (waiting for every request
/// in progress, SSE streams included: close `service` first) in its destructor.
class HttpServer {
 public:
  /// Throws ConfigError when `options` binds a non-loopback address without a token, and when
  /// the address cannot be bound (the message names it and civetweb's reason).
  HttpServer(HttpOptions options, std::string instance, RunService& service);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The port it listens on (the one the kernel chose for port 0).
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const HttpOptions& options() const noexcept { return options_; }

 private:
  struct Impl;  ///< the routes, their handlers and the civetweb context (http_server.cpp)
  HttpOptions options_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace framering::supervise
