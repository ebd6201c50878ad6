// The auth subcommands of `cairn`: everything needed to run with authentication, no other tool.
//
//   cairn keygen [--private-key PATH] [--public-key PATH] [--force]
//       Makes an Ed25519 key pair: the private key (PKCS#8 PEM, mode 0600) signs tokens; the
//       public key is written as PEM (for serve --auth-jwt-key-file) and printed in both forms
//       (PEM, and raw URL-safe base64 for serve --auth-jwt-key).
//   cairn token create --key PRIVATE.pem [--db NAME]... [--read-only] [--expires DURATION]
//       Prints a JWT libSQL clients send as their authToken. No --db: every database; one --db:
//       sqld's {"id","a"} claims; several: a {"p"} claim. DURATION: 30s, 15m, 1h, 7d, 2w or never
//       (the default).
//
// Exit codes: 0 success; 1 failure (message on stderr); 2 bad arguments.
#pragma once

#include <CLI/CLI.hpp>

namespace cairn::cli {

// Adds `keygen` and `token` to `app`. A failed command ends by throwing CLI::RuntimeError(exit
// code), which CLI11_PARSE returns from main.
void AddAuthCommands(CLI::App& app);

}  // namespace cairn::cli
