// The rows the crash tests write, shared with the crash_device process.
#pragma once

#include <string>

#include "lumbung/value.hpp"

namespace lumbung::test {

inline constexpr const char* kCrashVillage = "0190f1c2-7a00-7000-8000-0000000000c1";

// A household whose phone says who wrote it: the value the checks look for.
inline Row crash_household(const std::string& id, const std::string& phone) {
  return {{"id", id},
          {"village_id", kCrashVillage},
          {"phone", phone},
          {"created_by", "crash"},
          {"created_at", "2026-11-28T08:00:00Z"}};
}

}  // namespace lumbung::test
