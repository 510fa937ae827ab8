// `framering led` to a real E1.31 receiver: OLA's olad (Debian package `ola`) with only its E1.31
// plugin, five input ports patched to universes 1..5, RPC on loopback, no web UI. framering led
// samples one known frame (ring_peer's sequence pattern) onto 36 x 20 = 720 LEDs (5 universes: four
// of 170 LEDs and one of 40) and sends it by unicast to 127.0.0.1; the DMX that OLA holds for
// universes 1, 3 and 5 (read back with /usr/bin/python3 and ola.ClientWrapper) must equal the
// mmap file written in the same run, which is itself checked against skyscreen's formula.
//
// olad listens on fixed ports (UDP 5568, TCP 9010): CTest runs these tests under RESOURCE_LOCK olad.
// Skips when olad, setpriv or the Python client is missing (scripts/setup-deps.sh installs them).
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "led_expected.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::led {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::Child;

constexpr int kUniverses = 5;  // 720 LEDs / 170 per universe, rounded up

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string python() { return "/usr/bin/python3"; }
std::string fetch_script() { return test::source_dir() + "/tests/multiprocess/ola_fetch_dmx.py"; }

// olad with a private configuration directory, stopped (and its directory removed) on
// destruction, also when the test fails.
class Olad {
 public:
  explicit Olad(const fs::path& dir) : dir_(dir) {
    fs::create_directories(dir_);
    // Every plugin off but E1.31, so olad opens no other port.
    for (const char* plugin : {"artnet", "dummy", "espnet", "ftdidmx", "gpio", "karate", "kinet", "milinst", "opendmx",
                               "openpixelcontrol", "osc", "pathport", "renard", "sandnet", "shownet", "spi",
                               "stageprofi", "uartdmx", "usbdmx", "usbserial"}) {
      std::ofstream(dir_ / (std::string("ola-") + plugin + ".conf")) << "enabled = false\n";
    }
    std::ofstream(dir_ / "ola-e131.conf") << "enabled = true\ninput_ports = " << kUniverses
                                          << "\noutput_ports = 0\nip = 127.0.0.1\nignore_preview = true\n";
    std::ofstream ports(dir_ / "ola-port.conf");
    for (int k = 0; k < kUniverses; ++k) ports << "11-1-I-" << k << " = " << k + 1 << "\n";  // plugin 11 = E1.31
    ports.close();
    std::vector<std::string> argv{"/usr/bin/olad", "-c", dir_.string(), "--no-http", "--no-register-with-dns-sd"};
    if (::geteuid() == 0) {
      // olad refuses to run as root: run it as the packaged user, exec'd in place (setpriv, not
      // runuser, so that the Child is olad itself and dies with it).
      const passwd* pw = ::getpwnam("olad");
      if (pw == nullptr) throw std::runtime_error("no user olad (install the Debian package ola)");
      for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
        (void)::chown(entry.path().c_str(), pw->pw_uid, pw->pw_gid);
      }
      (void)::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid);
      argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid", std::to_string(pw->pw_uid), "--regid",
                                 std::to_string(pw->pw_gid), "--clear-groups", "--"});
    }
    child_.emplace(argv);
  }
  ~Olad() {
    if (child_ && child_->running()) {
      child_->signal(SIGTERM);
      if (child_->wait(10s) == -1) child_->signal(SIGKILL);
      (void)child_->wait(10s);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Olad(const Olad&) = delete;
  Olad& operator=(const Olad&) = delete;

  [[nodiscard]] const Child& child() const { return *child_; }

  // True once olad answers RPCs and has all the test's universes patched.
  [[nodiscard]] bool wait_ready(std::chrono::milliseconds timeout) const {
    return test::wait_until(
        [&] {
          if (!child_->running()) return false;
          const auto r = test::run({"/usr/bin/ola_uni_info"}, 10s);
          return r.exit_code == 0 && r.out.find("Universe " + std::to_string(kUniverses)) != std::string::npos;
        },
        timeout);
  }

 private:
  fs::path dir_;
  std::optional<Child> child_;
};

class LedOla : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"/usr/bin/olad", "/usr/bin/ola_uni_info", "/usr/bin/setpriv"}) {
      if (!fs::exists(tool)) GTEST_SKIP() << tool << " is missing (scripts/setup-deps.sh installs ola)";
    }
    if (test::run({python(), "-c", "import ola.ClientWrapper"}, 30s).exit_code != 0) {
      GTEST_SKIP() << "the OLA Python client is missing (Debian package ola-python)";
    }
    instance_ = test::unique_instance();
    dir_ = fs::temp_directory_path() / ("framering-" + instance_);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  }
  void TearDown() override {
    if (instance_.empty()) return;
    test::remove_instance(instance_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string instance_;
  fs::path dir_;
};

TEST_F(LedOla, OlaReceivesTheLedFrameInConsecutiveUniverses) {
  test::Watchdog watchdog(100s);
  Olad olad(dir_ / "ola");
  ASSERT_TRUE(olad.wait_ready(30s)) << "olad did not come up: " << olad.child().err();

  Child producer(test::peer_argv("produce", instance_,
                                 {"--ring", "processed", "--width", "64", "--height", "48", "--frames", "10",
                                  "--stop-at", "1"}));
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto status = test::ring_status(instance_, "processed");
        return test::process_state(producer.pid()) == 'T' && status && status->published == 1;
      },
      20s));
  const fs::path file = dir_ / "skyscreen";
  const auto r = test::run(test::framering_argv({"led", "--instance", instance_, "--ring", "processed", "--vanes", "36",
                                                 "--leds-per-vane", "20", "--hub-fraction", "0.1", "--contrast",
                                                 "fixed", "--fixed-min", "0", "--fixed-max", "255", "--gamma", "1",
                                                 "--brightness-cap", "1", "--frames", "1", "--mmap", file.string(),
                                                 "--e131-host", "127.0.0.1", "--universe-start", "1"}),
                           30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto bytes = read_file(file);
  ASSERT_EQ(test::check_led_file(test::LedTestGeometry{}, bytes, 0), "");

  // Universe u holds LEDs 170 * (u - 1) .. : bytes 510 * (u - 1) .. of the file.
  const auto expected = [&](int u) {
    const std::size_t first = 510 * static_cast<std::size_t>(u - 1);
    const std::size_t count = std::min<std::size_t>(510, bytes.size() - first);
    return std::vector<int>(bytes.begin() + static_cast<std::ptrdiff_t>(first),
                            bytes.begin() + static_cast<std::ptrdiff_t>(first + count));
  };
  nlohmann::json got;
  const bool arrived = test::wait_until(
      [&] {
        const auto fetch = test::run({python(), fetch_script(), "1", "3", "5", "--timeout-s", "5"}, 20s);
        if (fetch.exit_code != 0) return false;
        got = nlohmann::json::parse(fetch.out, nullptr, false);
        return got.is_object() && got.contains("5") && !got["5"].empty();
      },
      30s);
  ASSERT_TRUE(arrived) << "OLA holds no DMX for universe 5: " << got.dump();
  for (const int u : {1, 3, 5}) {
    const auto dmx = got[std::to_string(u)].get<std::vector<int>>();
    EXPECT_EQ(dmx, expected(u)) << "universe " << u;
  }
  EXPECT_EQ(got["5"].size(), 120U);  // the last universe: 40 LEDs
  producer.signal(SIGCONT);
}

}  // namespace
}  // namespace framering::led
