// Test entry point: libsodium must be initialised before any test runs.
#include <gtest/gtest.h>

#include "handshake/crypto.h"

int main(int argc, char** argv) {
  sitelink::handshake::crypto_init();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
