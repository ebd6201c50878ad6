#include "cli/auth_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/auth.h"
#include "base/file.h"

namespace cairn::cli {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct KeygenArgs {
  std::string private_key = "cairn-jwt-private.pem";
  std::string public_key = "cairn-jwt-public.pem";
  bool force = false;
};

struct TokenArgs {
  std::string key;
  std::vector<std::string> dbs;
  bool read_only = false;
  std::string expires = "never";
};

int Fail(const std::string& msg, int code = kExitFailure) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return code;
}

// Writes `data` to a new file with `mode`; an existing file is replaced only with `force`.
Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode, bool force) {
  if (force) (void)::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST)
      return Status(Code::kAlreadyExists, path + " exists (use --force to replace it)");
    return Status(Code::kIOError, "cannot create " + path + ": " + std::strerror(errno));
  }
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status(Code::kIOError, "cannot write " + path + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return Status(Code::kIOError, "cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

int RunKeygen(const KeygenArgs& a) {
  if (a.private_key == a.public_key)
    return Fail("--private-key and --public-key must differ", kExitUsage);
  auto kp = auth::GenerateKeyPair();
  if (!kp.ok()) return Fail(kp.status().message());
  for (const auto& path : {a.private_key, a.public_key}) {
    if (!a.force && ::access(path.c_str(), F_OK) == 0)
      return Fail(path + " exists (use --force to replace it)");
  }
  Status st = WriteNewFile(a.private_key, kp->private_pem, 0600, a.force);
  if (st.ok()) st = WriteNewFile(a.public_key, kp->public_pem, 0644, a.force);
  if (!st.ok()) return Fail(st.message());
  std::printf(
      "Private key (keep it secret; it signs tokens): %s\n"
      "Public key (PEM, for cairn serve --auth-jwt-key-file): %s\n"
      "%s"
      "Public key (raw, for cairn serve --auth-jwt-key): %s\n",
      a.private_key.c_str(), a.public_key.c_str(), kp->public_pem.c_str(), kp->public_raw.c_str());
  return 0;
}

// "30s", "15m", "1h", "7d", "2w" → seconds; "never" → nullopt.
std::optional<std::optional<int64_t>> ParseDuration(const std::string& text) {
  if (text == "never" || text == "none") return std::optional<int64_t>();
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    default:
      return std::nullopt;
  }
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9' || n > 1'000'000'000) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n <= 0) return std::nullopt;
  return std::optional<int64_t>(n * unit);
}

int RunTokenCreate(const TokenArgs& a) {
  auto duration = ParseDuration(a.expires);
  if (!duration)
    return Fail("--expires takes a duration like 30s, 15m, 1h, 7d, 2w, or never", kExitUsage);
  auto pem = ReadWholeFile(a.key);
  if (!pem.ok()) return Fail("cannot read " + a.key + ": " + pem.status().message());
  auth::TokenClaims claims;
  claims.databases = a.dbs;
  claims.read_only = a.read_only;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  claims.issued_at = now;
  if (*duration) claims.expires = now + **duration;
  auto token = auth::SignToken(*pem, auth::ClaimsJson(claims));
  if (!token.ok()) return Fail(a.key + ": " + token.status().message());
  std::printf("%s\n", token->c_str());
  return 0;
}

}  // namespace

void AddAuthCommands(CLI::App& app) {
  auto ka = std::make_shared<KeygenArgs>();
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Make an Ed25519 key pair for signing tokens (the server gets the public key)");
  keygen
      ->add_option("--private-key", ka->private_key,
                   "Where to write the private key (PEM, mode 0600)")
      ->capture_default_str();
  keygen->add_option("--public-key", ka->public_key, "Where to write the public key (PEM)")
      ->capture_default_str();
  keygen->add_flag("--force", ka->force, "Replace existing files");
  keygen->callback([ka] {
    const int rc = RunKeygen(*ka);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });

  CLI::App* token = app.add_subcommand("token", "Make tokens for clients");
  token->require_subcommand(1);
  auto ta = std::make_shared<TokenArgs>();
  CLI::App* create =
      token->add_subcommand("create", "Print a signed JWT to use as a client's authToken");
  create->add_option("--key", ta->key, "The private key from cairn keygen (PEM)")->required();
  create->add_option("--db", ta->dbs,
                     "A database the token may use (repeatable; none: every database)");
  create->add_flag("--read-only", ta->read_only, "The token may only read");
  create->add_option("--expires", ta->expires, "Validity: 30s, 15m, 1h, 7d, 2w, or never")
      ->capture_default_str();
  create->callback([ta] {
    const int rc = RunTokenCreate(*ta);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace cairn::cli
