// Reading SQLite's write-ahead log (the "-wal" file) from outside SQLite: its header, its frames,
// and — after a crash — which frames form valid committed transactions (salts and checksum chain,
// exactly as SQLite's own recovery decides). Format: https://sqlite.org/fileformat2.html#walformat
//
// Thread-safety: a WalFile is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace cairn::txlog {

inline constexpr size_t kWalHeaderSize = 32;
inline constexpr size_t kWalFrameHeaderSize = 24;

struct WalHeader {
  uint32_t magic = 0;
  uint32_t page_size = 0;
  uint32_t checkpoint_seq = 0;
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  uint32_t cksum1 = 0;
  uint32_t cksum2 = 0;
};

struct WalFrame {
  uint32_t pgno = 0;
  uint32_t commit_size = 0;  // database size in pages after the commit, on a commit frame; else 0
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  const char* page = nullptr;  // page_size bytes
};

class WalFile {
 public:
  WalFile() = default;
  explicit WalFile(std::string path) : path_(std::move(path)) {}
  ~WalFile();
  WalFile(const WalFile&) = delete;
  WalFile& operator=(const WalFile&) = delete;

  // The header; false when the file is missing or shorter than a header (no WAL content).
  Result<bool> ReadHeader(WalHeader* h);
  // Frames first..last (1-based, inclusive) as raw bytes into *buf, parsed into *frames (pointing
  // into *buf).
  Status ReadFrames(uint32_t first, uint32_t last, uint32_t page_size, std::string* buf,
                    std::vector<WalFrame>* frames);
  // The number of frames SQLite's recovery would accept: frames whose salts match the header and
  // whose checksum chain is intact, up to the last commit frame among them.
  Result<uint32_t> ValidFrames(const WalHeader& h);
  void Close();

 private:
  Status EnsureOpen();
  std::string path_;
  int fd_ = -1;
};

}  // namespace cairn::txlog
