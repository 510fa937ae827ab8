#include "framering/supervise/run_report.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace framering::supervise {
namespace {

bool declares(const StagePlan& plan, const std::string& ring, bool producer) {
  return std::any_of(plan.rings.begin(), plan.rings.end(), [&](const RingUse& use) {
    return use.ring == ring && (use.role == RingRole::Produces) == producer;
  });
}

}  // namespace

std::vector<Unrecorded> unrecorded_frames(const std::vector<ring::RingStatus>& rings) {
  std::vector<Unrecorded> out;
  for (const auto& ring : rings) {
    for (const auto& c : ring.consumers) {
      if (c.kind != ring::ConsumerKind::Every || c.cursor >= ring.published) continue;
      // Free: it detached after taking what it wanted (its cursor is where it stopped by choice,
      // e.g. --frames). Active: it died owing them, and its place still holds them. Evicted:
      // the producer gave its place away; its next read would have reported them as a gap.
      if (c.state == ring::ConsumerState::Active && !c.alive) {
        out.push_back({ring.ring, c.name, c.cursor, ring.published - 1, true});
      } else if (c.state == ring::ConsumerState::Evicted) {
        out.push_back({ring.ring, c.name, c.cursor, ring.published - 1, false});
      }
    }
  }
  return out;
}

StageTally tally_stage(const StageProcess& stage, const std::vector<ring::RingStatus>& rings,
                       const std::vector<Unrecorded>& unrecorded) {
  StageTally s;
  const StagePlan& plan = stage.plan();
  bool produces = false;
  for (const auto& ring : rings) {
    if (declares(plan, ring.ring, true)) {
      produces = true;
      s.frames += ring.published;
      s.dropped += ring.frames_dropped;
      s.blocked_s += ring.blocked_s;
      s.rate_fps = std::max(s.rate_fps, ring.producer_alive ? ring.rate_fps : 0.0);
      const auto& src = ring.source;
      s.source_lost += src.frames_lost;
      s.source_away = s.source_away || (src.outages > 0 && src.connected == 0);
      if (src.frames_lost + src.frames_incomplete + src.frames_timed_out + src.underruns + src.packets_missing +
              src.packets_resent + src.outages > 0) {
        s.source_line += fmt::format("  {} source ({}): {} frames lost, {} incomplete, {} timed out, {} underruns, {} "
                                     "packets missing, {} resent, {} outages\n",
                                     plan.name, ring.ring, src.frames_lost, src.frames_incomplete, src.frames_timed_out,
                                     src.underruns, src.packets_missing, src.packets_resent, src.outages);
      }
      s.rings[ring.ring] = {{"role", "producer"},
                            {"published", ring.published},
                            {"dropped", ring.frames_dropped},
                            {"evictions", ring.evictions},
                            {"blocked_s", ring.blocked_s},
                            {"source",
                             {{"frames_lost", src.frames_lost},
                              {"frames_incomplete", src.frames_incomplete},
                              {"frames_timed_out", src.frames_timed_out},
                              {"underruns", src.underruns},
                              {"packets_missing", src.packets_missing},
                              {"packets_resent", src.packets_resent},
                              {"outages", src.outages}}}};
    }
    if (!declares(plan, ring.ring, false)) continue;
    for (const auto& c : ring.consumers) {
      if (c.name != plan.name) continue;
      if (!produces) s.frames += c.frames_read;
      if (s.rate_fps == 0 && c.alive) s.rate_fps = c.rate_fps;
      if (c.kind == ring::ConsumerKind::Every) s.lag = std::max(s.lag, c.lag);
      if (c.latency_frames > 0) s.latency_p99_us = std::max(s.latency_p99_us, c.latency_p99_us);
      s.skipped += c.frames_skipped;
      s.torn += c.frames_torn;
      s.lost += c.frames_lost;
      s.gaps += c.gaps;
      s.rings[ring.ring] = {{"role", fmt::format("{} consumer", ring::to_string(c.kind))},
                            {"read", c.frames_read},
                            {"skipped", c.frames_skipped},
                            {"torn", c.frames_torn},
                            {"lost", c.frames_lost},
                            {"gaps", c.gaps},
                            {"evictions", c.evictions}};
      if (c.latency_frames > 0) {
        s.rings[ring.ring]["latency_us"] = {
            {"p50", c.latency_p50_us}, {"p99", c.latency_p99_us}, {"max", c.latency_max_us}, {"frames", c.latency_frames}};
      }
    }
  }
  for (const auto& u : unrecorded) {
    if (u.consumer != plan.name || !declares(plan, u.ring, false)) continue;
    s.lost += u.count();
    if (u.held) s.owed += u.count();
    s.rings[u.ring]["unrecorded"] = {{"first", u.first}, {"last", u.last}, {"count", u.count()}, {"held", u.held}};
  }
  return s;
}

std::string status_line(const std::vector<StageProcess>& stages, const std::vector<ring::RingStatus>& rings,
                        double elapsed_s, double fraction) {
  std::vector<std::string> parts;
  for (const auto& stage : stages) {
    std::string part = stage.name() + " ";
    if (!stage.running()) {
      part += stage.finished() ? "done" : stage.given_up() ? "GIVEN UP" : "restarting";
      parts.push_back(part);
      continue;
    }
    const StageTally s = tally_stage(stage, rings, {});
    part += fmt::format("{:.1f}/s", s.rate_fps);
    if (s.lag > 0) part += fmt::format(" lag {}", s.lag);
    if (s.latency_p99_us > 0) part += fmt::format(" p99 {:.1f} ms", s.latency_p99_us / 1e3);
    if (s.skipped > 0) part += fmt::format(" skip {}", s.skipped);
    if (s.blocked_s >= 0.05) part += fmt::format(" blocked {:.1f} s", s.blocked_s);
    if (s.dropped > 0) part += fmt::format(" DROP {}", s.dropped);
    if (s.lost > 0) part += fmt::format(" LOST {}", s.lost);
    if (s.source_lost > 0) part += fmt::format(" SOURCE LOST {}", s.source_lost);
    if (s.source_away) part += " CAMERA AWAY";
    if (stage.restarts() > 0) part += fmt::format(" restarts {}", stage.restarts());
    parts.push_back(part);
  }
  std::string progress;
  if (fraction >= 0) {
    fraction = std::clamp(fraction, 0.0, 1.0);
    const int filled = static_cast<int>(fraction * 20);
    progress = fmt::format(" [{}{}] {:3.0f}%", std::string(static_cast<std::size_t>(filled), '#'),
                           std::string(static_cast<std::size_t>(20 - filled), '.'), fraction * 100);
  }
  return fmt::format("{:6.1f} s | {}{}", elapsed_s, fmt::join(parts, " | "), progress);
}

RunSummary summarize_run(const std::string& instance, const std::string& source, double elapsed_s,
                         const std::vector<StageProcess>& stages, const std::vector<ring::RingStatus>& rings,
                         const std::vector<Unrecorded>& unrecorded, bool failed) {
  RunSummary out;
  bool lost_any = false;
  nlohmann::json stage_json = nlohmann::json::array();
  std::string table = fmt::format("\nrun summary: {:.1f} s, instance {}, pipeline {}\n", elapsed_s, instance, source);
  table += fmt::format("  {:<12} {:>10} {:>9} {:>9} {:>7} {:>8} {:>7} {:>9} {:>9}  {}\n", "stage", "frames", "rate/s",
                       "skipped", "torn", "dropped", "lost", "blocked_s", "restarts", "end");
  std::string source_lines;
  for (const auto& stage : stages) {
    const StageTally s = tally_stage(stage, rings, unrecorded);
    const double rate = elapsed_s > 0 ? static_cast<double>(s.frames) / elapsed_s : 0.0;
    lost_any = lost_any || s.lost > 0 || s.dropped > 0 || s.source_lost > 0;
    source_lines += s.source_line;
    failed = failed || stage.given_up();
    table += fmt::format("  {:<12} {:>10} {:>9.1f} {:>9} {:>7} {:>8} {:>7} {:>9.2f} {:>9}  {}\n", stage.name(), s.frames,
                         rate, s.skipped, s.torn, s.dropped, s.lost, s.blocked_s, stage.restarts(),
                         stage.given_up() ? "GIVEN UP: " + stage.last_exit() : stage.last_exit());
    stage_json.push_back({{"name", stage.name()},
                          {"frames", s.frames},
                          {"rate_fps", rate},
                          {"skipped", s.skipped},
                          {"torn", s.torn},
                          {"dropped", s.dropped},
                          {"lost", s.lost},
                          {"owed", s.owed},
                          {"gaps", s.gaps},
                          {"blocked_s", s.blocked_s},
                          {"restarts", stage.restarts()},
                          {"given_up", stage.given_up()},
                          {"end", stage.last_exit()},
                          {"rings", s.rings}});
  }
  table += source_lines;
  nlohmann::json unrecorded_json = nlohmann::json::array();
  for (const auto& u : unrecorded) {
    lost_any = true;
    table += fmt::format("  {} {} frames [{}, {}] of ring {} that consumer {} never took{}\n", u.held ? "OWED" : "LOST",
                         u.count(), u.first, u.last, u.ring, u.consumer,
                         u.held ? ": the ring is kept and holds them; run the pipeline again and it resumes" : "");
    unrecorded_json.push_back({{"ring", u.ring}, {"consumer", u.consumer}, {"first", u.first}, {"last", u.last},
                               {"count", u.count()}, {"held", u.held}});
  }
  out.exit_code = failed ? 2 : lost_any ? 3 : 0;
  table += fmt::format("  result: {}\n", out.exit_code == 0   ? "ok, nothing lost"
                                         : out.exit_code == 3 ? "FRAMES LOST (exit code 3)"
                                                              : "a stage failed (exit code 2)");
  out.text = std::move(table);
  out.json = {{"instance", instance},     {"config", source},     {"duration_s", elapsed_s},
              {"exit_code", out.exit_code}, {"stages", stage_json}, {"unrecorded", unrecorded_json}};
  return out;
}

}  // namespace framering::supervise
