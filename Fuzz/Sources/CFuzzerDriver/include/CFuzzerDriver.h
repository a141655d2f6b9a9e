// libFuzzer's library entry point (compiler-rt FuzzerInterface.h). Declared here because SwiftPM renames an
// executable's `main` to `<Module>_main` and links `main` to it, which hides libFuzzer's own `main`; so each
// fuzz target's top-level code hands control to libFuzzer through this function instead.
#pragma once
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
