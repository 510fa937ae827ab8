// curve_keys.hpp: CURVE key files for the bridge, and the ZAP handler that lets in only the
// senders a receiver was told about. ZeroMQ's CURVE (RFC 26/CurveZMQ, libzmq built with
// libsodium) encrypts and authenticates; ZAP (RFC 27) decides who may connect.
//
// Key files are TOML: `NAME.key` holds `public = "<40 Z85 chars>"` and `secret = "..."` (mode
// 0600), `NAME.pub` holds `public` only, for the other side.
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace zmq {
class context_t;
}

namespace framering::bridge {

/// A CURVE key pair as Z85 text (40 characters each, ZeroMQ RFC 32).
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;  ///< empty when read from a .pub file
};

/// Makes a new key pair (zmq_curve_keypair) and writes `stem`.key (mode 0600) and `stem`.pub.
/// Throws ConfigError naming the file when it exists already or cannot be written, and Error
/// when libzmq was built without CURVE.
CurveKeyPair write_key_pair(const std::filesystem::path& stem);

/// Reads a key file (.key: public and secret; .pub: public). Throws ConfigError naming the
/// file when it is missing, unreadable, not TOML, lacks a key, or a key is not 40 Z85
/// characters; and when `need_secret` and it has no secret (a .pub given where a .key belongs).
[[nodiscard]] CurveKeyPair read_key_file(const std::filesystem::path& path, bool need_secret);

/// A ZAP handler (RFC 27) on `context`: a thread answering inproc://zeromq.zap.01, accepting a
/// CURVE client only when its public key is in `allowed` (Z85), and logging every refusal with
/// the key and address it came from. Stops and joins in its destructor.
class ZapHandler {
 public:
  ZapHandler(zmq::context_t& context, std::set<std::string> allowed);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Whether a ZeroMQ endpoint stays on this machine: ipc://, inproc://, or tcp:// to a loopback
/// address (127.0.0.0/8, ::1, localhost). The bridge runs without CURVE only there, unless
/// --insecure says otherwise.
[[nodiscard]] bool is_loopback_endpoint(const std::string& endpoint);

}  // namespace framering::bridge
