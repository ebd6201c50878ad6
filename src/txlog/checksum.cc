#include "txlog/checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>
#include <vector>

namespace cairn::txlog {

uint64_t PageHash(uint32_t pgno, const void* data, size_t page_size) {
  if (pgno == 1 && page_size >= 100) {
    // SQLite rewrites the file change counter (bytes 24..27) and the version-valid-for number
    // (92..95) itself whenever it writes page 1, from its own cached counter: a replica applying
    // the primary's page 1 gets its own values there. They are not part of the content.
    thread_local std::vector<unsigned char> copy;
    copy.assign(static_cast<const unsigned char*>(data), static_cast<const unsigned char*>(data) + page_size);
    std::memset(copy.data() + 24, 0, 4);
    std::memset(copy.data() + 92, 0, 4);
    return XXH3_64bits_withSeed(copy.data(), page_size, pgno);
  }
  return XXH3_64bits_withSeed(data, page_size, pgno);
}

void PageChecksums::SetPageHash(uint32_t pgno, uint64_t hash) {
  if (pgno > hashes_.size()) hashes_.resize(pgno, 0);
  uint64_t& h = hashes_[pgno - 1];
  checksum_ ^= h ^ hash;
  h = hash;
}

void PageChecksums::SetPage(uint32_t pgno, const void* data, uint32_t page_size) {
  if (pgno == LockPage(page_size)) return;
  SetPageHash(pgno, PageHash(pgno, data, page_size));
}

PageChecksums PageChecksums::FromHashes(std::vector<uint64_t> hashes) {
  PageChecksums t;
  for (uint64_t h : hashes) t.checksum_ ^= h;
  t.hashes_ = std::move(hashes);
  return t;
}

void PageChecksums::Resize(uint32_t pages) {
  for (size_t i = pages; i < hashes_.size(); ++i) checksum_ ^= hashes_[i];
  hashes_.resize(pages, 0);
}

}  // namespace cairn::txlog
