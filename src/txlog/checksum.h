// The rolling database checksum (LTX-style): XOR over every page of hash(page number, page bytes).
//
// Because XOR is its own inverse, a transaction updates the checksum by XORing out the old hash of
// each page it changes and XORing in the new one; every log record therefore carries the checksum
// of the whole database before and after it, and anyone who replays the log (restore, replicas)
// verifies the result exactly. The page hash is XXH3-64 of the page bytes seeded with the page
// number (frozen: see docs/txlog.md), with page 1's change counter and version-valid-for number
// (bytes 24..27 and 92..95, which SQLite rewrites itself on every write of page 1) read as zero.
// SQLite's lock page (the page holding byte 0x40000000) is never written and is skipped.
//
// Thread-safety: PageChecksums is a value; callers serialize access.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace cairn::txlog {

uint64_t PageHash(uint32_t pgno, const void* data, size_t page_size);

// The page number of SQLite's lock page for this page size.
inline uint32_t LockPage(uint32_t page_size) { return 0x40000000u / page_size + 1; }

// Per-page hashes of one database image and their XOR.
class PageChecksums {
 public:
  uint64_t checksum() const { return checksum_; }
  uint32_t page_count() const { return static_cast<uint32_t>(hashes_.size()); }

  // Sets page `pgno` (1-based) to `data`; grows the database if needed.
  void SetPage(uint32_t pgno, const void* data, uint32_t page_size);
  // Sets a page whose hash is already known.
  void SetPageHash(uint32_t pgno, uint64_t hash);
  // Shrinks (or grows with empty pages) the database to `pages` pages.
  void Resize(uint32_t pages);
  // The per-page hashes (index pgno-1; 0 for a page never set), and a table made from them.
  const std::vector<uint64_t>& hashes() const { return hashes_; }
  static PageChecksums FromHashes(std::vector<uint64_t> hashes);
  void Clear() {
    hashes_.clear();
    checksum_ = 0;
  }

 private:
  std::vector<uint64_t> hashes_;  // hashes_[pgno-1]; 0 for pages not present (never written)
  uint64_t checksum_ = 0;
};

}  // namespace cairn::txlog
