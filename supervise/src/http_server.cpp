// http_server.cpp: the routes of docs/http-api.md on civetweb. Each request runs on one of
// civetweb's worker threads; nothing here touches the supervisor's objects (run_service.hpp).
#include "framering/supervise/http_server.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

#include <civetweb.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "framering/common/error.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/segment.hpp"
#include "framering/supervise/live_view.hpp"
#include "framering/supervise/metrics.hpp"
#include "framering/supervise/recording_request.hpp"
#include "framering/supervise/status_command.hpp"

namespace framering::supervise {
namespace {

using namespace std::chrono_literals;

constexpr const char* kJson = "application/json";
constexpr auto kCommandTimeout = 10s;          // a command the supervisor loop does not answer in this: 503
constexpr auto kEventKeepAlive = 15s;          // an SSE comment line this often keeps proxies from closing
constexpr int kWorkerThreads = 16;             // civetweb's workers; an SSE stream holds one
constexpr int kMaxEventStreams = kWorkerThreads / 2;  // the rest stay free for requests
constexpr std::size_t kDrainFactor = 16;       // a refused body up to this many limits is read before the 413
constexpr std::size_t kMaxLiveStreams = kWorkerThreads / 4;  // a live view holds a worker (and a sender thread)

/// One request as the handlers see it.
struct Request {
  mg_connection* conn = nullptr;
  std::string method;
  std::string path;
  std::map<std::string, std::string> params;  ///< the pattern's {name} segments
  std::string body;
};

/// One response. `streamed`: the handler has written everything itself (SSE).
struct Response {
  int status = 200;
  std::string content_type = kJson;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool streamed = false;
};

Response json_response(int status, const nlohmann::json& body) {
  // Names in the rings come from shared memory: never let a stray byte make dump() throw.
  return {status, kJson, body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", {}, false};
}

Response error_response(int status, const std::string& message) { return json_response(status, {{"error", message}}); }

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    const std::size_t j = path.find('/', i);
    const std::size_t end = j == std::string_view::npos ? path.size() : j;
    if (end > i) out.emplace_back(path.substr(i, end - i));
    i = end;
  }
  return out;
}

std::optional<std::string> header(const mg_request_info* info, std::string_view name) {
  for (int i = 0; i < info->num_headers; ++i) {
    const std::string_view key = info->http_headers[i].name;
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return std::string(info->http_headers[i].value);
    }
  }
  return std::nullopt;
}

// Compares without an early exit, so that the time taken says nothing about the token.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % std::max<std::size_t>(b.size(), 1)]);
  return diff == 0;
}

void send(mg_connection* conn, const Response& r) {
  mg_response_header_start(conn, r.status);
  mg_response_header_add(conn, "Content-Type", r.content_type.c_str(), -1);
  mg_response_header_add(conn, "Content-Length", std::to_string(r.body.size()).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  for (const auto& [key, value] : r.headers) mg_response_header_add(conn, key.c_str(), value.c_str(), -1);
  mg_response_header_send(conn);
  if (!r.body.empty()) mg_write(conn, r.body.data(), r.body.size());
}

nlohmann::json stage_json(const StageView& s) {
  return {{"name", s.name}, {"state", s.state}, {"restarts", s.restarts}, {"pid", s.pid}, {"last_exit", s.last_exit}};
}

}  // namespace

struct HttpServer::Impl {
  using Handler = std::function<Response(Request&)>;
  struct Route {
    std::string method;
    std::vector<std::string> pattern;
    Handler handler;
    bool reads_body = false;
  };

  Impl(HttpOptions o, std::string inst, RunService& s)
      : options(std::move(o)), instance(std::move(inst)), service(s), web(options.web_root) {
    add("GET", "/api/v1/rings/{ring}/live", [this](Request& r) { return live_without_upgrade(r.params["ring"]); });
    add("GET", "/api/v1/status", [this](Request&) { return status(); });
    add("GET", "/metrics", [this](Request&) { return metrics(); });
    add("GET", "/api/v1/recordings", [this](Request&) { return list_recordings(); });
    add("POST", "/api/v1/recordings", [this](Request& r) { return start_recording(r); }, true);
    add("GET", "/api/v1/recordings/{id}", [this](Request& r) { return get_recording(r.params["id"]); });
    add("POST", "/api/v1/recordings/{id}/stop", [this](Request& r) { return stop_recording(r.params["id"]); }, true);
    add("GET", "/api/v1/events", [this](Request& r) { return events(r); });
    add("GET", "/api/v1/stages/{name}/params", [this](Request& r) { return get_params(r); });
    add("PATCH", "/api/v1/stages/{name}/params", [this](Request& r) { return patch_params(r); }, true);
    add("GET", "/api/v1/settings", [this](Request&) { return json_response(200, service.snapshot().settings); });
  }

  void add(std::string method, std::string_view pattern, Handler handler, bool reads_body = false) {
    routes.push_back({std::move(method), split_path(pattern), std::move(handler), reads_body});
  }

  static bool matches(const Route& route, const std::vector<std::string>& segments,
                      std::map<std::string, std::string>& params) {
    if (route.pattern.size() != segments.size()) return false;
    std::map<std::string, std::string> found;
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const std::string& p = route.pattern[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        found[p.substr(1, p.size() - 2)] = segments[i];
      } else if (p != segments[i]) {
        return false;
      }
    }
    params = std::move(found);
    return true;
  }

  // Reads the body up to the limit. nullopt: the reply is a 413 or a 400 already chosen.
  std::optional<Response> read_body(mg_connection* conn, const mg_request_info* info, std::string& body) const {
    const std::size_t limit = options.max_body_bytes;
    const auto too_large = [&] {
      Response r = error_response(413, fmt::format("the request body is larger than {} bytes", limit));
      r.headers.emplace_back("Connection", "close");
      return r;
    };
    char buffer[8192];
    if (info->content_length > static_cast<long long>(limit)) {
      // Read (and discard) a body of up to kDrainFactor limits first: a server that closes with unread
      // bytes in its socket makes the kernel reset the connection, and the client may never see
      // the 413. Anything larger is cut off.
      if (info->content_length <= static_cast<long long>(kDrainFactor * limit)) {
        while (mg_read(conn, buffer, sizeof buffer) > 0) {
        }
      }
      return too_large();
    }
    for (;;) {
      const int n = mg_read(conn, buffer, sizeof buffer);
      if (n < 0) return error_response(400, "the request body could not be read");
      if (n == 0) break;
      body.append(buffer, static_cast<std::size_t>(n));
      if (body.size() > limit) return too_large();
    }
    return std::nullopt;
  }

  int handle(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    Request request{conn, info->request_method != nullptr ? info->request_method : "",
                    info->local_uri != nullptr ? info->local_uri : "/", {}, {}};
    Response response;
    try {
      response = route(request, info);
    } catch (const std::exception& e) {
      // Nothing a client sends may end the run: a handler's failure is this request's 500.
      spdlog::error("run: http: {} {}: {}", request.method, request.path, e.what());
      response = error_response(500, fmt::format("internal error: {}", e.what()));
    }
    if (!response.streamed) send(conn, response);
    spdlog::debug("run: http: {} {} -> {}", request.method, request.path, response.status);
    return response.status;
  }

  Response route(Request& request, const mg_request_info* info) {
    if (auto page = page_file(request)) return *page;  // the page's own files need no token
    if (!options.token.empty()) {
      const auto auth = header(info, "Authorization");
      constexpr std::string_view kBearer = "Bearer ";
      if (!auth || !auth->starts_with(kBearer) || !same_secret(std::string_view(*auth).substr(kBearer.size()), options.token)) {
        Response r = error_response(401, auth ? "wrong token" : "this API needs \"Authorization: Bearer <token>\"");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"framering\"");
        return r;
      }
    }
    const std::vector<std::string> segments = split_path(request.path);
    std::vector<std::string> allowed;
    for (const auto& route : routes) {
      std::map<std::string, std::string> params;
      if (!matches(route, segments, params)) continue;
      if (route.method != request.method) {
        allowed.push_back(route.method);
        continue;
      }
      request.params = std::move(params);
      if (route.reads_body) {
        if (auto refused = read_body(request.conn, info, request.body)) return *refused;
      }
      return route.handler(request);
    }
    if (!allowed.empty()) {
      Response r = error_response(405, fmt::format("{} does not take {} (it takes {})", request.path, request.method,
                                                   fmt::join(allowed, ", ")));
      r.headers.emplace_back("Allow", fmt::format("{}", fmt::join(allowed, ", ")));
      return r;
    }
    return error_response(404, fmt::format("no such route: {} (docs/http-api.md lists them)", request.path));
  }

  // ---- routes -------------------------------------------------------------------------------

  Response status() const {
    const RunService::Snapshot snap = service.snapshot();
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& s : snap.stages) stages.push_back(stage_json(s));
    return json_response(200, {{"instance", instance},
                               {"state", snap.stopping ? "stopping" : "running"},
                               {"rings", status_json(ring::list_instance(instance))},
                               {"stages", stages}});
  }

  Response metrics() const {
    Response r;
    r.content_type = kMetricsContentType;
    r.body = prometheus_metrics(instance, ring::list_instance(instance), service.snapshot().stages);
    return r;
  }

  // A recording as the API shows it: the supervisor's view plus, while its recorder runs, its
  // counters on the ring (read here, from shared memory, as `framering status` reads them).
  nlohmann::json recording_json(const RecordingView& v) const {
    nlohmann::json j = {{"id", v.id},
                        {"name", v.name},
                        {"ring", v.ring},
                        {"root", v.root},
                        {"path", v.path},
                        {"state", v.state},
                        {"frames_wanted", v.frames_wanted},
                        {"seconds", v.seconds},
                        {"on_drop", v.on_drop},
                        {"pid", v.pid},
                        {"restarts", v.restarts},
                        {"started_utc", v.started_utc}};
    if (!v.result.is_null()) {
      j["frames"] = v.result.value("frames_recorded", nlohmann::json(0));
      j["lost"] = v.result.value("frames_lost", nlohmann::json(0));
      j["verdict"] = v.result.value("verdict", nlohmann::json("unknown"));
      j["result"] = v.result;
      return j;
    }
    j["frames"] = 0;
    j["lost"] = 0;
    j["verdict"] = nullptr;  // not closed yet
    try {
      if (auto c = ring::find_consumer(ring::Segment::open(instance, v.ring), v.id)) {
        j["frames"] = c->frames_read;
        j["lost"] = c->frames_lost;
        j["lag"] = c->lag;
      }
    } catch (const Error&) {
      // the ring is gone (the run is ending): the result comes with the recorder's end
    }
    return j;
  }

  Response list_recordings() const {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& v : service.snapshot().recordings) all.push_back(recording_json(v));
    return json_response(200, {{"recordings", all}});
  }

  Response get_recording(const std::string& id) const {
    for (const auto& v : service.snapshot().recordings) {
      if (v.id == id) return json_response(200, recording_json(v));
    }
    return error_response(404, fmt::format("no recording with id '{}'", id));
  }

  Response start_recording(const Request& request) {
    auto parsed = parse_recording_request(request.body, options.recording_roots);
    if (!parsed) return json_response(parsed.error().status, parsed.error().body);
    const Reply reply = service.submit(*parsed, kCommandTimeout);
    Response r = json_response(reply.status, reply.body);
    if (reply.status == 201 && reply.body.contains("id")) {
      r.headers.emplace_back("Location", "/api/v1/recordings/" + reply.body["id"].get<std::string>());
    }
    return r;
  }

  Response stop_recording(const std::string& id) {
    const Reply reply = service.submit(StopRecording{id}, kCommandTimeout);
    return json_response(reply.status, reply.body);
  }

  // A stage's live parameters: {name: value}, or with ?meta=1 each one's spec (type, range,
  // units, live or restart: stage_control.hpp's ParamSpec).
  Response get_params(const Request& request) const {
    const RunService::Snapshot snap = service.snapshot();
    const std::string& name = request.params.at("name");
    const auto stage = std::find_if(snap.stages.begin(), snap.stages.end(), [&](const StageView& s) { return s.name == name; });
    if (stage == snap.stages.end()) return error_response(404, fmt::format("no stage named '{}' in this pipeline", name));
    const char* query = mg_get_request_info(request.conn)->query_string;
    char meta[8] = "";
    const bool with_meta = query != nullptr && mg_get_var(query, std::strlen(query), "meta", meta, sizeof meta) > 0 &&
                           std::string_view(meta) != "0";
    nlohmann::json params = with_meta ? nlohmann::json::array() : nlohmann::json::object();
    if (stage->params.is_array()) {
      for (const auto& spec : stage->params) {
        if (with_meta) {
          params.push_back(spec);
        } else {
          params[spec.value("name", "")] = spec.value("value", nlohmann::json(nullptr));
        }
      }
    }
    nlohmann::json body = {{"stage", name}, {"state", stage->state}, {"params", params},
                           {"generation", snap.settings.is_object() ? snap.settings.value("generation", 0) : 0}};
    if (stage->params.is_null()) body["note"] = "this stage has offered no live parameters (none, or not started yet)";
    return json_response(200, body);
  }

  Response patch_params(const Request& request) {
    nlohmann::json values;
    try {
      values = nlohmann::json::parse(request.body);
    } catch (const nlohmann::json::parse_error& e) {
      return error_response(400, fmt::format("the body is not valid JSON: {}", e.what()));
    }
    if (!values.is_object()) {
      return error_response(400, fmt::format("the body must be a JSON object of name: value, not {}", values.type_name()));
    }
    if (values.empty()) return error_response(422, "no parameters to change: send {\"name\": value, ...}");
    const Reply reply = service.submit(PatchParams{request.params.at("name"), std::move(values)}, kCommandTimeout);
    return json_response(reply.status, reply.body);
  }

  // Server-sent events: `id: N`, `event: <type>`, `data: <json>`, one blank line after each;
  // a comment line every kEventKeepAlive. Starts after the newest event, or after Last-Event-ID.
  Response events(const Request& request) {
    if (streams.fetch_add(1) >= kMaxEventStreams) {
      streams.fetch_sub(1);
      return error_response(503, fmt::format("at most {} event streams at a time", kMaxEventStreams));
    }
    struct Release {
      std::atomic<int>& n;
      ~Release() { n.fetch_sub(1); }
    } release{streams};
    std::uint64_t after = service.last_event_id();
    if (auto last = header(mg_get_request_info(request.conn), "Last-Event-ID")) {
      try {
        after = std::stoull(*last);
      } catch (const std::exception&) {
        return error_response(400, fmt::format("Last-Event-ID must be an event id (a number), not '{}'", *last));
      }
    }
    mg_response_header_start(request.conn, 200);
    mg_response_header_add(request.conn, "Content-Type", "text/event-stream", -1);
    mg_response_header_add(request.conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(request.conn, "Transfer-Encoding", "chunked", -1);
    mg_response_header_send(request.conn);
    const auto write = [&](const std::string& text) {
      return mg_send_chunk(request.conn, text.data(), static_cast<unsigned>(text.size())) > 0;
    };
    bool open = write(": framering events\n\n");
    while (open && !service.closed()) {
      bool dropped = false;
      const auto batch = service.wait_events(after, kEventKeepAlive, &dropped);
      if (dropped) open = write("event: events_dropped\ndata: {}\n\n");
      if (batch.empty()) {
        if (!service.closed()) open = open && write(": keep-alive\n\n");
        continue;
      }
      for (const auto& e : batch) {
        if (!open) break;
        open = write(fmt::format("id: {}\nevent: {}\ndata: {}\n\n", e.id, e.type,
                                 e.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
        after = e.id;
      }
    }
    if (open) mg_send_chunk(request.conn, "", 0);
    Response r;
    r.streamed = true;
    return r;
  }

  // ---- the live view: the page's files and the WebSocket of frames (live_view.hpp) ------------

  // GET / (index.html) and GET /static/<file>: the page's files, from the web root. They need no
  // token: they are the tree's web/ files and hold nothing of the run; the page then sends the
  // token with each API request (docs/http-api.md, "The live view page"). nullopt: not a page path.
  std::optional<Response> page_file(const Request& request) const {
    constexpr std::string_view kStatic = "/static/";
    if (request.method != "GET") return std::nullopt;
    std::string_view relative;
    if (request.path == "/") {
      relative = "index.html";
    } else if (request.path.starts_with(kStatic)) {
      relative = std::string_view(request.path).substr(kStatic.size());
    } else {
      return std::nullopt;
    }
    auto file = web.read(relative);
    if (!file) return error_response(file.error().status, file.error().message);
    Response r;
    r.content_type = std::move(file->content_type);
    r.body = std::move(file->body);
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return r;
  }

  // 404 naming the rings there are, when `ring` is not one of this run's; nullopt when it is.
  std::optional<Response> unknown_ring(const std::string& ring) const {
    bool valid = true;
    try {
      ring::Segment::validate_name("ring", ring);
    } catch (const Error&) {
      valid = false;
    }
    if (valid && ring::Segment::exists(instance, ring)) return std::nullopt;
    return error_response(404, fmt::format("no ring '{}' in instance {} (its rings: {})", ring, instance,
                                           fmt::join(ring::Segment::list_rings(instance), ", ")));
  }

  // The live route asked without "Upgrade: websocket".
  Response live_without_upgrade(const std::string& ring) const {
    if (auto missing = unknown_ring(ring)) return *missing;
    Response r = error_response(426, fmt::format("/api/v1/rings/{}/live is a WebSocket: connect with a WebSocket client "
                                                 "(the page at / does); docs/http-api.md, \"The live view\"",
                                                 ring));
    r.headers.emplace_back("Upgrade", "websocket");
    return r;
  }

  // The token of a WebSocket request: browsers cannot add headers to one, so the query's `token`
  // counts as well as the Authorization header.
  bool live_token_ok(const mg_request_info* info) const {
    if (options.token.empty()) return true;
    constexpr std::string_view kBearer = "Bearer ";
    if (const auto auth = header(info, "Authorization"); auth && auth->starts_with(kBearer)) {
      return same_secret(std::string_view(*auth).substr(kBearer.size()), options.token);
    }
    if (info->query_string == nullptr) return false;
    std::string given(options.token.size() + 64, '\0');
    const int n = mg_get_var(info->query_string, std::strlen(info->query_string), "token", given.data(), given.size());
    return n >= 0 && same_secret(std::string_view(given.data(), static_cast<std::size_t>(n)), options.token);
  }

  // Checks a WebSocket request to /api/v1/rings/{ring}/live and, when it is good, attaches its
  // reader and keeps its stream for the ready handler. The refusal otherwise.
  std::optional<Response> accept_live(const mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    const std::string path = info->local_uri != nullptr ? info->local_uri : "/";
    const std::vector<std::string> segments = split_path(path);
    if (segments.size() != 5 || segments[0] != "api" || segments[1] != "v1" || segments[2] != "rings" ||
        segments[4] != "live") {
      return error_response(404, fmt::format("no such WebSocket route: {} (the live view is /api/v1/rings/{{ring}}/live)", path));
    }
    if (!live_token_ok(info)) {
      Response r = error_response(401, "this API needs a token: \"Authorization: Bearer <token>\" or ?token=<token>");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"framering\"");
      return r;
    }
    LiveViewRequest request{.ring = segments[3]};
    if (auto missing = unknown_ring(request.ring)) return missing;
    const std::string_view query = info->query_string != nullptr ? info->query_string : "";
    if (auto parsed = parse_live_view_query(query, request); !parsed) {
      return json_response(422, {{"error", parsed.error().message}, {"field", parsed.error().field}});
    }
    std::lock_guard lock(live_mutex);
    live_streams.erase(conn);  // a stream of this connection object whose handshake failed
    if (live_streams.size() >= kMaxLiveStreams) {
      return error_response(503, fmt::format("at most {} live views at a time", kMaxLiveStreams));
    }
    try {
      auto reader = ring::RingReader::attach(
          instance, request.ring, {.name = fmt::format("live-{}", ++live_count), .kind = ring::ConsumerKind::Newest});
      live_streams[conn] = std::make_unique<LiveStream>(std::move(reader), std::move(request));
    } catch (const Error& e) {
      return error_response(409, fmt::format("cannot read ring '{}': {}", request.ring, e.what()));
    }
    return std::nullopt;
  }

  // The stream of `conn`; nullptr when there is none (never accepted).
  LiveStream* live_stream(const mg_connection* conn) {
    std::lock_guard lock(live_mutex);
    const auto it = live_streams.find(conn);
    return it != live_streams.end() ? it->second.get() : nullptr;
  }

  // The server is stopping: each live view's client gets a close message (1001) while civetweb
  // can still write it. The streams stay in the map: their close handlers come with mg_stop.
  void end_live_views() {
    std::lock_guard lock(live_mutex);
    for (auto& [conn, stream] : live_streams) stream->end("the run is stopping");
  }

  // civetweb's worker thread, before the handshake: 0 goes on to it; a refusal is answered here,
  // as JSON, and 1 closes the connection.
  static int on_live_connect(const mg_connection* conn, void* self) {
    Impl& impl = *static_cast<Impl*>(self);
    std::optional<Response> refusal;
    try {
      refusal = impl.accept_live(conn);
    } catch (const std::exception& e) {
      refusal = error_response(500, fmt::format("internal error: {}", e.what()));
    }
    if (!refusal) return 0;
    // The handshake has not begun: this is still a plain HTTP request, answered as one; by hand,
    // since civetweb 1.15's mg_response_header_* refuse a connection that asked for a WebSocket.
    std::string head = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                                   "Cache-Control: no-store\r\nConnection: close\r\n",
                                   refusal->status, mg_get_response_code_text(conn, refusal->status),
                                   refusal->content_type, refusal->body.size());
    for (const auto& [key, value] : refusal->headers) head += fmt::format("{}: {}\r\n", key, value);
    head += "\r\n" + refusal->body;
    auto* writable = const_cast<mg_connection*>(conn);  // civetweb hands the connect handler a const one
    mg_write(writable, head.data(), head.size());
    spdlog::debug("run: http: live view {} -> {}", mg_get_request_info(conn)->local_uri, refusal->status);
    return 1;
  }

  // The handshake is done (same worker thread): the stream's sender starts.
  static void on_live_ready(mg_connection* conn, void* self) {
    LiveStream* stream = static_cast<Impl*>(self)->live_stream(conn);
    if (stream == nullptr) return;
    const mg_request_info* info = mg_get_request_info(conn);
    spdlog::info("run: http: live view of ring {} for {}:{} (consumer {}, at most {} frames/s, bin {})",
                 stream->request().ring, info->remote_addr, info->remote_port, stream->consumer_name(),
                 stream->request().max_fps, stream->request().bin);
    stream->start([conn](LiveOpcode opcode, std::span<const std::byte> payload) {
      return mg_websocket_write(conn, static_cast<int>(opcode), reinterpret_cast<const char*>(payload.data()),
                                payload.size());
    });
  }

  // A message from the client (same worker thread, while the sender may be writing). 0 closes.
  static int on_live_data(mg_connection* conn, int bits, char* data, std::size_t length, void* self) {
    LiveStream* stream = static_cast<Impl*>(self)->live_stream(conn);
    const int opcode = bits & 0xF;
    if (opcode == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) {
      // Answer the client's close with its status code, as RFC 6455 5.5.1 asks; civetweb then ends the loop.
      mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, data, std::min<std::size_t>(length, 2));
      return 0;
    }
    if (stream == nullptr) return 0;
    if (opcode == MG_WEBSOCKET_OPCODE_TEXT || opcode == MG_WEBSOCKET_OPCODE_BINARY) {
      return stream->on_message(std::string_view(data, length)) ? 1 : 0;
    }
    return 1;
  }

  // The connection has ended (same worker thread; also when the server stops): the sender is
  // stopped and joined before civetweb reuses `conn`.
  static void on_live_close(const mg_connection* conn, void* self) {
    Impl& impl = *static_cast<Impl*>(self);
    std::unique_ptr<LiveStream> stream;
    {
      std::lock_guard lock(impl.live_mutex);
      const auto it = impl.live_streams.find(conn);
      if (it == impl.live_streams.end()) return;
      stream = std::move(it->second);
      impl.live_streams.erase(it);
    }
    stream->stop();
  }

  static int on_request(mg_connection* conn, void* self) { return static_cast<Impl*>(self)->handle(conn); }

  static int on_log(const mg_connection*, const char* message) {
    spdlog::debug("run: http (civetweb): {}", message);
    return 1;
  }

  HttpOptions options;
  std::string instance;
  RunService& service;
  std::vector<Route> routes;
  std::atomic<int> streams{0};
  WebRoot web;
  std::mutex live_mutex;  ///< guards live_streams and live_count
  std::map<const mg_connection*, std::unique_ptr<LiveStream>> live_streams;  ///< by civetweb connection
  std::uint64_t live_count = 0;  ///< live views accepted: their consumer names, live-1, live-2, ...
  mg_callbacks callbacks{};
  mg_context* context = nullptr;
};

void parse_endpoint(const std::string& text, const std::string& what, HttpOptions& options) {
  std::string address = options.address;
  std::string port_text = text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string::npos) {
      throw ConfigError(fmt::format("{} '{}': expected [ADDRESS]:PORT for an IPv6 address, e.g. [::1]:8080", what, text));
    }
    address = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    address = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned long port = 0;
  std::size_t used = 0;
  try {
    port = std::stoul(port_text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (port_text.empty() || used != port_text.size() || port > 65535) {
    throw ConfigError(fmt::format("{} '{}': expected [ADDRESS:]PORT with PORT in 0..65535 (0: any free port), e.g. "
                                  "8080 or 127.0.0.1:8080",
                                  what, text));
  }
  if (address == "localhost") address = "127.0.0.1";
  unsigned char buf[16];
  if (::inet_pton(AF_INET, address.c_str(), buf) != 1 && ::inet_pton(AF_INET6, address.c_str(), buf) != 1) {
    throw ConfigError(fmt::format("{} '{}': '{}' is not an IPv4 or IPv6 address", what, text, address));
  }
  options.address = address;
  options.port = static_cast<std::uint16_t>(port);
}

bool is_loopback(const std::string& address) {
  if (address == "localhost" || address == "::1") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

HttpServer::HttpServer(HttpOptions options, std::string instance, RunService& service) : options_(std::move(options)) {
  if (!is_loopback(options_.address) && options_.token.empty()) {
    throw ConfigError(fmt::format("--http {}: an address other than loopback (127.0.0.1, ::1) needs a token: anyone "
                                  "who reaches it could start recordings. Set token in the pipeline's [http] table "
                                  "or FRAMERING_HTTP_TOKEN (clients send \"Authorization: Bearer <token>\"), or bind "
                                  "127.0.0.1",
                                  options_.address));
  }
  mg_init_library(0);
  impl_ = std::make_unique<Impl>(options_, std::move(instance), service);
  impl_->callbacks.log_message = &Impl::on_log;
  const bool v6 = options_.address.find(':') != std::string::npos;
  const std::string ports = v6 ? fmt::format("[{}]:{}", options_.address, options_.port)
                               : fmt::format("{}:{}", options_.address, options_.port);
  const std::string threads = std::to_string(kWorkerThreads);
  const char* config[] = {"listening_ports", ports.c_str(),
                          "num_threads", threads.c_str(),
                          "request_timeout_ms", "10000",
                          "enable_keep_alive", "yes",
                          // civetweb writes a response's headers and body (a WebSocket message's
                          // header and payload) in separate sends: with Nagle's algorithm the
                          // second waits for the client's delayed ACK, 40 ms a response.
                          "tcp_nodelay", "1",
                          nullptr};
  char text[256] = "";
  unsigned code = 0;
  mg_error_data error{&code, text, sizeof text};
  mg_init_data init{&impl_->callbacks, impl_.get(), config};
  impl_->context = mg_start2(&init, &error);
  if (impl_->context == nullptr) {
    mg_exit_library();
    throw ConfigError(fmt::format("--http: cannot listen on {}: {}", ports, text[0] != '\0' ? text : "civetweb failed to start"));
  }
  mg_set_request_handler(impl_->context, "/", &Impl::on_request, impl_.get());
  // Every WebSocket request (civetweb asks these handlers only for an upgrade): a path that is no
  // live view gets its 404 from us, as JSON (civetweb's own would lose its headers).
  mg_set_websocket_handler(impl_->context, "/", &Impl::on_live_connect, &Impl::on_live_ready,
                           &Impl::on_live_data, &Impl::on_live_close, impl_.get());
  if (!std::filesystem::is_directory(options_.web_root)) {
    spdlog::warn("run: http: the live view page's folder {} is missing: GET / will answer 404 (set [http] web_root)",
                 options_.web_root);
  }
  mg_server_port bound[4];
  const int n = mg_get_server_ports(impl_->context, 4, bound);
  port_ = n > 0 ? static_cast<std::uint16_t>(bound[0].port) : options_.port;
}

HttpServer::~HttpServer() {
  if (impl_ && impl_->context != nullptr) {
    impl_->end_live_views();
    mg_stop(impl_->context);
    mg_exit_library();
  }
}

}  // namespace framering::supervise
