// framering_module.cpp: the C++ ring (common/) bound for Python with pybind11, as the extension
// module `framering._framering`. The package python/framering/ wraps it (docstrings, recordings,
// status); users import `framering`. There is one implementation of the ring protocol: this one.
//
// GIL and signals: every wait (claim, read) runs in slices of at most kWaitSliceNs with the GIL
// released, and checks for signals between slices with it held, so other Python threads run
// while one waits and Ctrl-C interrupts a blocked claim or read with KeyboardInterrupt.
//
// Lifetime of numpy views: each handle maps its segment a second time (an "anchor": a plain
// mapping, no role in the ring), and every pixel view points into the anchor and holds it, so a
// view stays valid memory after its handle is closed (the handle's entry is detached at close,
// never held by a forgotten view). What a view's *content* may be trusted for after its frame is
// released is the caller's contract, stated in python/framering/__init__.py and the .pyi.
#include <sys/mman.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/segment.hpp"

namespace py = pybind11;

namespace framering::python {
namespace {

constexpr std::uint64_t kWaitSliceNs = 50'000'000;

std::chrono::nanoseconds to_ns(double seconds) {
  if (!(seconds >= 0)) throw py::value_error(fmt::format("timeout_s must be >= 0, not {}", seconds));
  return std::chrono::nanoseconds{static_cast<std::int64_t>(seconds * 1e9)};
}

// A numpy dtype for a ring's pixel format: uint8 for 8-bit formats, little-endian uint16 else.
py::dtype dtype_of(PixelFormat format) {
  return bytes_per_sample(format) == 1 ? py::dtype("u1") : py::dtype("<u2");
}

using Anchor = std::shared_ptr<const ring::Segment>;

// A (height, width) view of slot `slot` of `anchor` ((height, width, 3) for RGB8/BGR8), rows
// `stride_bytes` apart; it holds the anchor.
py::array pixel_view(const Anchor& anchor, std::uint32_t slot, bool writable) {
  const ring::SegmentHeader& h = anchor->header();
  const auto format = static_cast<PixelFormat>(h.pixel_format);
  const auto pixel = static_cast<py::ssize_t>(bytes_per_pixel(format));
  std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(h.height), static_cast<py::ssize_t>(h.width)};
  std::vector<py::ssize_t> strides{static_cast<py::ssize_t>(h.stride_bytes), pixel};
  if (samples_per_pixel(format) > 1) {
    shape.push_back(static_cast<py::ssize_t>(samples_per_pixel(format)));
    strides.push_back(static_cast<py::ssize_t>(bytes_per_sample(format)));
  }
  py::capsule owner(new Anchor(anchor), [](void* p) { delete static_cast<Anchor*>(p); });
  py::array view(dtype_of(format), shape, strides, anchor->slot_pixels(slot), owner);
  if (!writable) {
    py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  }
  return view;
}

// Runs `attempt(slice)` with the GIL released until it succeeds or `timeout` passes, checking
// for signals (Ctrl-C) between slices. Returns its last result.
template <class Attempt>
auto wait_in_slices(std::chrono::nanoseconds timeout, Attempt attempt) {
  const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(timeout.count());
  for (;;) {
    const std::uint64_t now = monotonic_ns();
    const std::uint64_t left = deadline > now ? deadline - now : 0;
    decltype(attempt(std::chrono::nanoseconds{0})) result;
    {
      py::gil_scoped_release release;
      result = attempt(std::chrono::nanoseconds{std::min(left, kWaitSliceNs)});
    }
    if (result || left <= kWaitSliceNs) return result;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

// ---- producer -------------------------------------------------------------------------------

/// A claimed slot, writable in place until published or abandoned.
class PyClaim {
 public:
  PyClaim(std::weak_ptr<ring::RingWriter> writer, ring::WritableSlot slot, py::array pixels)
      : writer_(std::move(writer)), slot_(slot), pixels_(std::move(pixels)) {}

  void publish() {
    require_open("publish");
    const auto writer = writer_.lock();
    if (!writer) throw py::value_error("publish: its RingWriter is closed");
    writer->publish({.timestamp_ns = timestamp_ns_ ? *timestamp_ns_ : realtime_ns(),
                      .camera_frame_id = camera_frame_id_ ? *camera_frame_id_ : slot_.sequence,
                      .source_frames_lost = source_frames_lost_,
                      .settings_generation = settings_generation_});
    done_ = true;
  }
  // Nothing is published: the next claim gets this slot and this sequence again.
  void abandon() { done_ = true; }

  [[nodiscard]] bool done() const noexcept { return done_; }
  [[nodiscard]] std::uint64_t sequence() const noexcept { return slot_.sequence; }
  [[nodiscard]] std::uint32_t slot() const noexcept { return slot_.slot; }
  [[nodiscard]] const py::array& pixels() const noexcept { return pixels_; }

  std::optional<std::uint64_t> timestamp_ns_;
  std::optional<std::uint64_t> camera_frame_id_;
  std::uint64_t source_frames_lost_ = 0;
  std::uint32_t settings_generation_ = 0;

 private:
  void require_open(const char* what) const {
    if (done_) throw py::value_error(fmt::format("{}: this claim was already published or abandoned", what));
  }
  std::weak_ptr<ring::RingWriter> writer_;
  ring::WritableSlot slot_;
  py::array pixels_;
  bool done_ = false;
};

class PyWriter {
 public:
  PyWriter(const std::string& instance, const std::string& ring, std::uint32_t width, std::uint32_t height,
           const std::string& pixel_format, std::uint32_t slots, std::uint64_t stride_bytes, bool group_access) {
    const auto format = parse_pixel_format(pixel_format);
    if (!format) {
      throw ConfigError(fmt::format("pixel_format '{}' is not a GenICam PFNC name framering carries ({})", pixel_format,
                                    pixel_format_names(all_pixel_formats())));
    }
    ring::RingGeometry geometry{
        .frame = {.width = width, .height = height, .pixel_format = *format, .stride_bytes = stride_bytes},
        .slot_count = slots};
    geometry.validate();
    writer_ = std::make_shared<ring::RingWriter>(ring::RingWriter::create_or_attach(
        instance, ring, geometry, {.access = group_access ? ring::Access::Group : ring::Access::Private}));
    anchor_ = std::make_shared<const ring::Segment>(ring::Segment::open(instance, ring));
  }

  std::shared_ptr<PyClaim> claim(double timeout_s) {
    ring::RingWriter& w = live();
    if (pending_ && !pending_->done()) {
      throw py::value_error("claim: the previous claim is neither published nor abandoned (one claim at a time)");
    }
    auto slot = wait_in_slices(to_ns(timeout_s), [&](std::chrono::nanoseconds t) { return w.claim(t); });
    if (!slot) {
      PyErr_SetString(PyExc_TimeoutError,
                      fmt::format("claim: no free slot in ring '{}' within {} s (an every consumer holds it; "
                                  "`framering status` shows who)",
                                  w.segment().ring_name(), timeout_s)
                          .c_str());
      throw py::error_already_set();
    }
    pending_ = std::make_shared<PyClaim>(writer_, *slot, pixel_view(anchor_, slot->slot, true));
    return pending_;
  }

  void close() {
    pending_.reset();
    writer_.reset();
    anchor_.reset();
  }
  [[nodiscard]] ring::RingWriter& live() const {
    if (!writer_) throw py::value_error("this RingWriter is closed");
    return *writer_;
  }

 private:
  std::shared_ptr<ring::RingWriter> writer_;
  Anchor anchor_;
  std::shared_ptr<PyClaim> pending_;
};

// ---- consumer -------------------------------------------------------------------------------

class PyFrame {
 public:
  PyFrame(std::weak_ptr<ring::RingReader> reader, ring::FrameView view, py::array pixels)
      : reader_(std::move(reader)), view_(view), pixels_(std::move(pixels)) {}

  // Once released (or its reader closed) the answer is frozen: intact over the whole read or not.
  bool release() {
    if (released_) return intact_;
    released_ = true;
    const auto reader = reader_.lock();
    intact_ = reader && reader->release(view_);
    return intact_;
  }
  [[nodiscard]] bool is_intact() const {
    if (released_) return intact_;
    const auto reader = reader_.lock();
    return reader && reader->is_intact(view_);
  }
  [[nodiscard]] bool released() const noexcept { return released_; }
  [[nodiscard]] const ring::FrameView& view() const noexcept { return view_; }
  [[nodiscard]] const py::array& pixels() const noexcept { return pixels_; }

 private:
  std::weak_ptr<ring::RingReader> reader_;
  ring::FrameView view_;
  py::array pixels_;
  bool released_ = false;
  bool intact_ = false;
};

class PyReader {
 public:
  PyReader(const std::string& instance, const std::string& ring, const std::string& kind, const std::string& name,
           double stall_timeout_s, double dead_timeout_s, double wait_s) {
    if (kind != "newest" && kind != "every") {
      throw py::value_error(fmt::format("kind must be 'newest' (never slows the producer, may skip frames) or "
                                        "'every' (every frame, in order, gates the producer), not '{}'",
                                        kind));
    }
    ring::ReaderOptions o;
    o.name = name;
    o.kind = kind == "every" ? ring::ConsumerKind::Every : ring::ConsumerKind::Newest;
    o.stall_timeout = to_ns(stall_timeout_s);
    o.dead_timeout = to_ns(dead_timeout_s);
    o.wait_for_segment = std::chrono::duration_cast<std::chrono::milliseconds>(to_ns(wait_s));
    py::gil_scoped_release release;
    reader_ = std::make_shared<ring::RingReader>(ring::RingReader::attach(instance, ring, o));
    anchor_ = std::make_shared<const ring::Segment>(ring::Segment::open(instance, ring));
  }

  std::optional<std::shared_ptr<PyFrame>> read(double timeout_s) {
    ring::RingReader& r = live();
    // An Every reader returns the same frame until it is released: release what the caller left.
    if (current_ && !current_->released()) current_->release();
    current_.reset();
    auto frame = wait_in_slices(to_ns(timeout_s), [&](std::chrono::nanoseconds t) { return r.read(t); });
    if (!frame) return std::nullopt;
    current_ = std::make_shared<PyFrame>(reader_, *frame, pixel_view(anchor_, frame->slot, false));
    return current_;
  }

  void close() {
    if (current_ && !current_->released() && reader_) current_->release();
    current_.reset();
    reader_.reset();
    anchor_.reset();
  }
  [[nodiscard]] ring::RingReader& live() const {
    if (!reader_) throw py::value_error("this RingReader is closed");
    return *reader_;
  }

 private:
  std::shared_ptr<ring::RingReader> reader_;
  Anchor anchor_;
  std::shared_ptr<PyFrame> current_;
};

// ---- recordings: the parts of a recording as one (N, height, width) array -----------------

// A read-only mapping of several files laid end to end in one address range, so that pages of
// a fixed stride in consecutive files form one strided array without copying (MAP_FIXED over a
// reserved PROT_NONE range). Unmapped when the last view of it goes.
struct ConcatenatedMapping {
  void* base = nullptr;
  std::size_t bytes = 0;
  ~ConcatenatedMapping() {
    if (base != nullptr) ::munmap(base, bytes);
  }
};

py::array map_pages(const std::vector<std::string>& files, const std::vector<std::uint64_t>& pages,
                    std::uint64_t page_bytes, std::uint64_t pixel_offset, std::uint32_t width, std::uint32_t height,
                    std::uint32_t bytes_per_sample, std::uint32_t samples_per_pixel) {
  if (samples_per_pixel != 1 && samples_per_pixel != 3) throw py::value_error("map_pages: samples_per_pixel is 1 or 3");
  if (files.size() != pages.size()) throw py::value_error("map_pages: one page count per file");
  if (page_bytes % static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) != 0) {
    throw py::value_error("map_pages: page_bytes must be a multiple of the memory page size");
  }
  std::uint64_t total_pages = 0;
  for (auto n : pages) total_pages += n;
  auto mapping = std::make_unique<ConcatenatedMapping>();
  mapping->bytes = static_cast<std::size_t>(std::max<std::uint64_t>(1, total_pages) * page_bytes);
  mapping->base = ::mmap(nullptr, mapping->bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping->base == MAP_FAILED) {
    mapping->base = nullptr;
    throw Error(fmt::format("cannot reserve {} bytes of address space for the recording: {}", mapping->bytes,
                            errno_text(errno)));
  }
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (pages[i] == 0) continue;
    const std::uint64_t bytes = pages[i] * page_bytes;
    const int fd = ::open(files[i].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(fmt::format("cannot open {}: {}", files[i], errno_text(errno)));
    const off_t size = ::lseek(fd, 0, SEEK_END);
    if (size < 0 || static_cast<std::uint64_t>(size) < bytes - page_bytes + pixel_offset +
                                                               std::uint64_t{width} * height * bytes_per_sample *
                                                                   samples_per_pixel) {
      ::close(fd);
      throw Error(fmt::format("{} holds {} bytes, too few for {} pages of {} bytes", files[i], size, pages[i],
                              page_bytes));
    }
    // The file may end inside its last page's padding: map what exists, the rest stays unmapped.
    const std::uint64_t map_bytes = std::min<std::uint64_t>(bytes, static_cast<std::uint64_t>(size));
    void* got = ::mmap(static_cast<std::byte*>(mapping->base) + at, map_bytes, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (got == MAP_FAILED) throw Error(fmt::format("cannot map {}: {}", files[i], errno_text(err)));
    at += bytes;
  }
  std::byte* first = static_cast<std::byte*>(mapping->base) + pixel_offset;
  auto* raw = mapping.release();
  py::capsule owner(raw, [](void* p) { delete static_cast<ConcatenatedMapping*>(p); });
  const auto pixel_bytes = static_cast<py::ssize_t>(bytes_per_sample * samples_per_pixel);
  std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(total_pages), static_cast<py::ssize_t>(height),
                                 static_cast<py::ssize_t>(width)};
  std::vector<py::ssize_t> strides{static_cast<py::ssize_t>(page_bytes), pixel_bytes * static_cast<py::ssize_t>(width),
                                   pixel_bytes};
  if (samples_per_pixel > 1) {  // (N, height, width, 3): R, G, B of a pixel side by side
    shape.push_back(static_cast<py::ssize_t>(samples_per_pixel));
    strides.push_back(static_cast<py::ssize_t>(bytes_per_sample));
  }
  py::array view(bytes_per_sample == 1 ? py::dtype("u1") : py::dtype("<u2"), shape, strides, first, owner);
  py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return view;
}

// What `framering status --instance I --json` prints (ring::to_json of each listing).
std::string status_json(const std::string& instance) {
  nlohmann::json rings = nlohmann::json::array();
  for (const auto& listing : ring::list_instance(instance)) rings.push_back(ring::to_json(listing));
  return rings.dump();
}

// ---- bench/python_bench.py's C++ twins: the same per-frame work as its Python loops ----------

// Produces `frames` frames into a new or re-attached ring, each a memcpy of `source` into the
// claimed slot. Returns seconds from the first claim to the last publish.
double bench_produce(const std::string& instance, const std::string& ring, std::uint64_t frames,
                     py::array_t<std::uint16_t, py::array::c_style> source, std::uint32_t slots,
                     std::uint32_t wait_for_consumers) {
  const auto height = static_cast<std::uint32_t>(source.shape(0));
  const auto width = static_cast<std::uint32_t>(source.shape(1));
  const std::uint16_t* src = source.data();
  py::gil_scoped_release release;
  auto writer = ring::RingWriter::create_or_attach(
      instance, ring,
      {.frame = {.width = width, .height = height, .pixel_format = PixelFormat::Mono16}, .slot_count = slots});
  if (wait_for_consumers > 0) (void)writer.wait_for_consumers(wait_for_consumers, std::chrono::seconds{30});
  const std::uint64_t start = monotonic_ns();
  for (std::uint64_t n = 0; n < frames; ++n) {
    auto slot = writer.claim(std::chrono::seconds{10});
    if (!slot) throw Error("bench_produce: no free slot in 10 s");
    std::memcpy(slot->pixels.data(), src, std::size_t{width} * height * 2);
    writer.publish();
  }
  return static_cast<double>(monotonic_ns() - start) / 1e9;
}

// Reads `frames` frames as an every consumer named `name`, copying each out (memcpy). Returns
// seconds from the first frame to the last release.
double bench_consume_every(const std::string& instance, const std::string& ring, const std::string& name,
                           std::uint64_t frames) {
  py::gil_scoped_release release;
  auto reader = ring::RingReader::attach(
      instance, ring, {.name = name, .kind = ring::ConsumerKind::Every, .wait_for_segment = std::chrono::seconds{30}});
  std::vector<std::byte> copy;
  std::uint64_t start = 0;
  for (std::uint64_t n = 0; n < frames;) {
    auto frame = reader.read(std::chrono::seconds{10});
    if (!frame) throw Error("bench_consume_every: no frame in 10 s");
    if (n == 0) start = monotonic_ns();
    copy.resize(frame->pixels.size());
    std::memcpy(copy.data(), frame->pixels.data(), frame->pixels.size());
    (void)reader.release(*frame);
    ++n;
  }
  return static_cast<double>(monotonic_ns() - start) / 1e9;
}

}  // namespace
}  // namespace framering::python

PYBIND11_MODULE(_framering, m) {
  using namespace framering;
  using namespace framering::python;
  m.doc() = "framering's C++ ring for Python: use the `framering` package, which wraps this module.";
  // The ring logs (evictions, re-attaches) as every framering process does: spdlog on stderr,
  // never on stdout (a Python stage's stdout is its own), at FRAMERING_LOG_LEVEL (default info).
  const char* level = std::getenv("FRAMERING_LOG_LEVEL");
  try {
    setup_logging("python", level != nullptr ? level : "info");
  } catch (const Error&) {
    setup_logging("python", "info");
  }

  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<SegmentError> ring_error(m, "RingError", error.ptr());
  static py::exception<ConfigError> config_error(m, "ConfigError", error.ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const SegmentError& e) {
      PyErr_SetString(ring_error.ptr(), e.what());
    } catch (const ConfigError& e) {
      PyErr_SetString(config_error.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });

  py::class_<PyClaim, std::shared_ptr<PyClaim>>(m, "Claim")
      .def_property_readonly("pixels", &PyClaim::pixels)
      .def_property_readonly("sequence", &PyClaim::sequence)
      .def_property_readonly("slot", &PyClaim::slot)
      .def_property(
          "timestamp_ns", [](const PyClaim& c) { return c.timestamp_ns_; },
          [](PyClaim& c, std::optional<std::uint64_t> v) { c.timestamp_ns_ = v; })
      .def_property(
          "camera_frame_id", [](const PyClaim& c) { return c.camera_frame_id_; },
          [](PyClaim& c, std::optional<std::uint64_t> v) { c.camera_frame_id_ = v; })
      .def_property(
          "source_frames_lost", [](const PyClaim& c) { return c.source_frames_lost_; },
          [](PyClaim& c, std::uint64_t v) { c.source_frames_lost_ = v; })
      .def_property(
          "settings_generation", [](const PyClaim& c) { return c.settings_generation_; },
          [](PyClaim& c, std::uint32_t v) { c.settings_generation_ = v; },
          "The live settings generation stamped on the frame (a stage passes on its input's)")
      .def_property_readonly("done", &PyClaim::done)
      .def("publish", &PyClaim::publish)
      .def("abandon", &PyClaim::abandon)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyClaim& c, py::object type, py::object, py::object) {
        if (c.done()) return false;
        if (type.is_none()) {
          c.publish();
        } else {
          c.abandon();
        }
        return false;
      });

  py::class_<PyWriter>(m, "RingWriter")
      .def(py::init<const std::string&, const std::string&, std::uint32_t, std::uint32_t, const std::string&,
                    std::uint32_t, std::uint64_t, bool>(),
           py::arg("instance"), py::arg("ring"), py::kw_only(), py::arg("width"), py::arg("height"),
           py::arg("pixel_format") = "Mono16", py::arg("slots") = 16, py::arg("stride_bytes") = 0,
           py::arg("group_access") = false)
      .def("claim", &PyWriter::claim, py::arg("timeout_s") = 1.0)
      .def("wait_for_consumers",
           [](PyWriter& w, std::uint32_t count, double timeout_s) {
             ring::RingWriter& writer = w.live();
             const auto deadline = monotonic_ns() + static_cast<std::uint64_t>(to_ns(timeout_s).count());
             for (;;) {
               bool ok = false;
               {
                 py::gil_scoped_release release;
                 ok = writer.wait_for_consumers(count, std::chrono::milliseconds{50});
               }
               if (ok) return true;
               if (monotonic_ns() >= deadline) return false;
               if (PyErr_CheckSignals() != 0) throw py::error_already_set();
             }
           },
           py::arg("count"), py::arg("timeout_s") = 30.0)
      .def("count_dropped", [](PyWriter& w, std::uint64_t n) { w.live().count_dropped(n); }, py::arg("frames"))
      .def_property_readonly("next_sequence", [](const PyWriter& w) { return w.live().next_sequence(); })
      .def_property_readonly("reattached", [](const PyWriter& w) { return w.live().reattached(); })
      .def_property_readonly("ring", [](const PyWriter& w) { return w.live().segment().ring_name(); })
      .def_property_readonly("segment", [](const PyWriter& w) { return w.live().segment().name(); })
      .def_property_readonly("width", [](const PyWriter& w) { return w.live().segment().header().width; })
      .def_property_readonly("height", [](const PyWriter& w) { return w.live().segment().header().height; })
      .def_property_readonly("slot_count", [](const PyWriter& w) { return w.live().segment().slot_count(); })
      .def_property_readonly("pixel_format", [](const PyWriter& w) {
        return std::string{to_string(static_cast<PixelFormat>(w.live().segment().header().pixel_format))};
      })
      .def("close", &PyWriter::close)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyWriter& w, py::object, py::object, py::object) {
        w.close();
        return false;
      });

  py::class_<PyFrame, std::shared_ptr<PyFrame>>(m, "Frame")
      .def_property_readonly("pixels", &PyFrame::pixels)
      .def_property_readonly("sequence", [](const PyFrame& f) { return f.view().sequence; })
      .def_property_readonly("timestamp_ns", [](const PyFrame& f) { return f.view().timestamp_ns; })
      .def_property_readonly("publish_monotonic_ns", [](const PyFrame& f) { return f.view().publish_monotonic_ns; })
      .def_property_readonly("camera_frame_id", [](const PyFrame& f) { return f.view().camera_frame_id; })
      .def_property_readonly("source_frames_lost", [](const PyFrame& f) { return f.view().source_frames_lost; })
      .def_property_readonly("settings_generation", [](const PyFrame& f) { return f.view().settings_generation; },
                             "The generation of the run's live settings that produced this frame (0: as started)")
      .def_property_readonly("slot", [](const PyFrame& f) { return f.view().slot; })
      .def_property_readonly("width", [](const PyFrame& f) { return f.view().width; })
      .def_property_readonly("height", [](const PyFrame& f) { return f.view().height; })
      .def_property_readonly("stride_bytes", [](const PyFrame& f) { return f.view().stride_bytes; })
      .def_property_readonly("pixel_format",
                             [](const PyFrame& f) { return std::string{to_string(f.view().pixel_format)}; })
      .def_property_readonly("gap",
                             [](const PyFrame& f) -> std::optional<std::pair<std::uint64_t, std::uint64_t>> {
                               if (!f.view().gap) return std::nullopt;
                               return std::pair{f.view().gap->first, f.view().gap->last};
                             })
      .def_property_readonly("released", &PyFrame::released)
      .def("is_intact", &PyFrame::is_intact)
      .def("release", &PyFrame::release)
      .def("copy",
           [](const PyFrame& f) -> std::optional<py::array> {
             if (f.released()) return std::nullopt;  // the slot may hold a later frame by now
             py::array copy = py::array::ensure(f.pixels().attr("copy")());
             if (!f.is_intact()) return std::nullopt;
             return copy;
           })
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyFrame& f, py::object, py::object, py::object) {
        f.release();
        return false;
      });

  py::class_<PyReader>(m, "RingReader")
      .def(py::init<const std::string&, const std::string&, const std::string&, const std::string&, double, double,
                    double>(),
           py::arg("instance"), py::arg("ring"), py::kw_only(), py::arg("kind") = "newest", py::arg("name") = "",
           py::arg("stall_timeout_s") = 10.0, py::arg("dead_timeout_s") = 2.0, py::arg("wait_s") = 0.0)
      .def("read", &PyReader::read, py::arg("timeout_s") = 1.0)
      .def_property_readonly("name", [](const PyReader& r) { return r.live().name(); })
      .def_property_readonly("kind", [](const PyReader& r) {
        return std::string{ring::to_string(r.live().kind())};
      })
      .def_property_readonly("resumed", [](const PyReader& r) { return r.live().resumed(); })
      .def_property_readonly("cursor", [](const PyReader& r) { return r.live().cursor(); })
      .def_property_readonly("published", [](const PyReader& r) { return r.live().published(); })
      .def_property_readonly("ring", [](const PyReader& r) { return r.live().segment().ring_name(); })
      .def_property_readonly("producer_alive", [](const PyReader& r) { return r.live().is_producer_alive(); })
      .def_property_readonly("counters",
                             [](const PyReader& r) {
                               const auto c = r.live().counters();
                               py::dict d;
                               d["frames_read"] = c.frames_read;
                               d["frames_skipped"] = c.frames_skipped;
                               d["frames_torn"] = c.frames_torn;
                               d["gaps"] = c.gaps;
                               d["frames_lost"] = c.frames_lost;
                               d["evictions"] = c.evictions;
                               return d;
                             })
      .def("close", &PyReader::close)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyReader& r, py::object, py::object, py::object) {
        r.close();
        return false;
      })
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__", [](PyReader& r) {
        // Until the producer is gone and nothing new arrives: a ring's end as a reader sees it.
        for (;;) {
          auto frame = r.read(0.5);
          if (frame) return *frame;
          if (!r.live().is_producer_alive()) throw py::stop_iteration();
        }
      });

  m.def("status_json", &status_json, py::arg("instance"));
  m.def("list_rings", &ring::Segment::list_rings, py::arg("instance"));
  m.def("map_pages", &map_pages, py::arg("files"), py::arg("pages"), py::arg("page_bytes"), py::arg("pixel_offset"),
        py::arg("width"), py::arg("height"), py::arg("bytes_per_sample"), py::arg("samples_per_pixel") = 1);
  m.def("_bench_produce", &bench_produce, py::arg("instance"), py::arg("ring"), py::arg("frames"), py::arg("source"),
        py::arg("slots") = 16, py::arg("wait_for_consumers") = 0);
  m.def("_bench_consume_every", &bench_consume_every, py::arg("instance"), py::arg("ring"), py::arg("name"),
        py::arg("frames"));
  m.def("realtime_ns", &realtime_ns);
  m.def("monotonic_ns", &monotonic_ns);
}
