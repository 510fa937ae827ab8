// e131_sender.cpp: E1.31 data packets (ANSI E1.31-2018, Table 4-1) and their UDP sockets.
#include "framering/led/e131_sender.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"

namespace framering::led {
namespace {

constexpr std::uint64_t kErrorLogPeriodNs = 5'000'000'000ULL;

void put16(std::span<std::uint8_t> out, std::size_t at, std::uint16_t v) {
  out[at] = static_cast<std::uint8_t>(v >> 8);
  out[at + 1] = static_cast<std::uint8_t>(v & 0xFF);
}

void put32(std::span<std::uint8_t> out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

// Flags (0x7: section 5.4) in the top 4 bits, the PDU's length in bytes in the low 12.
std::uint16_t flags_and_length(std::size_t length) { return static_cast<std::uint16_t>(0x7000U | (length & 0x0FFFU)); }

// Resolves host:port and returns a connected UDP socket. Throws ConfigError naming `what`.
int connect_udp(const std::string& host, std::uint16_t port, const std::string& what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    throw ConfigError(fmt::format("--e131-host {}: cannot resolve '{}': {}", what, host, ::gai_strerror(rc)));
  }
  int last_errno = 0;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    last_errno = errno;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    throw ConfigError(fmt::format("--e131-host {}: cannot reach it: {}", what, errno_text(last_errno)));
  }
  return fd;
}

}  // namespace

E131Cid random_cid() {
  std::random_device rd;
  E131Cid cid{};
  for (std::size_t i = 0; i < cid.size(); i += 4) {
    const std::uint32_t r = rd();
    for (std::size_t j = 0; j < 4; ++j) cid[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
  }
  cid[6] = static_cast<std::uint8_t>((cid[6] & 0x0F) | 0x40);  // version 4
  cid[8] = static_cast<std::uint8_t>((cid[8] & 0x3F) | 0x80);  // variant 10
  return cid;
}

std::size_t build_e131_packet(const E131PacketHeader& header, std::uint16_t universe, std::uint8_t sequence,
                              std::span<const std::uint8_t> channels, std::span<std::uint8_t> out, std::uint8_t options) {
  using namespace e131;
  if (channels.size() > kMaxChannels) {
    throw ConfigError(fmt::format("E1.31: {} channels in one universe, expected at most 512", channels.size()));
  }
  const std::size_t length = kHeaderBytes + channels.size();
  if (out.size() < length) {
    throw ConfigError(fmt::format("E1.31: packet buffer of {} bytes, expected at least {}", out.size(), length));
  }
  if (universe < 1 || universe > kMaxUniverse) {
    throw ConfigError(fmt::format("E1.31 universe {}: expected 1..{} (E1.31-2018 section 6.2.7)", universe, kMaxUniverse));
  }
  if (header.priority > 200) {
    throw ConfigError(fmt::format("E1.31 priority {}: expected 0..200 (section 6.2.3)", header.priority));
  }
  std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(kHeaderBytes), std::uint8_t{0});
  // Root layer (section 5).
  put16(out, 0, 0x0010);  // preamble size (5.1)
  put16(out, 2, 0x0000);  // post-amble size (5.2)
  static constexpr std::uint8_t kAcnPid[12] = {0x41, 0x53, 0x43, 0x2d, 0x45, 0x31, 0x2e, 0x31, 0x37, 0, 0, 0};
  std::memcpy(out.data() + 4, kAcnPid, sizeof kAcnPid);  // "ASC-E1.17\0\0\0" (5.3)
  put16(out, kOffRootFlagsLength, flags_and_length(length - kOffRootFlagsLength));
  put32(out, 18, kVectorRootData);
  std::memcpy(out.data() + kOffCid, header.cid.data(), header.cid.size());
  // Framing layer (section 6).
  put16(out, kOffFramingFlagsLength, flags_and_length(length - kOffFramingFlagsLength));
  put32(out, 40, kVectorFramingData);
  const std::size_t name_bytes = std::min(header.source_name.size(), kSourceNameBytes - 1);  // null-terminated
  std::memcpy(out.data() + kOffSourceName, header.source_name.data(), name_bytes);
  out[kOffPriority] = header.priority;
  put16(out, kOffSyncAddress, 0);  // no synchronization (6.2.4)
  out[kOffSequence] = sequence;
  out[kOffOptions] = options;  // 6.2.6: no preview, no force-sync; Stream_Terminated only at the end
  put16(out, kOffUniverse, universe);
  // DMP layer (section 7).
  put16(out, kOffDmpFlagsLength, flags_and_length(length - kOffDmpFlagsLength));
  out[117] = kVectorDmpSetProperty;
  out[118] = 0xa1;        // address type & data type (7.3)
  put16(out, 119, 0x0000);  // first property address (7.4)
  put16(out, 121, 0x0001);  // address increment (7.5)
  put16(out, kOffPropertyCount, static_cast<std::uint16_t>(1 + channels.size()));  // (7.6)
  out[kOffStartCode] = 0;   // DMX512 null START code (7.7)
  std::memcpy(out.data() + kHeaderBytes, channels.data(), channels.size());
  return length;
}

std::string e131_multicast_address(std::uint16_t universe) {
  return fmt::format("239.255.{}.{}", universe >> 8, universe & 0xFF);
}

std::pair<std::string, std::uint16_t> E131Sender::parse_destination(std::string_view text) {
  std::string_view host = text;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      throw ConfigError(fmt::format("--e131-host {}: expected [IPv6]:port with a closing ']'", text));
    }
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw ConfigError(fmt::format("--e131-host {}: expected ':' after ']'", text));
      port_text = rest.substr(1);
    }
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos && text.find(':') == colon) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (host.empty()) throw ConfigError(fmt::format("--e131-host '{}': expected host[:port]", text));
  std::uint16_t port = e131::kPort;
  if (!port_text.empty() || (text.size() > 0 && text.back() == ':')) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value < 1 || value > 65535) {
      throw ConfigError(fmt::format("--e131-host {}: port '{}' is not 1..65535", text, port_text));
    }
    port = static_cast<std::uint16_t>(value);
  }
  return {std::string(host), port};
}

E131Sender::E131Sender(std::vector<std::string> destinations, bool multicast, std::uint16_t universe_start,
                       std::uint64_t led_count, std::string source_name, std::uint8_t priority)
    : universe_start_(universe_start), led_count_(led_count), multicast_(multicast) {
  header_.cid = random_cid();
  header_.source_name = std::move(source_name);
  header_.priority = priority;
  if (destinations.empty() && !multicast) {
    throw ConfigError("E1.31: no receiver: give --e131-host HOST[:PORT] (repeatable) or --e131-multicast");
  }
  if (priority > 200) throw ConfigError(fmt::format("--e131-priority {}: expected 0..200", priority));
  universe_count_ = static_cast<std::uint32_t>((led_count + e131::kLedsPerUniverse - 1) / e131::kLedsPerUniverse);
  if (universe_start < 1 || std::uint64_t{universe_start} + universe_count_ - 1 > e131::kMaxUniverse) {
    throw ConfigError(fmt::format(
        "--universe-start {}: {} LEDs need {} universes, which must lie in 1..{} (E1.31-2018 section 6.2.7)",
        universe_start, led_count, universe_count_, e131::kMaxUniverse));
  }
  try {
    for (const std::string& d : destinations) {
      const auto [host, port] = parse_destination(d);
      destinations_.push_back({d, connect_udp(host, port, d)});
    }
    if (multicast) {
      for (std::uint32_t u = 0; u < universe_count_; ++u) {
        const auto universe = static_cast<std::uint16_t>(universe_start_ + u);
        const std::string group = e131_multicast_address(universe);
        destinations_.push_back({group, connect_udp(group, e131::kPort, "(multicast " + group + ")")});
      }
    }
  } catch (...) {
    for (const Destination& d : destinations_) ::close(d.fd);
    throw;
  }
  sequences_.assign(universe_count_, 0);
  packet_.resize(e131::kHeaderBytes + e131::kMaxChannels);
}

E131Sender::~E131Sender() {
  for (const Destination& d : destinations_) ::close(d.fd);
}

std::string E131Sender::describe() const {
  std::string text;
  for (const Destination& d : destinations_) {
    if (!text.empty()) text += ", ";
    text += d.text;
  }
  return fmt::format("E1.31 universes {}..{} ({} LEDs, 170 per universe) to {}", universe_start_,
                     universe_start_ + universe_count_ - 1, led_count_, text);
}

void E131Sender::send(std::span<const std::uint8_t> rgb) noexcept {
  if (terminated_) return;
  send_packets(rgb, 0);
  ++counters_.frames;
  try {
    last_rgb_.assign(rgb.begin(), rgb.end());
  } catch (...) {  // out of memory: no keep-alive, frames still go out
    last_rgb_.clear();
  }
  repeats_ = 0;
}

void E131Sender::keep_alive(std::uint64_t now_ns) noexcept {
  if (terminated_ || last_rgb_.empty()) return;
  const std::uint64_t interval = repeats_ < 2 ? e131::kRepeatIntervalNs : e131::kKeepAliveIntervalNs;
  if (now_ns - last_send_ns_ < interval) return;
  send_packets(last_rgb_, 0);
  ++repeats_;
  ++counters_.keep_alives;
}

void E131Sender::terminate() noexcept {
  if (terminated_ || last_rgb_.empty()) return;
  for (int i = 0; i < e131::kTerminationPackets; ++i) send_packets(last_rgb_, e131::kOptionStreamTerminated);
  ++counters_.terminations;
  terminated_ = true;
}

void E131Sender::send_packets(std::span<const std::uint8_t> rgb, std::uint8_t options) noexcept {
  const std::uint64_t channels_total = std::min<std::uint64_t>(rgb.size(), led_count_ * 3);
  for (std::uint32_t u = 0; u < universe_count_; ++u) {
    const std::uint64_t first = std::uint64_t{u} * e131::kLedsPerUniverse * 3;
    if (first >= channels_total) break;  // a short frame: nothing left for this universe
    const std::uint64_t count = std::min<std::uint64_t>(e131::kLedsPerUniverse * 3, channels_total - first);
    const auto universe = static_cast<std::uint16_t>(universe_start_ + u);
    std::size_t length = 0;
    try {
      length = build_e131_packet(header_, universe, sequences_[u]++, rgb.subspan(first, count), packet_, options);
    } catch (...) {  // unreachable: sizes and universes were checked at construction
      continue;
    }
    const auto send_to = [&](const Destination& d) {
      if (::send(d.fd, packet_.data(), length, MSG_NOSIGNAL) == static_cast<ssize_t>(length)) {
        ++counters_.packets;
      } else {
        ++counters_.send_errors;
        counters_.last_errno = errno;
      }
    };
    if (multicast_) {
      // Unicast destinations first, then one multicast socket per universe.
      const std::size_t unicast = destinations_.size() - universe_count_;
      for (std::size_t i = 0; i < unicast; ++i) send_to(destinations_[i]);
      send_to(destinations_[unicast + u]);
    } else {
      for (const Destination& d : destinations_) send_to(d);
    }
  }
  const std::uint64_t now = monotonic_ns();
  last_send_ns_ = now;
  if (counters_.send_errors != errors_at_last_log_ && now - last_error_log_ns_ >= kErrorLogPeriodNs) {
    try {
      spdlog::warn("E1.31: {} datagrams failed since the last report ({} in all), last: {}{}",
                   counters_.send_errors - errors_at_last_log_, counters_.send_errors, errno_text(counters_.last_errno),
                   counters_.last_errno == ECONNREFUSED ? " (nobody listens there yet: going on)" : "");
    } catch (...) {  // logging must not end the frame loop
    }
    errors_at_last_log_ = counters_.send_errors;
    last_error_log_ns_ = now;
  }
}

}  // namespace framering::led
