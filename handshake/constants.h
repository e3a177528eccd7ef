// Every protocol constant in one place, named as in the WireGuard paper
// (section 6) and the kernel's messages.h. Times are chrono durations.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace sitelink::handshake {

using namespace std::chrono_literals;

// --- Noise construction (paper 5.4) ----------------------------------------
inline constexpr char kConstruction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr char kIdentifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr char kLabelMac1[] = "mac1----";
inline constexpr char kLabelCookie[] = "cookie--";

// --- Timers (paper 6.1) -----------------------------------------------------
inline constexpr uint64_t kRekeyAfterMessages = uint64_t{1} << 60;
// Counter window: 8192 bits, of which one machine word is kept spare so the
// window can slide by whole words (the kernel's COUNTER_REDUNDANT_BITS).
inline constexpr uint64_t kCounterBitsTotal = 8192;
inline constexpr uint64_t kCounterRedundantBits = 64;
inline constexpr uint64_t kCounterWindowSize = kCounterBitsTotal - kCounterRedundantBits;
inline constexpr uint64_t kRejectAfterMessages = UINT64_MAX - kCounterBitsTotal;  // 2^64 - 2^13 - 1
inline constexpr std::chrono::seconds kRekeyAfterTime = 120s;
inline constexpr std::chrono::seconds kRejectAfterTime = 180s;
inline constexpr std::chrono::seconds kRekeyAttemptTime = 90s;
inline constexpr std::chrono::seconds kRekeyTimeout = 5s;
inline constexpr std::chrono::seconds kKeepaliveTimeout = 10s;
inline constexpr int kMaxTimerHandshakes = static_cast<int>(kRekeyAttemptTime / kRekeyTimeout);
// Random extra delay on handshake timers so peers do not retransmit in step
// (the kernel's REKEY_TIMEOUT_JITTER_MAX_JIFFIES, HZ / 3).
inline constexpr std::chrono::milliseconds kRekeyTimeoutJitterMax = 333ms;

// --- Cookies (paper 5.4.7) --------------------------------------------------
inline constexpr std::chrono::seconds kCookieSecretMaxAge = 120s;
inline constexpr std::chrono::seconds kCookieSecretLatency = 5s;

// --- Limits -----------------------------------------------------------------
inline constexpr int kInitiationsPerSecond = 50;
inline constexpr size_t kMaxStagedPackets = 128;
inline constexpr size_t kMessagePaddingMultiple = 16;

}  // namespace sitelink::handshake
