#include "txlog/checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace cairn::txlog {

uint64_t PageHash(uint32_t pgno, const void* data, size_t page_size) {
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
