#include "framering/bridge/curve_keys.hpp"

#include <sys/stat.h>

#include <array>
#include <atomic>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "framering/common/error.hpp"
#include "zmq_io.hpp"

namespace framering::bridge {
namespace {

constexpr std::size_t kZ85KeyChars = 40;

bool is_z85_key(const std::string& text) {
  if (text.size() != kZ85KeyChars) return false;
  std::array<std::uint8_t, 32> decoded{};
  return zmq_z85_decode(decoded.data(), text.c_str()) != nullptr;
}

void write_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  if (std::filesystem::exists(path)) {
    throw ConfigError(fmt::format("{} exists already: remove it or choose another name (keys are never overwritten)",
                                  path.string()));
  }
  {
    std::ofstream out(path);
    out << text;
    if (!out) throw ConfigError(fmt::format("cannot write the key file {}", path.string()));
  }
  if (::chmod(path.c_str(), mode) != 0) throw ConfigError(fmt::format("cannot set the mode of {}", path.string()));
}

}  // namespace

CurveKeyPair write_key_pair(const std::filesystem::path& stem) {
  if (zmq_has("curve") == 0) throw Error("this libzmq was built without CURVE (libsodium): no keys can be made");
  std::array<char, kZ85KeyChars + 1> public_key{};
  std::array<char, kZ85KeyChars + 1> secret_key{};
  if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
    throw Error(fmt::format("zmq_curve_keypair failed: {}", zmq_strerror(zmq_errno())));
  }
  CurveKeyPair pair{public_key.data(), secret_key.data()};
  const std::filesystem::path key_path = std::filesystem::path(stem.string() + ".key");
  const std::filesystem::path pub_path = std::filesystem::path(stem.string() + ".pub");
  write_file(pub_path, fmt::format("# framering bridge CURVE public key: give this file to the other side\npublic = \"{}\"\n",
                                   pair.public_key),
             0644);
  write_file(key_path,
             fmt::format("# framering bridge CURVE key pair: keep it secret (mode 0600)\npublic = \"{}\"\nsecret = \"{}\"\n",
                         pair.public_key, pair.secret_key),
             0600);
  return pair;
}

CurveKeyPair read_key_file(const std::filesystem::path& path, bool need_secret) {
  toml::table table;
  try {
    table = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("CURVE key file {}: {}", path.string(), e.description()));
  }
  CurveKeyPair pair;
  if (auto v = table["public"].value<std::string>()) pair.public_key = *v;
  if (auto v = table["secret"].value<std::string>()) pair.secret_key = *v;
  if (!is_z85_key(pair.public_key)) {
    throw ConfigError(fmt::format("CURVE key file {}: expected public = \"<40 Z85 characters>\" (framering bridge keygen "
                                  "writes one)",
                                  path.string()));
  }
  if (need_secret && !is_z85_key(pair.secret_key)) {
    throw ConfigError(fmt::format("CURVE key file {}: expected secret = \"<40 Z85 characters>\": give the .key file of "
                                  "this side, not a .pub",
                                  path.string()));
  }
  return pair;
}

struct ZapHandler::Impl {
  zmq::socket_t socket;
  std::set<std::string> allowed;
  std::atomic<bool> stop{false};
  std::thread thread;

  Impl(zmq::context_t& context, std::set<std::string> keys)
      : socket(context, zmq::socket_type::rep), allowed(std::move(keys)) {
    socket.set(zmq::sockopt::linger, 0);
    socket.bind("inproc://zeromq.zap.01");
    thread = std::thread([this] { serve(); });
  }

  // RFC 27: request = version, request id, domain, address, identity, mechanism, credentials...;
  // reply = version, request id, status code, status text, user id, metadata.
  void serve() {
    while (!stop.load(std::memory_order_acquire)) {
      if (!wait_readable(socket, std::chrono::milliseconds{100})) continue;
      auto received = try_receive(socket);
      if (!received) continue;
      std::vector<zmq::message_t>& request = *received;
      if (request.size() < 6) continue;
      const std::string mechanism = request[5].to_string();
      const std::string address = request[3].to_string();
      std::string key;
      if (mechanism == "CURVE" && request.size() >= 7 && request[6].size() == 32) {
        std::array<char, kZ85KeyChars + 1> text{};
        if (zmq_z85_encode(text.data(), static_cast<const std::uint8_t*>(request[6].data()), 32) != nullptr) {
          key = text.data();
        }
      }
      const bool ok = !key.empty() && allowed.contains(key);
      if (!ok) {
        spdlog::error("refused a {} connection from {}: {}", mechanism, address,
                      key.empty() ? std::string{"no CURVE key"}
                                  : fmt::format("its public key {} is not in --curve-allow", key));
      }
      std::array<zmq::message_t, 6> reply{zmq::message_t(std::string_view{"1.0"}), std::move(request[1]),
                                          zmq::message_t(std::string_view{ok ? "200" : "400"}),
                                          zmq::message_t(std::string_view{ok ? "OK" : "key not allowed"}),
                                          zmq::message_t(std::string_view{ok ? key : std::string{}}), zmq::message_t()};
      (void)zmq::send_multipart(socket, reply);
    }
  }
};

ZapHandler::ZapHandler(zmq::context_t& context, std::set<std::string> allowed)
    : impl_(std::make_unique<Impl>(context, std::move(allowed))) {}

ZapHandler::~ZapHandler() {
  impl_->stop.store(true, std::memory_order_release);
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool is_loopback_endpoint(const std::string& endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  if (!endpoint.starts_with("tcp://")) return false;
  std::string host = endpoint.substr(6);
  if (const auto semi = host.find(';'); semi != std::string::npos) host = host.substr(semi + 1);  // source;dest
  if (host.starts_with("[")) {
    const auto close = host.find(']');
    return close != std::string::npos && host.substr(1, close - 1) == "::1";
  }
  host = host.substr(0, host.rfind(':'));
  return host == "localhost" || host.starts_with("127.");
}

}  // namespace framering::bridge
