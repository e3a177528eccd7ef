// Why the protocol core refused something. Refusals are ordinary events
// (counted and perhaps logged at debug level by the device), never thrown.
#pragma once

#include <cstdint>
#include <string_view>

namespace sitelink::handshake {

enum class ProtoError : uint8_t {
  kNone = 0,
  kBadType,            // unknown message type or non-zero reserved bytes
  kBadLength,          // wrong size for its type
  kInvalidMac1,        // mac1 does not match our public key
  kInvalidMac2,        // under load, and mac2 missing or wrong
  kCookieRequired,     // under load: a cookie reply was sent instead
  kDecryptFailed,      // an AEAD tag did not verify
  kBadPublicKey,       // DH gave all zeros (low-order point)
  kUnknownPeer,        // initiator's static key is not configured
  kReplayedTimestamp,  // initiation timestamp not newer than the last one
  kFloodedInitiation,  // initiations faster than kInitiationsPerSecond
  kUnexpectedMessage,  // e.g. a response when no initiation is outstanding
  kWrongIndex,         // receiver index matches nothing of ours
  kReplayedCounter,    // transport counter already seen or too old
  kExpiredKeypair,     // keypair older than REJECT_AFTER_TIME or exhausted
  kNoSession,          // nothing to decrypt with
  kPacketTooLarge,     // does not fit the caller's buffer
  kCount,
};

constexpr std::string_view to_string(ProtoError e) {
  switch (e) {
    case ProtoError::kNone: return "none";
    case ProtoError::kBadType: return "bad-type";
    case ProtoError::kBadLength: return "bad-length";
    case ProtoError::kInvalidMac1: return "invalid-mac1";
    case ProtoError::kInvalidMac2: return "invalid-mac2";
    case ProtoError::kCookieRequired: return "cookie-required";
    case ProtoError::kDecryptFailed: return "decrypt-failed";
    case ProtoError::kBadPublicKey: return "bad-public-key";
    case ProtoError::kUnknownPeer: return "unknown-peer";
    case ProtoError::kReplayedTimestamp: return "replayed-timestamp";
    case ProtoError::kFloodedInitiation: return "flooded-initiation";
    case ProtoError::kUnexpectedMessage: return "unexpected-message";
    case ProtoError::kWrongIndex: return "wrong-index";
    case ProtoError::kReplayedCounter: return "replayed-counter";
    case ProtoError::kExpiredKeypair: return "expired-keypair";
    case ProtoError::kNoSession: return "no-session";
    case ProtoError::kPacketTooLarge: return "packet-too-large";
    case ProtoError::kCount: break;
  }
  return "unknown";
}

}  // namespace sitelink::handshake
