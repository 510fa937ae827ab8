// recording_check.hpp: a temporary folder, and a recording read back the way our users read it
// (tifffile, Debian's python3-tifffile under /usr/bin/python3) with every page checked against
// the sequence pattern of the sequence its index row names (sample c of a pixel = (sequence + x +
// 3y + 85c) & mask; c = 0 but for RGB pages).
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::test {

// Reads every part of a recording with tifffile and checks each page against the pattern of the
// sequence its index row names. Prints one JSON line.
inline constexpr const char* kTifffileCheck = R"PY(
import csv, glob, json, os, sys
import numpy as np, tifffile
folder = sys.argv[1]
lines = [l for l in open(os.path.join(folder, 'index.csv')) if not l.startswith('#')]
rows = [r for r in csv.reader(lines[1:]) if r]
result = {'frames': 0, 'bad': [], 'dtypes': [], 'shapes': [], 'bigtiff': [], 'sequences': [], 'pages': {},
          'photometric': [], 'cfa': []}
by_part = {}
for r in rows:
    by_part.setdefault(int(r[0]), []).append((int(r[1]), int(r[2]), int(r[4])))
for path in sorted(glob.glob(os.path.join(folder, 'part-*.tif'))):
    part = int(os.path.basename(path)[5:11])
    with tifffile.TiffFile(path) as tif:
        result['bigtiff'].append(tif.is_bigtiff)
        stack = np.stack([p.asarray() for p in tif.pages])
        result['photometric'].append(int(tif.pages[0].photometric))
        cfa = tif.pages[0].tags.get(33422)  # TIFF/EP CFAPattern
        result['cfa'].append(list(cfa.value) if cfa is not None else None)
    result['pages'][str(part)] = int(stack.shape[0])
    result['dtypes'].append(str(stack.dtype))
    result['shapes'].append(list(stack.shape[1:]))
    mask = 0xFF if stack.dtype == np.uint8 else 0xFFFF
    h, w = stack.shape[1:3]
    y, x = np.mgrid[0:h, 0:w]
    if stack.ndim == 4:  # RGB: sample c = (sequence + x + 3y + 85c) & mask
        x, y = x[..., None], y[..., None] + 0 * np.arange(stack.shape[3])
        x = x + 85 * np.arange(stack.shape[3])
    for page, seq, camera in by_part.get(part, []):
        if page >= stack.shape[0] or not np.array_equal(stack[page], ((seq + x + 3 * y) & mask).astype(stack.dtype)):
            result['bad'].append(seq)
        result['sequences'].append(seq)
        result['frames'] += 1
print(json.dumps(result))
)PY";

/// A fresh folder under the temporary directory, removed (with everything in it) at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "framering-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Runs kTifffileCheck on `folder` (the script is written into `scratch`): {"frames", "bad":
/// [sequences whose page differs], "sequences": [in index order], "pages": {part: n}, ...}.
inline nlohmann::json tifffile_check(const std::filesystem::path& folder, const std::filesystem::path& scratch) {
  const std::filesystem::path script = scratch / "check.py";
  std::ofstream(script) << kTifffileCheck;
  const auto r = run({"/usr/bin/python3", script.string(), folder.string()}, std::chrono::seconds{60});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return report_of(r.out);
}

}  // namespace framering::test
