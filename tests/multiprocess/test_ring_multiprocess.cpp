// The ring across real processes (ring_peer and the framering binary), each on its own mapping:
// every consumers get every frame in order, newest consumers never show a torn frame, and
// `framering status --json` shows what the participants are doing. Processes stop themselves at
// known points (SIGSTOP, seen as /proc state 'T'), so that the test looks at the ring there
// instead of sleeping.
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/ring_status.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::ring {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Child;

std::string str(std::uint64_t value) { return std::to_string(value); }

class RingMultiprocess : public ::testing::Test {
 protected:
  void SetUp() override { instance_ = test::unique_instance(); }
  void TearDown() override { test::remove_instance(instance_); }

  [[nodiscard]] std::vector<std::string> peer(const std::string& role, std::vector<std::string> extra) const {
    return test::peer_argv(role, instance_, std::move(extra));
  }

  [[nodiscard]] std::uint64_t published() const {
    const auto status = test::ring_status(instance_);
    return status ? status->published : 0;
  }

  [[nodiscard]] std::optional<ConsumerStatus> consumer(std::string_view name) const {
    const auto status = test::ring_status(instance_);
    return status ? test::consumer_named(*status, name) : std::nullopt;
  }

  // Waits until the producer has stopped itself before claiming `sequence` (--stop-at).
  [[nodiscard]] bool producer_stopped_at(const Child& producer, std::uint64_t sequence) const {
    return test::wait_until([&] { return test::process_state(producer.pid()) == 'T' && published() == sequence; }, 20s);
  }

  std::string instance_;
};

TEST_F(RingMultiprocess, EveryConsumerGetsEverySequenceInOrderWithIntactContentAcrossManyWraps) {
  test::Watchdog watchdog(60s);
  constexpr std::uint64_t kFrames = 100'000;  // 12,500 laps of an 8-slot ring
  Child producer(peer("produce", {"--frames", str(kFrames), "--width", "64", "--height", "48", "--slots", "8",
                                  "--stop-at", "0"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  Child every(peer("every", {"--name", "rec", "--frames", str(kFrames), "--verify"}));
  ASSERT_TRUE(test::wait_attached(instance_, "rec", every.pid(), 20s)) << every.err();

  producer.signal(SIGCONT);

  ASSERT_EQ(test::finish(every, 50s), 0) << every.out() << every.err();
  ASSERT_EQ(test::finish(producer, 10s), 0) << producer.out() << producer.err();
  const json sut = test::report_of(every.out());
  ASSERT_TRUE(sut.is_object()) << every.out();
  EXPECT_EQ(sut["frames"], kFrames);
  EXPECT_EQ(sut["first"], 0);
  EXPECT_EQ(sut["last"], kFrames - 1);
  EXPECT_EQ(sut["gaps"], json::array());
  EXPECT_EQ(sut["out_of_order"], 0);
  EXPECT_EQ(sut["bad_content"], 0);
  EXPECT_EQ(sut["torn_detected"], 0);
  EXPECT_EQ(sut["lost_counter"], 0);
}

TEST_F(RingMultiprocess, NewestConsumerNeverShowsATornFrameAndCountsTornAndSkippedInItsEntry) {
  test::Watchdog watchdog(60s);
  constexpr std::uint64_t kFrames = 3000;
  // Two slots of 1.5 MB: the producer rewrites the slot a reader is in every other frame.
  Child producer(peer("produce", {"--frames", str(kFrames), "--width", "1024", "--height", "768", "--slots", "2",
                                  "--stop-at", "0", "5", "10"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  // It stops holding its first frame (unreleased), then reads flat out, then stops again after
  // its report with its entry still in the table.
  Child newest(peer("newest", {"--name", "view", "--frames", "1000000", "--until-sequence", str(kFrames - 1),
                               "--verify", "--stop-before-release", "1", "--stop-before-exit", "--delay-us", "50"}));
  ASSERT_TRUE(test::wait_attached(instance_, "view", newest.pid(), 20s)) << newest.err();

  // A certain tear: the consumer holds frame s while the producer publishes s+2 into its slot.
  producer.signal(SIGCONT);
  ASSERT_TRUE(producer_stopped_at(producer, 5)) << producer.err();
  ASSERT_TRUE(test::wait_stopped(newest, 20s)) << newest.err();
  producer.signal(SIGCONT);
  ASSERT_TRUE(producer_stopped_at(producer, 10)) << producer.err();
  const auto holding = consumer("view");
  ASSERT_TRUE(holding.has_value());
  ASSERT_LE(holding->cursor + 2, 10U) << "the held frame's slot has been rewritten";
  // Then the race: both run flat out.
  newest.signal(SIGCONT);
  producer.signal(SIGCONT);
  ASSERT_TRUE(test::wait_until(
      [&] { return test::process_state(newest.pid()) == 'T' && test::report_of(newest.out()).is_object(); }, 40s))
      << newest.out() << newest.err();

  const json sut = test::report_of(newest.out());
  const auto entry = consumer("view");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(sut["torn_shown"], 0) << sut;
  EXPECT_EQ(sut["bad_content"], 0) << sut;
  EXPECT_EQ(sut["out_of_order"], 0) << "a frame shown twice or backwards: " << sut;
  EXPECT_EQ(sut["last"], kFrames - 1);
  EXPECT_GE(sut["torn_detected"].get<std::uint64_t>(), 1U) << sut;
  EXPECT_GE(sut["skipped"].get<std::uint64_t>(), 1U) << sut;
  // What release() returned is what the entry (and so `framering status`) says.
  EXPECT_EQ(entry->frames_torn, sut["torn_detected"].get<std::uint64_t>());
  EXPECT_EQ(entry->frames_skipped, sut["skipped"].get<std::uint64_t>());
  EXPECT_EQ(entry->frames_read, sut["frames"].get<std::uint64_t>());
  // Every published frame it passed is accounted for exactly once: read, torn or skipped.
  EXPECT_EQ(entry->frames_read + entry->frames_torn + entry->frames_skipped,
            entry->cursor - sut["cursor_at_start"].get<std::uint64_t>());
  newest.signal(SIGCONT);
  EXPECT_EQ(test::finish(newest, 10s), 0) << newest.err();
  EXPECT_EQ(test::finish(producer, 20s), 0) << producer.err();
}

TEST_F(RingMultiprocess, StatusJsonListsTheLiveProducerAndConsumersWithTheirCounters) {
  test::Watchdog watchdog(60s);
  Child producer(peer("produce", {"--frames", "1000", "--slots", "64", "--stop-at", "0", "50"}));
  ASSERT_TRUE(producer_stopped_at(producer, 0)) << producer.err();
  Child every(peer("every", {"--name", "rec", "--frames", "1000", "--stop-after", "20"}));
  Child newest(peer("newest", {"--name", "view", "--stop-after", "1"}));
  ASSERT_TRUE(test::wait_attached(instance_, "rec", every.pid(), 20s)) << every.err();
  ASSERT_TRUE(test::wait_attached(instance_, "view", newest.pid(), 20s)) << newest.err();
  producer.signal(SIGCONT);
  ASSERT_TRUE(producer_stopped_at(producer, 50)) << producer.err();
  ASSERT_TRUE(test::wait_stopped(every, 20s)) << every.err();
  ASSERT_TRUE(test::wait_stopped(newest, 20s)) << newest.err();

  const test::RunResult run = test::run(test::framering_argv({"status", "--instance", instance_, "--json"}), 20s);

  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json all = json::parse(run.out, nullptr, false);
  ASSERT_TRUE(all.is_array()) << run.out;
  ASSERT_EQ(all.size(), 1U) << run.out;
  const json& sut = all[0];
  EXPECT_EQ(sut["ring"], "raw");
  EXPECT_EQ(sut["instance"], instance_);
  EXPECT_EQ(sut["stale"], false);
  EXPECT_EQ(sut["permissions"], "0600");
  EXPECT_EQ(sut["geometry"]["slot_count"], 64);
  EXPECT_EQ(sut["producer"]["pid"], producer.pid());
  EXPECT_EQ(sut["producer"]["alive"], true);
  EXPECT_EQ(sut["producer"]["published"], 50);
  EXPECT_EQ(sut["producer"]["attaches"], 1);
  EXPECT_EQ(sut["producer"]["evictions"], 0);
  ASSERT_EQ(sut["consumers"].size(), 2U) << sut.dump(2);
  json rec;
  json view;
  for (const json& c : sut["consumers"]) (c["name"] == "rec" ? rec : view) = c;
  ASSERT_TRUE(rec.is_object()) << sut.dump(2);
  ASSERT_TRUE(view.is_object()) << sut.dump(2);
  EXPECT_EQ(rec["kind"], "every");
  EXPECT_EQ(rec["state"], "active");
  EXPECT_EQ(rec["pid"], every.pid());
  EXPECT_EQ(rec["alive"], true);
  EXPECT_EQ(rec["cursor"], 20);
  EXPECT_EQ(rec["lag"], 30);
  EXPECT_EQ(rec["frames_read"], 20);
  EXPECT_EQ(rec["frames_skipped"], 0);
  EXPECT_EQ(rec["frames_torn"], 0);
  EXPECT_EQ(rec["evictions"], 0);
  EXPECT_EQ(rec["gaps"], 0);
  EXPECT_EQ(rec["last_gap"], nullptr);
  EXPECT_EQ(view["name"], "view");
  EXPECT_EQ(view["kind"], "newest");
  EXPECT_EQ(view["state"], "active");
  EXPECT_EQ(view["pid"], newest.pid());
  EXPECT_EQ(view["alive"], true);
  EXPECT_EQ(view["frames_read"], 1);
  EXPECT_EQ(view["frames_torn"], 0);
  EXPECT_EQ(view["evictions"], 0);
  EXPECT_EQ(view["gaps"], 0);
  // It took one frame, the newest at the time; the ones before it were skipped.
  const auto view_cursor = view["cursor"].get<std::uint64_t>();
  EXPECT_GE(view_cursor, 1U);
  EXPECT_LE(view_cursor, 50U);
  EXPECT_EQ(view["frames_skipped"], view_cursor - 1);
  EXPECT_EQ(view["lag"], 50 - view_cursor);

  const test::RunResult text = test::run(test::framering_argv({"status", "--instance", instance_}), 20s);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("rec"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("view"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("published 50"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace framering::ring
