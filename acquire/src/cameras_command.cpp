#include "framering/acquire/cameras_command.hpp"

#include <arv.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace framering::acquire {
namespace {

std::string text_or_empty(const char* text) { return text != nullptr ? std::string{text} : std::string{}; }

}  // namespace

std::vector<GenicamCamera> find_genicam_cameras() {
  arv_update_device_list();
  std::vector<GenicamCamera> cameras;
  for (unsigned i = 0; i < arv_get_n_devices(); ++i) {
    cameras.push_back({.id = text_or_empty(arv_get_device_id(i)),
                       .vendor = text_or_empty(arv_get_device_vendor(i)),
                       .model = text_or_empty(arv_get_device_model(i)),
                       .serial = text_or_empty(arv_get_device_serial_nbr(i)),
                       .address = text_or_empty(arv_get_device_address(i)),
                       .protocol = text_or_empty(arv_get_device_protocol(i))});
  }
  return cameras;
}

std::vector<V4l2Device> find_v4l2_devices() {
  namespace fs = std::filesystem;
  std::vector<V4l2Device> devices;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/dev", ec)) {
    const std::string node = entry.path().filename().string();
    if (node.rfind("video", 0) != 0) continue;
    V4l2Device device{.path = entry.path().string(), .name = {}};
    std::ifstream name_file(fs::path("/sys/class/video4linux") / node / "name");
    std::getline(name_file, device.name);
    devices.push_back(std::move(device));
  }
  std::ranges::sort(devices, {}, &V4l2Device::path);
  return devices;
}

nlohmann::json cameras_to_json(const std::vector<GenicamCamera>& cameras, const std::vector<V4l2Device>& devices) {
  nlohmann::json out = {{"genicam", nlohmann::json::array()}, {"v4l2", nlohmann::json::array()}};
  for (const auto& c : cameras) {
    out["genicam"].push_back({{"id", c.id}, {"vendor", c.vendor}, {"model", c.model}, {"serial", c.serial},
                              {"address", c.address}, {"protocol", c.protocol}});
  }
  for (const auto& d : devices) out["v4l2"].push_back({{"path", d.path}, {"name", d.name}});
  return out;
}

void add_cameras_subcommand(CLI::App& app, std::function<int()>& action) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("cameras", "List the GenICam cameras (Aravis) and V4L2 devices this machine sees");
  cmd->footer(
      "GenICam: GigE Vision cameras answering Aravis' discovery broadcast on every interface, and USB3 Vision\n"
      "cameras (id, vendor, model, serial, address, protocol); the id is what `acquire --source aravis\n"
      "--camera` takes. V4L2: /dev/video* with the driver's name; the path is what `acquire --source opencv\n"
      "--device` takes. Finding nothing is not an error (exit 0).\n"
      "Examples:\n  framering cameras\n  framering cameras --json");
  cmd->add_flag("--json", *json, "Print JSON: {\"genicam\": [...], \"v4l2\": [...]}");
  cmd->callback([json, &action] {
    action = [json] {
      const auto cameras = find_genicam_cameras();
      const auto devices = find_v4l2_devices();
      if (*json) {
        fmt::print("{}\n", cameras_to_json(cameras, devices).dump(2));
        return 0;
      }
      if (cameras.empty()) {
        fmt::print("GenICam cameras: none found\n");
      } else {
        fmt::print("GenICam cameras ({}):\n  {:<28} {:<16} {:<24} {:<14} {:<16} {}\n", cameras.size(), "id", "vendor", "model",
                   "serial", "address", "protocol");
        for (const auto& c : cameras) {
          fmt::print("  {:<28} {:<16} {:<24} {:<14} {:<16} {}\n", c.id, c.vendor, c.model, c.serial, c.address, c.protocol);
        }
      }
      if (devices.empty()) {
        fmt::print("V4L2 devices: none found\n");
      } else {
        fmt::print("V4L2 devices ({}):\n", devices.size());
        for (const auto& d : devices) fmt::print("  {:<16} {}\n", d.path, d.name.empty() ? "(no name)" : d.name);
      }
      return 0;
    };
  });
}

}  // namespace framering::acquire
