#include "txlog/format.h"

#include <zstd.h>

#include <cstring>

#include <fmt/format.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace cairn::txlog {
namespace {

constexpr size_t kStageBytes = 256 * 1024;

void Put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void Put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t Get32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Header layout (little-endian), kHeaderSize bytes:
//  0 magic[8]  8 version  12 flags  16 page_size  20 record_count  24 min_txid  32 max_txid
//  40 min_time_us  48 max_time_us  56 pre_checksum  64 post_checksum  72 page_count
//  76 wal_salt1  80 wal_salt2  84 wal_frame  88 xxh3(bytes 0..87)
void EncodeHeader(const FileHeader& h, char* p) {
  std::memcpy(p, kMagic, 8);
  Put32(p + 8, h.version);
  Put32(p + 12, h.flags);
  Put32(p + 16, h.page_size);
  Put32(p + 20, h.record_count);
  Put64(p + 24, h.min_txid);
  Put64(p + 32, h.max_txid);
  Put64(p + 40, static_cast<uint64_t>(h.min_time_us));
  Put64(p + 48, static_cast<uint64_t>(h.max_time_us));
  Put64(p + 56, h.pre_checksum);
  Put64(p + 64, h.post_checksum);
  Put32(p + 72, h.page_count);
  Put32(p + 76, h.wal_salt1);
  Put32(p + 80, h.wal_salt2);
  Put32(p + 84, h.wal_frame);
  Put64(p + 88, XXH3_64bits(p, 88));
}

Status Corrupt(const std::string& what) { return Status(Code::kCorruption, "log file: " + what); }

void EncodeRecordHeader(const RecordHeader& h, char* p) {
  Put64(p, h.txid);
  Put64(p + 8, static_cast<uint64_t>(h.commit_time_us));
  Put32(p + 16, h.page_count);
  Put32(p + 20, h.n_pages);
  Put64(p + 24, h.pre_checksum);
  Put64(p + 32, h.post_checksum);
}

bool ValidPageSize(uint32_t s) { return s >= 512 && s <= 65536 && (s & (s - 1)) == 0; }

}  // namespace

struct FileWriter::Z {
  ZSTD_CCtx* cctx = nullptr;
  ~Z() { ZSTD_freeCCtx(cctx); }
};

FileWriter::FileWriter(uint32_t page_size, uint32_t flags, int zstd_level) : z_(new Z) {
  header_.page_size = page_size;
  header_.flags = flags;
  z_->cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(z_->cctx, ZSTD_c_compressionLevel, zstd_level);
  ZSTD_CCtx_setParameter(z_->cctx, ZSTD_c_checksumFlag, 1);
  staged_.reserve(kStageBytes);
  compressed_.resize(kHeaderSize);  // the header's place: Finish fills it in, without a copy
}

FileWriter::~FileWriter() = default;

void FileWriter::SetWalHint(uint32_t salt1, uint32_t salt2, uint32_t frame) {
  header_.wal_salt1 = salt1;
  header_.wal_salt2 = salt2;
  header_.wal_frame = frame;
}

Status FileWriter::Drain(bool end) {
  ZSTD_inBuffer in{staged_.data(), staged_.size(), 0};
  const size_t chunk = ZSTD_CStreamOutSize();
  for (;;) {
    size_t old = compressed_.size();
    if (compressed_.capacity() < old + chunk) compressed_.reserve(std::max(2 * compressed_.capacity(), old + chunk));
    compressed_.resize(old + chunk);
    ZSTD_outBuffer out{compressed_.data() + old, chunk, 0};
    size_t rc = ZSTD_compressStream2(z_->cctx, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
    compressed_.resize(old + out.pos);
    if (ZSTD_isError(rc)) return Status(Code::kInternal, std::string("zstd: ") + ZSTD_getErrorName(rc));
    if (end ? rc == 0 : in.pos == in.size) break;
  }
  staged_.clear();
  return Status::Ok();
}

Status FileWriter::Write(const void* p, size_t n) {
  staged_.append(static_cast<const char*>(p), n);
  if (staged_.size() >= kStageBytes) return Drain(false);
  return Status::Ok();
}

Status FileWriter::BeginRecord(const RecordHeader& h) {
  if (pages_left_ != 0) return Status(Code::kInternal, "log writer: previous record incomplete");
  if (header_.snapshot() && header_.record_count != 0)
    return Status(Code::kInternal, "log writer: a snapshot holds one record");
  if (header_.record_count == 0) {
    header_.min_txid = h.txid;
    header_.min_time_us = h.commit_time_us;
    header_.pre_checksum = h.pre_checksum;
  } else {
    if (h.txid != header_.max_txid + 1)
      return Status(Code::kInternal, fmt::format("log writer: txid {} after {}", h.txid, header_.max_txid));
    if (h.pre_checksum != header_.post_checksum)
      return Status(Code::kInternal,
                    fmt::format("log writer: txid {} does not continue the checksum", h.txid));
  }
  // A snapshot's size is known: room for it at once, instead of growing (and copying) a large
  // buffer step by step. Pages never written to are never touched.
  if (header_.snapshot())
    compressed_.reserve(kHeaderSize + ZSTD_compressBound(size_t{h.n_pages} * (header_.page_size + 4) + kRecordHeaderSize) +
                        kTrailerSize);
  header_.max_txid = h.txid;
  header_.max_time_us = std::max(header_.max_time_us, h.commit_time_us);
  header_.post_checksum = h.post_checksum;
  header_.page_count = h.page_count;
  ++header_.record_count;
  pages_left_ = h.n_pages;
  last_pgno_ = 0;
  char buf[kRecordHeaderSize];
  EncodeRecordHeader(h, buf);
  return Write(buf, sizeof buf);
}

Status FileWriter::AddPage(uint32_t pgno, std::string_view data) {
  if (pages_left_ == 0) return Status(Code::kInternal, "log writer: page outside a record");
  if (pgno <= last_pgno_ || data.size() != header_.page_size)
    return Status(Code::kInternal, fmt::format("log writer: bad page {}", pgno));
  --pages_left_;
  last_pgno_ = pgno;
  char buf[4];
  Put32(buf, pgno);
  CAIRN_RETURN_IF_ERROR(Write(buf, 4));
  return Write(data.data(), data.size());
}

Status FileWriter::Add(const Record& r) {
  if (r.pgnos.size() != r.h.n_pages || r.pages.size() != size_t{r.h.n_pages} * header_.page_size)
    return Status(Code::kInternal, "log writer: record pages do not match its header");
  CAIRN_RETURN_IF_ERROR(BeginRecord(r.h));
  for (size_t i = 0; i < r.pgnos.size(); ++i)
    CAIRN_RETURN_IF_ERROR(AddPage(
        r.pgnos[i], std::string_view(r.pages).substr(i * header_.page_size, header_.page_size)));
  return Status::Ok();
}

Result<std::string> FileWriter::Finish() {
  if (pages_left_ != 0) return Status(Code::kInternal, "log writer: last record incomplete");
  if (header_.record_count == 0) return Status(Code::kInternal, "log writer: no records");
  CAIRN_RETURN_IF_ERROR(Drain(true));
  std::string out = std::move(compressed_);
  compressed_.clear();
  EncodeHeader(header_, out.data());
  char trailer[kTrailerSize];
  Put64(trailer, XXH3_64bits(out.data(), out.size()));
  out.append(trailer, sizeof trailer);
  return out;
}

struct FileReader::Z {
  ZSTD_DCtx* dctx = nullptr;
  ~Z() { ZSTD_freeDCtx(dctx); }
};

FileReader::~FileReader() = default;

Result<FileHeader> FileReader::ReadHeader(std::string_view file) {
  if (file.size() < kHeaderSize) return Corrupt("shorter than its header");
  const char* p = file.data();
  if (std::memcmp(p, kMagic, 8) != 0) return Corrupt("bad magic");
  if (Get64(p + 88) != XXH3_64bits(p, 88)) return Corrupt("header checksum mismatch");
  FileHeader h;
  h.version = Get32(p + 8);
  if (h.version != kVersion) return Corrupt(fmt::format("unsupported version {}", h.version));
  h.flags = Get32(p + 12);
  h.page_size = Get32(p + 16);
  h.record_count = Get32(p + 20);
  h.min_txid = Get64(p + 24);
  h.max_txid = Get64(p + 32);
  h.min_time_us = static_cast<int64_t>(Get64(p + 40));
  h.max_time_us = static_cast<int64_t>(Get64(p + 48));
  h.pre_checksum = Get64(p + 56);
  h.post_checksum = Get64(p + 64);
  h.page_count = Get32(p + 72);
  h.wal_salt1 = Get32(p + 76);
  h.wal_salt2 = Get32(p + 80);
  h.wal_frame = Get32(p + 84);
  if (!ValidPageSize(h.page_size)) return Corrupt(fmt::format("bad page size {}", h.page_size));
  if (h.record_count == 0 || h.min_txid == 0 || h.max_txid < h.min_txid ||
      h.max_txid - h.min_txid + 1 != h.record_count)
    return Corrupt("inconsistent transaction range");
  return h;
}

Result<std::unique_ptr<FileReader>> FileReader::Open(std::string_view file) {
  CAIRN_ASSIGN_OR_RETURN(FileHeader h, ReadHeader(file));
  if (file.size() < kHeaderSize + kTrailerSize) return Corrupt("truncated");
  const size_t body_end = file.size() - kTrailerSize;
  if (Get64(file.data() + body_end) != XXH3_64bits(file.data(), body_end))
    return Corrupt("file checksum mismatch (damaged or truncated)");
  std::unique_ptr<FileReader> r(new FileReader);
  r->header_ = h;
  r->input_ = file.substr(kHeaderSize, body_end - kHeaderSize);
  r->z_.reset(new Z);
  r->z_->dctx = ZSTD_createDCtx();
  r->page_.resize(h.page_size);
  return r;
}

Status FileReader::Read(void* dst, size_t n) {
  char* d = static_cast<char*>(dst);
  while (n > 0) {
    if (out_pos_ < out_.size()) {
      size_t k = std::min(n, out_.size() - out_pos_);
      std::memcpy(d, out_.data() + out_pos_, k);
      out_pos_ += k;
      d += k;
      n -= k;
      continue;
    }
    if (stream_done_) return Corrupt("records end early");
    out_.resize(ZSTD_DStreamOutSize());
    ZSTD_inBuffer in{input_.data(), input_.size(), in_pos_};
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    size_t rc = ZSTD_decompressStream(z_->dctx, &out, &in);
    if (ZSTD_isError(rc)) return Corrupt(std::string("zstd: ") + ZSTD_getErrorName(rc));
    in_pos_ = in.pos;
    out_.resize(out.pos);
    out_pos_ = 0;
    // A body may hold several zstd frames (ConcatFiles); it ends with the input.
    if (rc == 0 && in.pos == in.size) stream_done_ = true;
    else if (rc != 0 && out.pos == 0 && in.pos == in.size) return Corrupt("compressed body truncated");
  }
  return Status::Ok();
}

Result<bool> FileReader::NextRecord(RecordHeader* h) {
  while (pages_left_ > 0) {
    uint32_t pgno;
    std::string_view data;
    CAIRN_RETURN_IF_ERROR(NextPage(&pgno, &data));
  }
  if (records_read_ == header_.record_count) return false;
  char buf[kRecordHeaderSize];
  CAIRN_RETURN_IF_ERROR(Read(buf, sizeof buf));
  h->txid = Get64(buf);
  h->commit_time_us = static_cast<int64_t>(Get64(buf + 8));
  h->page_count = Get32(buf + 16);
  h->n_pages = Get32(buf + 20);
  h->pre_checksum = Get64(buf + 24);
  h->post_checksum = Get64(buf + 32);
  const uint64_t want = records_read_ == 0 ? header_.min_txid : last_txid_ + 1;
  if (h->txid != want) return Corrupt(fmt::format("record txid {} where {} was expected", h->txid, want));
  if (h->n_pages > h->page_count) return Corrupt(fmt::format("record {} has too many pages", h->txid));
  last_txid_ = h->txid;
  ++records_read_;
  pages_left_ = h->n_pages;
  last_pgno_ = 0;
  return true;
}

Status FileReader::NextPage(uint32_t* pgno, std::string_view* data) {
  if (pages_left_ == 0) return Status(Code::kInternal, "log reader: no page left in the record");
  char buf[4];
  CAIRN_RETURN_IF_ERROR(Read(buf, 4));
  *pgno = Get32(buf);
  if (*pgno <= last_pgno_) return Corrupt(fmt::format("page {} out of order", *pgno));
  last_pgno_ = *pgno;
  // Zero-copy when the page lies whole in the decompressed buffer.
  if (out_.size() - out_pos_ >= header_.page_size) {
    *data = std::string_view(out_.data() + out_pos_, header_.page_size);
    out_pos_ += header_.page_size;
  } else {
    CAIRN_RETURN_IF_ERROR(Read(page_.data(), header_.page_size));
    *data = page_;
  }
  --pages_left_;
  return Status::Ok();
}

Result<bool> FileReader::ReadRecord(Record* r) {
  CAIRN_ASSIGN_OR_RETURN(bool more, NextRecord(&r->h));
  if (!more) return false;
  r->pgnos.clear();
  r->pages.clear();
  r->pgnos.reserve(r->h.n_pages);
  r->pages.reserve(size_t{r->h.n_pages} * header_.page_size);
  for (uint32_t i = 0; i < r->h.n_pages; ++i) {
    uint32_t pgno;
    std::string_view data;
    CAIRN_RETURN_IF_ERROR(NextPage(&pgno, &data));
    r->pgnos.push_back(pgno);
    r->pages.append(data);
  }
  return true;
}

Result<std::string> ConcatFiles(const std::vector<std::string_view>& files, FileHeader* out) {
  if (files.empty()) return Status(Code::kInternal, "nothing to join");
  FileHeader h;
  size_t total = kHeaderSize + kTrailerSize;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string_view f = files[i];
    CAIRN_ASSIGN_OR_RETURN(FileHeader fh, FileReader::ReadHeader(f));
    if (f.size() < kHeaderSize + kTrailerSize ||
        Get64(f.data() + f.size() - kTrailerSize) != XXH3_64bits(f.data(), f.size() - kTrailerSize))
      return Corrupt(fmt::format("file {} of {} is damaged", i + 1, files.size()));
    if (fh.snapshot()) return Status(Code::kInternal, "snapshots are not joined");
    if (i == 0) {
      h = fh;
      h.record_count = 0;
    } else if (fh.min_txid != h.max_txid + 1 || fh.pre_checksum != h.post_checksum ||
               fh.page_size != h.page_size) {
      return Status(Code::kInternal, fmt::format("log files do not follow each other at txid {}", fh.min_txid));
    }
    h.max_txid = fh.max_txid;
    h.max_time_us = std::max(h.max_time_us, fh.max_time_us);
    h.post_checksum = fh.post_checksum;
    h.page_count = fh.page_count;
    h.wal_salt1 = fh.wal_salt1;
    h.wal_salt2 = fh.wal_salt2;
    h.wal_frame = fh.wal_frame;
    h.record_count += fh.record_count;
    total += f.size() - kHeaderSize - kTrailerSize;
  }
  std::string outb;
  outb.reserve(total);
  outb.resize(kHeaderSize);
  EncodeHeader(h, outb.data());
  for (std::string_view f : files) outb.append(f.substr(kHeaderSize, f.size() - kHeaderSize - kTrailerSize));
  char trailer[kTrailerSize];
  Put64(trailer, XXH3_64bits(outb.data(), outb.size()));
  outb.append(trailer, sizeof trailer);
  if (out) *out = h;
  return outb;
}

std::string LogFileName(const FileHeader& h) {
  return fmt::format("{:016x}-{:016x}-{:016x}.clog", h.min_txid, h.max_txid,
                     static_cast<uint64_t>(h.max_time_us));
}

std::string SnapshotFileName(const FileHeader& h) {
  return fmt::format("{:016x}-{:016x}.csnap", h.max_txid, static_cast<uint64_t>(h.max_time_us));
}

namespace {
bool ParseHex16(std::string_view s, uint64_t* v) {
  if (s.size() != 16) return false;
  uint64_t x = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return false;
    x = (x << 4) | static_cast<uint64_t>(d);
  }
  *v = x;
  return true;
}
}  // namespace

bool ParseFileName(std::string_view name, ParsedName* out) {
  uint64_t a, b, c;
  if (name.size() == 16 * 3 + 2 + 5 && name.substr(50) == ".clog" && name[16] == '-' && name[33] == '-' &&
      ParseHex16(name.substr(0, 16), &a) && ParseHex16(name.substr(17, 16), &b) &&
      ParseHex16(name.substr(34, 16), &c) && a >= 1 && b >= a) {
    *out = {false, a, b, static_cast<int64_t>(c)};
    return true;
  }
  if (name.size() == 16 * 2 + 1 + 6 && name.substr(33) == ".csnap" && name[16] == '-' &&
      ParseHex16(name.substr(0, 16), &a) && ParseHex16(name.substr(17, 16), &c) && a >= 1) {
    *out = {true, a, a, static_cast<int64_t>(c)};
    return true;
  }
  return false;
}

}  // namespace cairn::txlog
