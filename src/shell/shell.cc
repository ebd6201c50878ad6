// RunShell: picks the input (arguments, piped stdin or the terminal) and wires a ShellSession to a
// HranaClient. The terminal loop uses readline's callback interface so that Ctrl-C can clear the
// line being typed instead of ending the shell.
#include "shell/shell.h"

#include <readline/history.h>
#include <readline/readline.h>
#include <sys/select.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "shell/hrana_client.h"
#include "shell/session.h"

namespace cairn::shell {
namespace {

constexpr int kHistoryLines = 1000;

volatile std::sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }

// What readline's line handler delivered; readline's callback API offers no user pointer.
struct PendingLine {
  bool done = false;
  std::optional<std::string> line;  // empty at end of input
};
PendingLine* g_pending = nullptr;

void OnLine(char* line) {
  g_pending->done = true;
  if (line) {
    g_pending->line = line;
    std::free(line);
  }
  rl_callback_handler_remove();
}

enum class ReadStatus { kLine, kInterrupted, kEnd };

ReadStatus ReadLine(const std::string& prompt, std::string* line) {
  PendingLine pending;
  g_pending = &pending;
  g_interrupted = 0;
  rl_callback_handler_install(prompt.c_str(), &OnLine);
  while (!pending.done) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(STDIN_FILENO, &fds);
    if (select(STDIN_FILENO + 1, &fds, nullptr, nullptr, nullptr) < 0) {
      if (errno != EINTR) break;
      if (!g_interrupted) continue;  // e.g. a window resize
      rl_free_line_state();
      rl_callback_sigcleanup();
      rl_callback_handler_remove();
      std::fputs("\n", rl_outstream ? rl_outstream : stdout);
      return ReadStatus::kInterrupted;
    }
    rl_callback_read_char();
  }
  g_pending = nullptr;
  if (!pending.done) rl_callback_handler_remove();
  if (!pending.line) return ReadStatus::kEnd;
  *line = std::move(*pending.line);
  return ReadStatus::kLine;
}

std::string HistoryPath() {
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.cairn_history" : std::string();
}

void RunInteractive(ShellSession& session, const std::string& url) {
  const std::string history = HistoryPath();
  using_history();
  stifle_history(kHistoryLines);
  if (!history.empty()) {
    std::ofstream(history, std::ios::app).close();  // append_history needs the file to exist
    read_history(history.c_str());
  }
  struct sigaction sa = {};
  struct sigaction old_sa = {};
  sa.sa_handler = &OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_sa);

  std::cout << "Cairn shell on " << url << ". Enter .help for help, .quit to leave.\n"
            << std::flush;
  std::string line;
  while (true) {
    ReadStatus status = ReadLine(session.Prompt(), &line);
    if (status == ReadStatus::kEnd) {
      std::cout << '\n';
      break;
    }
    if (status == ReadStatus::kInterrupted) {
      session.DiscardInteractiveInput();
      continue;
    }
    if (line.find_first_not_of(" \t") != std::string::npos) {
      add_history(line.c_str());
      if (!history.empty()) append_history(1, history.c_str());
    }
    if (!session.FeedInteractiveLine(line)) break;
  }
  if (!history.empty()) history_truncate_file(history.c_str(), kHistoryLines);
  sigaction(SIGINT, &old_sa, nullptr);
}

}  // namespace

int RunShell(const ShellOptions& opts) {
  auto client = HranaClient::Create({opts.url, opts.auth_token, opts.ns});
  if (!client.ok()) {
    std::cerr << "Error: " << client.status().message() << '\n';
    return 1;
  }
  const bool interactive = opts.commands.empty() && isatty(STDIN_FILENO);
  ShellSession session(client->get(), &std::cout, &std::cerr, interactive, opts.json);
  if (!opts.commands.empty()) {
    for (const std::string& command : opts.commands) {
      std::istringstream in(command);
      if (!session.RunScript(in) || session.quit_requested()) break;
    }
  } else if (!interactive) {
    session.RunScript(std::cin);
  } else {
    RunInteractive(session, NormalizeBaseUrl(opts.url));
    if ((*client)->InTransaction()) {
      std::cerr << "The open transaction is rolled back as the session closes.\n";
    }
  }
  std::cout.flush();
  (*client)->Close();
  return session.had_error() ? 1 : 0;
}

}  // namespace cairn::shell
