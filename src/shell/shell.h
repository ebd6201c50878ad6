// `cairn shell`: an SQL shell and scripting client for a Cairn (or sqld) server, speaking Hrana 3
// over HTTP on one stream for the whole session.
//
// This header is the whole public surface; the CLI fills ShellOptions from its flags and calls
// RunShell. RunShell uses the process's stdin/stdout/stderr and the terminal, so it must be called
// from one thread at a time.
#pragma once

#include <string>
#include <vector>

namespace cairn::shell {

struct ShellOptions {
  std::string url = "http://127.0.0.1:8080";  // server base URL
  std::string auth_token;                     // sent as Authorization: Bearer when non-empty
  std::string ns;                             // sent as x-namespace when non-empty
  std::vector<std::string> commands;          // SQL or dot-commands to run non-interactively
  bool json = false;                          // print results as JSON lines instead of tables
};

// Runs the shell. With commands: runs them in order and exits; else if stdin is not a terminal,
// reads SQL from stdin; else interactive. Scripts (commands, stdin) stop at the first error.
// Returns the process exit code (0 ok, 1 if any error).
int RunShell(const ShellOptions& opts);

}  // namespace cairn::shell
