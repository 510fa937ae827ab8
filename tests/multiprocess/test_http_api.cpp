// `framering run --http` end to end: a real run of a pattern pipeline, its API spoken over real
// HTTP (tests/support/http_client.hpp), recordings made by real recorder processes and read back
// with `framering inspect`, metrics checked by Prometheus' own promtool.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/ring_reader.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "http_client.hpp"
#include "http_run.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPromtool = "/usr/bin/promtool";  // Debian's prometheus package (scripts/setup-deps.sh)

class HttpApi : public test::HttpRunTest {
 protected:
  std::filesystem::path recordings() const { return dir_ / "recordings"; }

  std::string write_config(const std::string& http_extra = "") {
    const auto path = dir_ / "pipeline.toml";
    std::ofstream(path) << fmt::format("instance = \"{}\"\n[restart]\nmax_restarts = 3\nbackoff_ms = 50\n", instance_)
                        << fmt::format("[http]\nrecording_roots = [\"{}\"]\n{}\n", recordings().string(), http_extra)
                        << test::pattern_acquire_stage(200) << extra_stages_;
    return path.string();
  }

  // Starts `framering run` with the API on a free loopback port and waits for its
  // "listening on http://127.0.0.1:PORT/" line.
  void start(const std::string& http_extra = "") {
    run_.emplace(std::vector<std::string>{test::framering_bin(), "run", "--config", write_config(http_extra), "--http",
                                          "127.0.0.1:0"});
    port_ = test::wait_for_http_port(*run_);
    ASSERT_GT(port_, 0) << run_->err();
    ASSERT_TRUE(test::wait_until(
        [&] {
          const auto ring = test::ring_status(instance_);
          return ring && ring->producer_alive && ring->published > 0;
        },
        30s))
        << run_->err();
  }

  test::HttpReply get(const std::string& path, const std::vector<std::string>& headers = {}) const {
    return test::http_request(port_, "GET", path, "", headers);
  }
  test::HttpReply post(const std::string& path, const std::string& body, const std::vector<std::string>& headers = {}) const {
    return test::http_request(port_, "POST", path, body, headers);
  }

  // POSTs a recording; its id.
  std::string start_recording(const nlohmann::json& request) {
    const auto reply = post("/api/v1/recordings", request.dump());
    EXPECT_EQ(reply.status, 201) << reply.body;
    return reply.json().value("id", "");
  }

  // GETs the recording until `done` holds for it (30 s at most); the last answer.
  nlohmann::json wait_recording(const std::string& id, const std::function<bool(const nlohmann::json&)>& done) {
    nlohmann::json last;
    EXPECT_TRUE(test::wait_until(
        [&] {
          last = get("/api/v1/recordings/" + id).json();
          return done(last);
        },
        30s))
        << last.dump(2) << run_->err();
    return last;
  }

  static bool ended(const nlohmann::json& r) { return r.value("state", "") == "finished" || r.value("state", "") == "failed"; }

  // `framering inspect --json` on a recording.
  static nlohmann::json inspect(const std::string& path) {
    const auto r = test::run({test::framering_bin(), "inspect", "--json", path}, 60s);
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  test::HttpReply patch(const std::string& path, const std::string& body) const {
    return test::http_request(port_, "PATCH", path, body);
  }

  std::string extra_stages_;  ///< [[stage]] tables after acquire's
};

TEST_F(HttpApi, StatusShowsTheRingsAsStatusJsonDoesAndEachStagesState) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start());
  const auto reply = get("/api/v1/status");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.headers.at("Content-Type"), "application/json");
  const auto j = reply.json();
  EXPECT_EQ(j["instance"], instance_);
  EXPECT_EQ(j["state"], "running");
  ASSERT_EQ(j["rings"].size(), 1U) << j.dump(2);
  const auto& ring = j["rings"][0];
  EXPECT_EQ(ring["ring"], "raw");
  EXPECT_EQ(ring["instance"], instance_);
  EXPECT_TRUE(ring["producer"]["alive"].get<bool>());
  EXPECT_GT(ring["producer"]["published"].get<std::uint64_t>(), 0U);
  // The same keys as `framering status --json`.
  const auto cli = test::run({test::framering_bin(), "status", "--instance", instance_, "--json"}, 30s);
  const auto cli_json = nlohmann::json::parse(cli.out, nullptr, false);
  ASSERT_TRUE(cli_json.is_array()) << cli.out;
  ASSERT_EQ(cli_json.size(), 1U);
  for (const auto& [key, value] : cli_json[0].items()) EXPECT_TRUE(ring.contains(key)) << key;
  ASSERT_EQ(j["stages"].size(), 1U);
  const auto& stage = j["stages"][0];
  EXPECT_EQ(stage["name"], "acquire");
  EXPECT_EQ(stage["state"], "running");
  EXPECT_EQ(stage["restarts"], 0);
  EXPECT_EQ(stage["pid"], ring["producer"]["pid"]);
}

TEST_F(HttpApi, StageKilledShowsItsRestartInStatusAndAsAnEvent) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start());
  test::HttpConnection events(port_);
  ASSERT_EQ(events.send("GET", "/api/v1/events").status, 200);
  EXPECT_NE(events.read_until("\n\n").find("framering events"), std::string::npos);
  const auto pid = get("/api/v1/status").json()["stages"][0]["pid"].get<pid_t>();
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGKILL);
  std::string stream;
  while (stream.find("event: stage_restarted") == std::string::npos) {
    const std::string part = events.read_until("\n\n");  // one event
    ASSERT_FALSE(part.empty()) << "the event stream ended: " << stream;
    stream += part;
  }
  EXPECT_NE(stream.find("\"stage\":\"acquire\""), std::string::npos) << stream;
  nlohmann::json stage;
  ASSERT_TRUE(test::wait_until(
      [&] {
        stage = get("/api/v1/status").json()["stages"][0];
        return stage["state"] == "running" && stage["restarts"] == 1;
      },
      30s))
      << stage.dump();
  EXPECT_NE(stage["pid"], pid);
}

TEST_F(HttpApi, MetricsPassPromtoolCheck) {
  test::Watchdog watchdog(60s);
  ASSERT_TRUE(std::filesystem::exists(kPromtool)) << kPromtool << " is missing: run scripts/setup-deps.sh (package prometheus)";
  ASSERT_NO_FATAL_FAILURE(start());
  // A consumer with latencies, so that every family has samples.
  const std::string id = start_recording({{"name", "metrics"}, {"ring", "raw"}});
  ASSERT_TRUE(test::wait_until([&] { return get("/api/v1/recordings/" + id).json().value("frames", 0) > 10; }, 30s));
  const auto reply = get("/metrics");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers.at("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  for (const char* family : {"framering_ring_frames_published_total", "framering_consumer_frames_read_total",
                             "framering_consumer_frames_lost_total", "framering_consumer_frames_skipped_total",
                             "framering_consumer_frames_torn_total", "framering_consumer_latency_p50_seconds",
                             "framering_consumer_latency_p99_seconds", "framering_stage_restarts_total"}) {
    EXPECT_NE(reply.body.find(fmt::format("# TYPE {} ", family)), std::string::npos) << family;
    EXPECT_NE(reply.body.find(fmt::format("# HELP {} ", family)), std::string::npos) << family;
  }
  EXPECT_NE(reply.body.find(fmt::format("framering_consumer_frames_read_total{{instance=\"{}\",ring=\"raw\",consumer=\"{}\"",
                                        instance_, id)),
            std::string::npos)
      << reply.body;
  const auto file = dir_ / "metrics.txt";
  std::ofstream(file) << reply.body;
  const auto check = test::run({"/bin/sh", "-c", fmt::format("{} check metrics < '{}'", kPromtool, file.string())}, 30s);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << reply.body;
}

TEST_F(HttpApi, RecordingOfAHundredFramesEndsCompleteWithAHundredFrames) {
  test::Watchdog watchdog(90s);
  ASSERT_NO_FATAL_FAILURE(start());
  const auto reply = post("/api/v1/recordings", R"({"name": "series-1", "ring": "raw", "frames": 100})");
  ASSERT_EQ(reply.status, 201) << reply.body;
  const std::string id = reply.json()["id"];
  EXPECT_EQ(reply.headers.at("Location"), "/api/v1/recordings/" + id);
  const auto r = wait_recording(id, ended);
  EXPECT_EQ(r["state"], "finished") << r.dump(2);
  EXPECT_EQ(r["verdict"], "complete");
  EXPECT_EQ(r["frames"], 100);
  EXPECT_EQ(r["lost"], 0);
  EXPECT_EQ(r["path"], (recordings() / "series-1").string());
  const auto report = inspect(r["path"]);
  EXPECT_EQ(report["complete"], true) << report.dump(2);
  EXPECT_EQ(report["consistent"], true) << report.dump(2);
  EXPECT_EQ(report["frames_recorded"], 100);
}

TEST_F(HttpApi, StopMidSeriesDrainsAndClosesAWholeRecording) {
  test::Watchdog watchdog(90s);
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string id = start_recording({{"name", "until-stopped"}, {"ring", "raw"}, {"on_drop", "fail"}});
  ASSERT_FALSE(id.empty());
  wait_recording(id, [](const nlohmann::json& r) { return r.value("frames", 0) >= 50; });
  const auto stop = post("/api/v1/recordings/" + id + "/stop", "");
  ASSERT_EQ(stop.status, 202) << stop.body;
  const auto r = wait_recording(id, ended);
  EXPECT_EQ(r["state"], "finished") << r.dump(2);
  EXPECT_EQ(r["verdict"], "complete");
  EXPECT_EQ(r["result"]["stop"]["reason"], "signal SIGTERM");
  EXPECT_GE(r["frames"].get<int>(), 50);
  const auto report = inspect(r["path"]);
  EXPECT_EQ(report["complete"], true) << report.dump(2);
  EXPECT_EQ(report["consistent"], true) << "every page whole, index and pages agree: " << report.dump(2);
  EXPECT_EQ(report["frames_recorded"], r["frames"]);
  const auto again = post("/api/v1/recordings/" + id + "/stop", "");
  EXPECT_EQ(again.status, 409) << again.body;
}

TEST_F(HttpApi, RecordingForSecondsStopsByItselfAndIsAnnouncedAsEvents) {
  test::Watchdog watchdog(90s);
  ASSERT_NO_FATAL_FAILURE(start());
  test::HttpConnection events(port_);
  ASSERT_EQ(events.send("GET", "/api/v1/events").status, 200);
  (void)events.read_until("\n\n");  // the stream's opening comment
  const std::string id = start_recording({{"name", "timed"}, {"ring", "raw"}, {"seconds", 0.5}});
  const auto r = wait_recording(id, ended);
  EXPECT_EQ(r["state"], "finished") << r.dump(2);
  EXPECT_EQ(r["verdict"], "complete");
  EXPECT_EQ(r["result"]["stop"]["reason"], "signal SIGTERM") << "a time limit is a drained stop";
  EXPECT_GT(r["frames"].get<int>(), 0);
  std::string stream;
  while (stream.find("event: recording_finished") == std::string::npos) {
    const std::string part = events.read_until("\n\n");
    ASSERT_FALSE(part.empty()) << "the event stream ended: " << stream;
    stream += part;
  }
  EXPECT_NE(stream.find("event: recording_started\ndata: {\"id\":\"" + id), std::string::npos) << stream;
  EXPECT_NE(stream.find("\"verdict\":\"complete\""), std::string::npos) << stream;
}

TEST_F(HttpApi, ARecorderKilledMidSeriesIsRestartedAndFinishesTheFramesAsked) {
  test::Watchdog watchdog(90s);
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string id = start_recording({{"name", "resumed"}, {"ring", "raw"}, {"frames", 300}});
  const auto running = wait_recording(id, [](const nlohmann::json& r) { return r.value("frames", 0) >= 50; });
  const auto pid = running["pid"].get<pid_t>();
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGKILL);  // wherever it is: it resumes its recording at its cursor
  const auto r = wait_recording(id, ended);
  EXPECT_EQ(r["state"], "finished") << r.dump(2);
  EXPECT_EQ(r["restarts"], 1);
  EXPECT_EQ(r["verdict"], "complete");
  EXPECT_EQ(r["frames"], 300) << "the restart records only the frames still missing";
  const auto report = inspect(r["path"]);
  EXPECT_EQ(report["complete"], true) << report.dump(2);
  EXPECT_EQ(report["consistent"], true) << report.dump(2);
  EXPECT_EQ(report["frames_recorded"], 300);
}

TEST_F(HttpApi, OnDropFailEndsTheRecordingAsFailedAtTheFirstLoss) {
  test::Watchdog watchdog(90s);
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string id =
      start_recording({{"name", "strict"}, {"ring", "raw"}, {"on_drop", "fail"}, {"stall_timeout_s", 0.3}});
  const auto running = wait_recording(id, [](const nlohmann::json& r) { return r.value("frames", 0) >= 10; });
  const auto pid = running["pid"].get<pid_t>();
  ASSERT_GT(pid, 0);
  // Stalled: the producer evicts it after its stall timeout and goes on.
  ::kill(pid, SIGSTOP);
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto ring = test::ring_status(instance_);
        const auto c = ring ? test::consumer_named(*ring, id) : std::nullopt;
        return c && c->state == ring::ConsumerState::Evicted;
      },
      30s));
  ::kill(pid, SIGCONT);
  const auto r = wait_recording(id, ended);
  EXPECT_EQ(r["state"], "failed") << r.dump(2);
  EXPECT_EQ(r["verdict"], "incomplete");
  EXPECT_EQ(r["result"]["stop"]["reason"], "drop");
  EXPECT_GT(r["lost"].get<int>(), 0);
  const auto report = inspect(r["path"]);
  EXPECT_EQ(report["complete"], false) << report.dump(2);
  EXPECT_EQ(report["consistent"], true) << report.dump(2);
}

TEST_F(HttpApi, RecordingIsRefusedWhileTheRingLosesFramesUnlessForced) {
  test::Watchdog watchdog(90s);
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string first = start_recording({{"name", "stalled"}, {"ring", "raw"}, {"stall_timeout_s", 0.3}});
  const auto running = wait_recording(first, [](const nlohmann::json& r) { return r.value("frames", 0) >= 10; });
  const auto pid = running["pid"].get<pid_t>();
  ::kill(pid, SIGSTOP);
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto ring = test::ring_status(instance_);
        const auto c = ring ? test::consumer_named(*ring, first) : std::nullopt;
        return c && c->state == ring::ConsumerState::Evicted;
      },
      30s));
  const auto refused = post("/api/v1/recordings", R"({"name": "second", "ring": "raw"})");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.json().value("error", "").find("losing frames"), std::string::npos) << refused.body;
  EXPECT_EQ(post("/api/v1/recordings", R"({"name": "second", "ring": "raw", "force": true, "frames": 20})").status, 201);
  ::kill(pid, SIGCONT);
}

TEST_F(HttpApi, RecordingNamesThatLeaveTheRootAreRefusedNamingTheField) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start());
  for (const char* name : {"..", "../escape", "/tmp/absolute", "a/b", ".hidden", "", "a\\\\b"}) {
    const auto reply = post("/api/v1/recordings", fmt::format(R"({{"name": "{}", "ring": "raw"}})", name));
    EXPECT_EQ(reply.status, 422) << name << ": " << reply.body;
    EXPECT_EQ(reply.json().value("field", ""), "name") << reply.body;
    EXPECT_NE(reply.json().value("error", "").find("'name'"), std::string::npos) << reply.body;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "escape"));
  EXPECT_TRUE(get("/api/v1/recordings").json()["recordings"].empty());
}

TEST_F(HttpApi, BadRequestsGetTheirStatusAndTheRunGoesOn) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start());
  const auto malformed = post("/api/v1/recordings", R"({"name": "x", "ring": )");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.json().value("error", "").find("not valid JSON"), std::string::npos) << malformed.body;
  EXPECT_NE(malformed.json().value("error", "").find("column"), std::string::npos) << "says where: " << malformed.body;
  EXPECT_EQ(post("/api/v1/recordings", "[1, 2]").status, 400);
  const auto wrong_type = post("/api/v1/recordings", R"({"name": "x", "ring": "raw", "frames": "many"})");
  EXPECT_EQ(wrong_type.status, 422);
  EXPECT_EQ(wrong_type.json().value("field", ""), "frames") << wrong_type.body;
  EXPECT_EQ(post("/api/v1/recordings", R"({"name": "x", "ring": "nope"})").status, 422);
  EXPECT_EQ(post("/api/v1/recordings", std::string(200 * 1024, ' ')).status, 413);
  EXPECT_EQ(get("/api/v1/nothing-here").status, 404);
  EXPECT_EQ(get("/api/v1/recordings/rec-00000000").status, 404);
  const auto wrong_method = test::http_request(port_, "DELETE", "/api/v1/status");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.headers.at("Allow"), "GET");
  EXPECT_EQ(get("/api/v1/recordings/x/stop").status, 405);
  EXPECT_EQ(get("/api/v1/status").status, 200) << "the run still serves";
  EXPECT_TRUE(run_->running());
}

TEST_F(HttpApi, WithATokenEveryRequestNeedsIt) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start("token = \"s3cret-token\""));
  const auto missing = get("/api/v1/status");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.headers.count("WWW-Authenticate"), 1U);
  EXPECT_EQ(get("/api/v1/status", {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(get("/metrics", {"Authorization: Bearer s3cret-tokeX"}).status, 401);
  EXPECT_EQ(post("/api/v1/recordings", R"({"name": "x", "ring": "raw"})").status, 401);
  EXPECT_EQ(get("/api/v1/status", {"Authorization: Bearer s3cret-token"}).status, 200);
}

TEST(HttpApiStart, AnAddressOtherThanLoopbackWithoutATokenIsRefused) {
  test::Watchdog watchdog(60s);
  const std::string instance = test::unique_instance();
  const auto dir = std::filesystem::temp_directory_path() / ("framering-http-" + instance);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "p.toml") << fmt::format("instance = \"{}\"\n", instance) << test::pattern_acquire_stage(100);
  const auto r = test::run({test::framering_bin(), "run", "--config", (dir / "p.toml").string(), "--http", "0.0.0.0:0"}, 30s);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("needs a token"), std::string::npos) << r.err;
  EXPECT_TRUE(test::wait_until([&] { return !test::ring_status(instance).has_value(); }, 1s)) << "nothing started";
  test::remove_instance(instance);
  std::filesystem::remove_all(dir);
}

TEST(HttpApiStart, AMalformedHttpEndpointIsRefused) {
  const auto r = test::run({test::framering_bin(), "run", "--http", "localhost:99999", "--dry-run"}, 30s);
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

// ---- live parameters (docs/http-api.md, "Live parameters") -----------------------------------

class LiveParams : public HttpApi {
 protected:
  void SetUp() override {
    HttpApi::SetUp();
    extra_stages_ = test::identity_process_stage();
  }

  // An every consumer of `processed` from now on: the test sees every frame process publishes.
  [[nodiscard]] ring::RingReader processed_reader() const {
    ring::ReaderOptions options;
    options.name = "check";
    options.kind = ring::ConsumerKind::Every;
    options.stall_timeout = 100s;
    options.wait_for_segment = 30000ms;
    return ring::RingReader::attach(instance_, "processed", options);
  }

  // Waits until process has said hello (its parameters show).
  void wait_for_params() {
    ASSERT_TRUE(test::wait_until([&] { return !get("/api/v1/stages/process/params").json()["params"].empty(); }, 30s))
        << run_->err();
  }
};

TEST_F(LiveParams, ACutOffChangeShowsInTheProcessedFramesFromTheAcknowledgedSequenceOnAndInTheRecordingIndex) {
  test::Watchdog watchdog(120s);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(wait_for_params());
  const std::string id = start_recording({{"name", "live"}, {"ring", "processed"}, {"frames", 300}});
  (void)wait_recording(id, [](const nlohmann::json& r) { return r.value("frames", 0) >= 5; });  // the change comes mid-recording
  std::optional<ring::RingReader> reader_slot(processed_reader());
  ring::RingReader& reader = *reader_slot;
  // Identity until the change: every processed frame is the raw pattern of its input sequence.
  for (int i = 0; i < 20; ++i) {
    const auto frame = reader.read(30s);
    ASSERT_TRUE(frame.has_value()) << run_->err();
    ASSERT_TRUE(reader.release(*frame));
  }
  const auto reply = patch("/api/v1/stages/process/params", R"({"mode": "lowpass", "high_cutoff": 0.05})");
  ASSERT_EQ(reply.status, 200) << reply.body << run_->err();
  const nlohmann::json ack = reply.json();
  const auto generation = ack["generation"].get<std::uint32_t>();
  const auto from = ack["sequence"].get<std::uint64_t>();
  EXPECT_EQ(generation, 1U);
  EXPECT_EQ(ack["ring"], "processed");
  EXPECT_EQ(ack["values"]["mode"], "lowpass");
  EXPECT_EQ(ack["values"]["high_cutoff"], 0.05);
  std::uint64_t before = 0;
  std::uint64_t after = 0;
  while (after < 10) {
    const auto frame = reader.read(30s);
    ASSERT_TRUE(frame.has_value()) << run_->err();
    ASSERT_FALSE(frame->gap.has_value());
    const FrameShape shape{frame->width, frame->height, frame->pixel_format, frame->stride_bytes};
    const auto mismatch = check_sequence_pattern(frame->pixels, shape, frame->camera_frame_id);
    if (frame->sequence < from) {
      EXPECT_EQ(frame->settings_generation, 0U) << "frame " << frame->sequence;
      EXPECT_EQ(mismatch, std::nullopt) << "frame " << frame->sequence << " before " << from << " is unfiltered";
      ++before;
    } else {
      EXPECT_EQ(frame->settings_generation, generation) << "frame " << frame->sequence;
      EXPECT_NE(mismatch, std::nullopt) << "frame " << frame->sequence << " from " << from << " on is low-passed";
      ++after;
    }
    ASSERT_TRUE(reader.release(*frame));
  }
  EXPECT_EQ(get("/api/v1/stages/process/params").json()["params"]["high_cutoff"], 0.05);
  const nlohmann::json settings = get("/api/v1/settings").json();
  ASSERT_EQ(settings["changes"].size(), 1U) << settings.dump();
  EXPECT_EQ(settings["changes"][0]["sequence"], from);
  EXPECT_EQ(settings["changes"][0]["stage"], "process");
  // The recording keeps each frame's generation in its index.
  reader_slot.reset();  // an every consumer that stops reading would hold process, and the recorder behind it
  const nlohmann::json done = wait_recording(id, ended);
  ASSERT_EQ(done["verdict"], "complete") << done.dump(2);
  std::ifstream index(std::filesystem::path(done["path"].get<std::string>()) / "index.csv");
  std::string line;
  std::getline(index, line);
  ASSERT_EQ(line, "part,page,sequence,timestamp_ns,camera_frame_id,source_frames_lost,settings_generation");
  std::uint64_t rows = 0;
  std::uint64_t changed = 0;
  while (std::getline(index, line)) {
    const auto sequence = std::stoull(line.substr(line.find(',', line.find(',') + 1) + 1));
    const auto row_generation = std::stoul(line.substr(line.rfind(',') + 1));
    EXPECT_EQ(row_generation, sequence < from ? 0U : generation) << line;
    changed += sequence >= from ? 1 : 0;
    ++rows;
  }
  EXPECT_EQ(rows, 300U);
  EXPECT_GT(changed, 0U);
  EXPECT_LT(changed, rows) << "the change came mid-recording";
}

TEST_F(LiveParams, InvalidAndForbiddenChangesAreRefusedNamingTheParameterAndNothingChanges) {
  test::Watchdog watchdog(120s);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(wait_for_params());
  const std::string path = "/api/v1/stages/process/params";
  const nlohmann::json meta = get(path + "?meta=1").json()["params"];
  ASSERT_EQ(meta.size(), 4U) << meta.dump(2);
  EXPECT_EQ(meta[1]["name"], "low_cutoff");
  EXPECT_EQ(meta[1]["units"], "cycles/pixel");
  EXPECT_EQ(meta[1]["max"], 0.75);
  EXPECT_EQ(meta[1]["applies"], "live");
  struct Case {
    std::string body;
    int status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"high_cutoff": 0.9})", 422, "'high_cutoff' must be a number in [0.0001, 0.75] cycles/pixel, not 0.9"},
           {R"({"high_cutoff": "0.1"})", 422, "'high_cutoff' must be a number"},
           {R"({"mode": "logpower"})", 422, "one of identity, lowpass, highpass, bandpass, bandstop"},
           {R"({"mode": "bandpass", "low_cutoff": 0.3, "high_cutoff": 0.1})", 422, "low_cutoff (0.3) below high_cutoff"},
           {R"({"exposure": 5})", 422, "no parameter 'exposure' (it has: mode, low_cutoff, high_cutoff, offset)"},
           {R"({})", 422, "no parameters to change"},
           {R"([1, 2])", 400, "must be a JSON object"},
           {R"({"mode": )", 400, "not valid JSON"},
       }) {
    const auto reply = patch(path, c.body);
    EXPECT_EQ(reply.status, c.status) << c.body << ": " << reply.body;
    EXPECT_NE(reply.body.find(c.says), std::string::npos) << c.body << ": " << reply.body;
  }
  const auto unknown = patch("/api/v1/stages/nosuch/params", R"({"a": 1})");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  const auto rate = patch("/api/v1/stages/acquire/params", R"({"rate_hz": 0})");
  EXPECT_EQ(rate.status, 422) << rate.body;
  EXPECT_NE(rate.body.find("'rate_hz' must be a number in [0.001, 1000000] frames/s, not 0"), std::string::npos)
      << rate.body;
  const nlohmann::json now = get(path).json();
  EXPECT_EQ(now["params"]["mode"], "identity") << "nothing refused was applied";
  EXPECT_EQ(now["params"]["high_cutoff"], 0.2);
  EXPECT_EQ(now["generation"], 0) << "refused changes use up no generation";
  EXPECT_TRUE(get("/api/v1/settings").json()["changes"].empty());
  EXPECT_EQ(get("/api/v1/status").status, 200) << "the run goes on";
}

TEST_F(LiveParams, TheSourcesRateChangesLiveAndItsFramesCarryTheGeneration) {
  test::Watchdog watchdog(120s);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_TRUE(test::wait_until([&] { return !get("/api/v1/stages/acquire/params").json()["params"].empty(); }, 30s));
  EXPECT_EQ(get("/api/v1/stages/acquire/params").json()["params"]["rate_hz"], 200);
  const auto reply = patch("/api/v1/stages/acquire/params", R"({"rate_hz": 500})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto from = reply.json()["sequence"].get<std::uint64_t>();
  EXPECT_EQ(reply.json()["ring"], "raw");
  // process (identity) passes the source's generation on: max(its own 0, its input's).
  auto reader = processed_reader();
  for (int i = 0; i < 20; ++i) {
    const auto frame = reader.read(30s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->settings_generation, frame->camera_frame_id >= from ? 1U : 0U) << "input frame " << frame->camera_frame_id;
    ASSERT_TRUE(reader.release(*frame));
  }
  EXPECT_EQ(get("/api/v1/stages/acquire/params").json()["params"]["rate_hz"], 500);
}

TEST_F(LiveParams, AStageStoppedWhileAskedIsA504AndTheChangeItAppliesLaterIsKeptAndLogged) {
  test::Watchdog watchdog(120s);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(wait_for_params());
  const auto pid = get("/api/v1/status").json()["stages"][1]["pid"].get<pid_t>();
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGSTOP);  // the worst moment: the stage cannot answer
  const auto reply = patch("/api/v1/stages/process/params", R"({"high_cutoff": 0.15})");
  ::kill(pid, SIGCONT);
  EXPECT_EQ(reply.status, 504) << reply.body;
  EXPECT_NE(reply.body.find("did not answer within 5 s; the change may still apply"), std::string::npos) << reply.body;
  EXPECT_EQ(get("/api/v1/status").status, 200) << "the run went on";
  // Once it runs again it reads the change between two frames: kept, logged, in its frames.
  nlohmann::json settings;
  ASSERT_TRUE(test::wait_until(
      [&] {
        settings = get("/api/v1/settings").json();
        return settings["changes"].size() == 1 && !settings["changes"][0]["sequence"].is_null();
      },
      30s))
      << settings.dump(2) << run_->err();
  EXPECT_EQ(settings["changes"][0]["values"]["high_cutoff"], 0.15);
  EXPECT_EQ(get("/api/v1/stages/process/params").json()["params"]["high_cutoff"], 0.15);
  auto reader = processed_reader();
  const auto frame = reader.read(30s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->settings_generation, settings["changes"][0]["generation"].get<std::uint32_t>());
}

TEST_F(LiveParams, AStageKilledAfterAChangeIsRestartedWithItAndItsGeneration) {
  test::Watchdog watchdog(120s);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(wait_for_params());
  const auto reply = patch("/api/v1/stages/process/params", R"({"mode": "highpass", "low_cutoff": 0.1})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto generation = reply.json()["generation"].get<std::uint32_t>();
  const auto pid = get("/api/v1/status").json()["stages"][1]["pid"].get<pid_t>();
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGKILL);
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto stage = get("/api/v1/status").json()["stages"][1];
        return stage["state"] == "running" && stage["pid"] != pid && stage["restarts"] == 1;
      },
      30s))
      << run_->err();
  ASSERT_TRUE(test::wait_until([&] { return run_->err().find("applying its live settings again") != std::string::npos; }, 30s))
      << run_->err();
  // Every frame of the new process has the change: it waits for the supervisor's welcome, which
  // follows the kept changes, before its first frame.
  auto reader = processed_reader();
  for (int i = 0; i < 10; ++i) {
    const auto frame = reader.read(30s);
    ASSERT_TRUE(frame.has_value()) << run_->err();
    EXPECT_EQ(frame->settings_generation, generation) << "frame " << frame->sequence;
    const FrameShape shape{frame->width, frame->height, frame->pixel_format, frame->stride_bytes};
    EXPECT_NE(check_sequence_pattern(frame->pixels, shape, frame->camera_frame_id), std::nullopt);
    ASSERT_TRUE(reader.release(*frame));
  }
  const nlohmann::json now = get("/api/v1/stages/process/params").json();
  EXPECT_EQ(now["params"]["mode"], "highpass") << now.dump(2);
  EXPECT_EQ(now["params"]["low_cutoff"], 0.1);
}

}  // namespace
}  // namespace framering
