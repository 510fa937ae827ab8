// The HTTP API's pure parts: endpoints, the loopback rule, recording requests and names, the
// Prometheus text, and RunService's queue and event log (one process, no sockets).
#include <gtest/gtest.h>

#include <thread>

#include "framering/common/error.hpp"
#include "framering/supervise/http_server.hpp"
#include "framering/supervise/metrics.hpp"
#include "framering/supervise/recording_request.hpp"
#include "framering/supervise/run_service.hpp"

namespace framering::supervise {
namespace {

using namespace std::chrono_literals;

TEST(ParseEndpoint, APortAloneListensOnLoopback) {
  HttpOptions sut;
  parse_endpoint("8080", "--http", sut);
  EXPECT_EQ(sut.address, "127.0.0.1");
  EXPECT_EQ(sut.port, 8080);
}

TEST(ParseEndpoint, AddressesAndPortZeroAreTaken) {
  HttpOptions sut;
  parse_endpoint("0.0.0.0:0", "--http", sut);
  EXPECT_EQ(sut.address, "0.0.0.0");
  EXPECT_EQ(sut.port, 0);
  parse_endpoint("[::1]:9000", "--http", sut);
  EXPECT_EQ(sut.address, "::1");
  EXPECT_EQ(sut.port, 9000);
  parse_endpoint("localhost:1", "--http", sut);
  EXPECT_EQ(sut.address, "127.0.0.1");
}

TEST(ParseEndpoint, MalformedEndpointsAreConfigErrorsNamingTheOption) {
  for (const char* text : {"", "http", "65536", "1.2.3:80", "host:80", "[::1]80", "80x", "-1"}) {
    HttpOptions sut;
    try {
      parse_endpoint(text, "--http", sut);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--http"), std::string::npos) << e.what();
    }
  }
}

TEST(IsLoopback, OnlyLoopbackAddressesAre) {
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("127.1.2.3"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_FALSE(is_loopback("0.0.0.0"));
  EXPECT_FALSE(is_loopback("192.168.1.5"));
  EXPECT_FALSE(is_loopback("::"));
}

TEST(RecordingName, PlainNamesAreAcceptedAndAnythingThatLeavesTheRootIsNot) {
  EXPECT_EQ(recording_name_problem("run-042_a.b"), "");
  for (const char* name : {"", ".", "..", "../x", "/abs", "a/b", "a\\b", ".hidden", "a b", "x\n"}) {
    EXPECT_NE(recording_name_problem(name), "") << name;
  }
  EXPECT_NE(recording_name_problem(std::string(101, 'a')), "");
}

TEST(ParseRecordingRequest, AFullRequestIsRead) {
  const auto sut = parse_recording_request(
      R"({"name": "n", "ring": "raw", "frames": 100, "on_drop": "fail", "force": true, "root": "/data"})",
      {"recordings", "/data"});
  ASSERT_TRUE(sut) << sut.error().body.dump();
  EXPECT_EQ(sut->name, "n");
  EXPECT_EQ(sut->ring, "raw");
  EXPECT_EQ(sut->frames, 100U);
  EXPECT_TRUE(sut->fail_on_drop);
  EXPECT_TRUE(sut->force);
  EXPECT_EQ(sut->root, "/data");
}

TEST(ParseRecordingRequest, MalformedJsonIs400SayingWhere) {
  const auto sut = parse_recording_request(R"({"name": )", {"recordings"});
  ASSERT_FALSE(sut);
  EXPECT_EQ(sut.error().status, 400);
  EXPECT_NE(sut.error().body["error"].get<std::string>().find("column"), std::string::npos);
}

TEST(ParseRecordingRequest, EachBadFieldIs422NamingIt) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"ring": "raw"})", "name"},
      {R"({"name": 3, "ring": "raw"})", "name"},
      {R"({"name": "../x", "ring": "raw"})", "name"},
      {R"({"name": "n", "ring": "a/b"})", "ring"},
      {R"({"name": "n", "ring": "raw", "frames": 0})", "frames"},
      {R"({"name": "n", "ring": "raw", "frames": -1})", "frames"},
      {R"({"name": "n", "ring": "raw", "frames": 1.5})", "frames"},
      {R"({"name": "n", "ring": "raw", "seconds": 0})", "seconds"},
      {R"({"name": "n", "ring": "raw", "frames": 1, "seconds": 1})", "seconds"},
      {R"({"name": "n", "ring": "raw", "on_drop": "ignore"})", "on_drop"},
      {R"({"name": "n", "ring": "raw", "force": "yes"})", "force"},
      {R"({"name": "n", "ring": "raw", "root": "/etc"})", "root"},
      {R"({"name": "n", "ring": "raw", "colour": "red"})", "colour"},
  };
  for (const auto& [body, field] : cases) {
    const auto sut = parse_recording_request(body, {"recordings"});
    ASSERT_FALSE(sut) << body;
    EXPECT_EQ(sut.error().status, 422) << body;
    EXPECT_EQ(sut.error().body.value("field", ""), field) << body << " -> " << sut.error().body.dump();
  }
}

TEST(PrometheusMetrics, EachFamilyHasHelpAndTypeOnceAndLabelsAreEscaped) {
  ring::RingStatus raw;
  raw.ring = "raw";
  raw.published = 42;
  ring::ConsumerStatus c;
  c.name = "rec";
  c.kind = ring::ConsumerKind::Every;
  c.frames_read = 40;
  c.latency_frames = 10;
  c.latency_p50_us = 1500;
  raw.consumers.push_back(c);
  const std::vector<ring::RingListing> rings = {{"a\"b\\c", "raw", raw, false, ""}, {"x", "bad", std::nullopt, false, "e"}};
  const std::string sut = prometheus_metrics("a\"b\\c", rings, {{"acquire", "running", 2, 7, ""}});
  EXPECT_NE(sut.find("framering_ring_frames_published_total{instance=\"a\\\"b\\\\c\",ring=\"raw\"} 42\n"), std::string::npos)
      << sut;
  EXPECT_NE(sut.find("framering_consumer_latency_p50_seconds{instance=\"a\\\"b\\\\c\",ring=\"raw\",consumer=\"rec\","
                     "kind=\"every\"} 0.0015\n"),
            std::string::npos)
      << sut;
  EXPECT_NE(sut.find("framering_stage_restarts_total{instance=\"a\\\"b\\\\c\",stage=\"acquire\"} 2\n"), std::string::npos);
  EXPECT_NE(sut.find("framering_stage_up{instance=\"a\\\"b\\\\c\",stage=\"acquire\"} 1\n"), std::string::npos);
  std::size_t helps = 0;
  for (std::size_t at = sut.find("# HELP "); at != std::string::npos; at = sut.find("# HELP ", at + 1)) ++helps;
  std::size_t types = 0;
  for (std::size_t at = sut.find("# TYPE "); at != std::string::npos; at = sut.find("# TYPE ", at + 1)) ++types;
  EXPECT_EQ(helps, 15U);
  EXPECT_EQ(types, 15U);
}

TEST(RunService, ASubmittedCommandGetsTheSupervisorsReply) {
  RunService sut;
  std::thread supervisor([&] {
    for (;;) {
      sut.wait_for_commands(10ms);
      auto commands = sut.take_commands();
      if (commands.empty()) continue;
      for (auto& c : commands) c.reply.set_value({201, {{"id", std::get<StartRecording>(c.what).name}}});
      return;
    }
  });
  const Reply reply = sut.submit(StartRecording{.name = "n"}, 10s);
  supervisor.join();
  EXPECT_EQ(reply.status, 201);
  EXPECT_EQ(reply.body["id"], "n");
}

TEST(RunService, AfterCloseCommandsAre503AndEventWaitsReturn) {
  RunService sut;
  sut.close();
  EXPECT_EQ(sut.submit(StopRecording{"x"}, 1s).status, 503);
  EXPECT_TRUE(sut.wait_events(0, 10s).empty());
}

TEST(RunService, EventsAfterAnIdAreReturnedInOrderAndOldOnesAreDropped) {
  RunService sut;
  for (int i = 0; i < static_cast<int>(RunService::kEventsKept) + 5; ++i) sut.post_event("loss", {{"i", i}});
  bool dropped = false;
  const auto all = sut.wait_events(0, 0ms, &dropped);
  EXPECT_TRUE(dropped);
  ASSERT_EQ(all.size(), RunService::kEventsKept);
  EXPECT_EQ(all.front().id, 6U);
  const auto newest = sut.wait_events(sut.last_event_id() - 1, 0ms, &dropped);
  EXPECT_FALSE(dropped);
  ASSERT_EQ(newest.size(), 1U);
  EXPECT_EQ(newest[0].data["i"], static_cast<int>(RunService::kEventsKept) + 4);
}

}  // namespace
}  // namespace framering::supervise
