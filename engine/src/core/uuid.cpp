#include "core/uuid.hpp"

#include <algorithm>
#include <array>
#include <random>

#include "core/hex.hpp"

namespace lumbung::core {

namespace {

constexpr std::int64_t kMaxMs = (std::int64_t{1} << 48) - 1;
constexpr std::uint32_t kMaxCounter = 0xfff;

UuidV7Generator::RandomSource default_random() {
  // Seeded with 256 bits: ids from different devices must not share a stream.
  std::random_device device;
  std::array<std::uint32_t, 8> seed_words;
  std::generate(seed_words.begin(), seed_words.end(), std::ref(device));
  std::seed_seq seed(seed_words.begin(), seed_words.end());
  return [engine = std::mt19937_64(seed)]() mutable { return engine(); };
}

}  // namespace

UuidV7Generator::UuidV7Generator(std::shared_ptr<Clock> clock, RandomSource random)
    : clock_(clock ? std::move(clock) : system_clock()),
      random_(random ? std::move(random) : default_random()) {}

std::string UuidV7Generator::next() {
  const std::int64_t now = std::clamp<std::int64_t>(clock_->now_ms(), 0, kMaxMs);
  std::lock_guard lock(mu_);
  if (now > last_ms_) {
    last_ms_ = now;
    counter_ = 0;
  } else if (++counter_ > kMaxCounter) {
    // The clock stood still or stepped back: borrow the next millisecond.
    ++last_ms_;
    counter_ = 0;
  }
  const std::uint64_t random = random_();

  std::array<std::uint8_t, 16> bytes;
  const auto ms = static_cast<std::uint64_t>(last_ms_);
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  bytes[6] = static_cast<std::uint8_t>(0x70 | (counter_ >> 8));  // version 7
  bytes[7] = static_cast<std::uint8_t>(counter_);
  bytes[8] = static_cast<std::uint8_t>(0x80 | ((random >> 56) & 0x3f));  // variant 10
  for (int i = 9; i < 16; ++i) bytes[i] = static_cast<std::uint8_t>(random >> (8 * (15 - i)));

  std::string text;
  text.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    append_hex(text, &bytes[i], 1);
  }
  return text;
}

bool is_uuid_v7(const std::string& text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? text[i] != '-' : !is_lower_hex_digit(text[i])) return false;
  }
  const char variant = text[19];
  return text[14] == '7' && (variant == '8' || variant == '9' || variant == 'a' || variant == 'b');
}

}  // namespace lumbung::core
