// enum_names.hpp: an enum class's names in one table, read both ways: to_string() and parse_*()
// of an enum are then two one-line lookups in the same table, never two lists to keep in step.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <utility>

namespace framering {

/// One enumerator and its name as the command line and the logs spell it.
template <class Enum>
using EnumName = std::pair<Enum, std::string_view>;

/// The name of `value` in `names`, or "unknown" when the table lacks it.
template <class Enum>
[[nodiscard]] constexpr std::string_view name_in(std::span<const EnumName<Enum>> names, Enum value) noexcept {
  for (const auto& [enumerator, name] : names) {
    if (enumerator == value) return name;
  }
  return "unknown";
}

/// The enumerator called `name` in `names` (exact, case-sensitive), or nullopt.
template <class Enum>
[[nodiscard]] constexpr std::optional<Enum> parse_name_in(std::span<const EnumName<Enum>> names,
                                                          std::string_view name) noexcept {
  for (const auto& [enumerator, n] : names) {
    if (n == name) return enumerator;
  }
  return std::nullopt;
}

}  // namespace framering
