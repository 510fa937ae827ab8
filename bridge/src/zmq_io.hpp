// zmq_io.hpp: waiting on and reading a ZeroMQ socket where a signal (a stage's stop) may
// interrupt: EINTR is "nothing now", not an error. Shared by the bridge's sockets and its ZAP
// handler; internal to bridge/.
#pragma once

#include <array>
#include <cerrno>
#include <chrono>
#include <iterator>
#include <optional>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace framering::bridge {

/// Waits up to `timeout` for a message on `socket`; false on timeout or when a signal (a stop)
/// interrupted the wait (zmq::poll throws for EINTR).
inline bool wait_readable(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{static_cast<void*>(socket), 0, ZMQ_POLLIN, 0};
  try {
    zmq::poll(&item, 1, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    throw;
  }
  return (item.revents & ZMQ_POLLIN) != 0;
}

/// Waits up to `timeout` for a message on `socket` or for `fd` (an eventfd) to become readable;
/// returns whether the socket has a message. A signal (a stop) ends the wait early.
inline bool wait_readable(zmq::socket_t& socket, int fd, std::chrono::milliseconds timeout) {
  std::array<zmq::pollitem_t, 2> items{zmq::pollitem_t{static_cast<void*>(socket), 0, ZMQ_POLLIN, 0},
                                       zmq::pollitem_t{nullptr, fd, ZMQ_POLLIN, 0}};
  try {
    zmq::poll(items.data(), items.size(), timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    throw;
  }
  return (items[0].revents & ZMQ_POLLIN) != 0;
}

/// The next message on `socket` if one is there; nullopt when none (or a signal interrupted).
inline std::optional<std::vector<zmq::message_t>> try_receive(zmq::socket_t& socket) {
  std::vector<zmq::message_t> parts;
  try {
    if (!zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait)) return std::nullopt;
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return std::nullopt;
    throw;
  }
  return parts;
}

}  // namespace framering::bridge
