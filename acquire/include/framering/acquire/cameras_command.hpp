// cameras_command.hpp: `framering cameras`: the GenICam cameras Aravis finds (GigE Vision, USB3
// Vision) and the V4L2 devices of this machine, for choosing --camera / --device.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace CLI {
class App;
}

namespace framering::acquire {

/// One GenICam camera as Aravis' discovery reports it (arv_update_device_list).
struct GenicamCamera {
  std::string id;        ///< what --camera takes
  std::string vendor;
  std::string model;
  std::string serial;
  std::string address;   ///< IP address (GigE Vision) or USB bus address
  std::string protocol;  ///< "GigEVision", "USB3Vision" (or "Fake")
};

/// One V4L2 device node.
struct V4l2Device {
  std::string path;  ///< /dev/videoN: what --device takes
  std::string name;  ///< /sys/class/video4linux/videoN/name ("" when absent)
};

/// Discovers GenICam cameras: broadcasts on every interface and waits for replies (Aravis'
/// discovery timeout, about a second).
[[nodiscard]] std::vector<GenicamCamera> find_genicam_cameras();

/// Lists /dev/video* nodes, sorted, with their names from sysfs. Reads only.
[[nodiscard]] std::vector<V4l2Device> find_v4l2_devices();

/// {"genicam": [{id, vendor, model, serial, address, protocol}...], "v4l2": [{path, name}...]}
[[nodiscard]] nlohmann::json cameras_to_json(const std::vector<GenicamCamera>& cameras, const std::vector<V4l2Device>& devices);

/// Adds the `cameras` subcommand. Exit code 0, also when nothing is found (it says so).
void add_cameras_subcommand(CLI::App& app, std::function<int()>& action);

}  // namespace framering::acquire
