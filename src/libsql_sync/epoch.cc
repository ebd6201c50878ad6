#include "libsql_sync/epoch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <xxhash.h>

#include "base/file.h"
#include "libsql_sync/protocol.h"

namespace cairn::libsql_sync {

namespace {

constexpr size_t kEndSize = 32;  // one index entry
// SQLite never writes the page holding the byte at 1 GiB (its lock byte), and neither do we.
constexpr uint32_t kLockPage = (uint32_t{1} << 30) / kPageSize + 1;
// What one Extend reads from the log at most; the rest waits for the next request.
constexpr size_t kExtendBytes = size_t{64} << 20;
// The newest frames kept in memory for answers.
constexpr size_t kTailBytes = size_t{8} << 20;  // one full answer

Status Errno(const std::string& what) {
  return Status(Code::kInternal, what + ": " + std::strerror(errno));
}

Status WriteAll(int fd, const char* p, size_t n, off_t at, const std::string& what) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, at);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno(what);
    }
    p += w;
    n -= static_cast<size_t>(w);
    at += w;
  }
  return Status::Ok();
}

void PutLE(char* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

uint64_t GetLE(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

void EncodeEnd(const Epoch::End& e, char* out) {
  PutLE(out, e.txid, 8);
  PutLE(out + 8, e.last_frame, 4);
  PutLE(out + 12, e.page_count, 4);
  PutLE(out + 16, e.checksum, 8);
  PutLE(out + 24, e.frames_hash, 8);
}

Epoch::End DecodeEnd(const char* p) {
  Epoch::End e;
  e.txid = GetLE(p, 8);
  e.last_frame = static_cast<uint32_t>(GetLE(p + 8, 4));
  e.page_count = static_cast<uint32_t>(GetLE(p + 12, 4));
  e.checksum = GetLE(p + 16, 8);
  e.frames_hash = GetLE(p + 24, 8);
  return e;
}

std::string StatePath(const std::string& dir) { return dir + "/state"; }
std::string FramesPath(const std::string& dir, uint32_t g) {
  return fmt::format("{}/frames-{}", dir, g);
}
std::string IndexPath(const std::string& dir, uint32_t g) {
  return fmt::format("{}/index-{}", dir, g);
}

// Writes the image's pages as frames, as ReadImage gives them.
class ImageWriter : public engine::Database::ImageVisitor {
 public:
  explicit ImageWriter(int fd) : fd_(fd) {}
  Status Begin(const engine::Database::Image& img) override {
    if (img.page_size != kPageSize)
      return Status(Code::kInvalidRequest,
                    fmt::format("embedded replicas need 4096-byte pages; this database has {}-byte "
                                "pages",
                                img.page_size));
    return Status::Ok();
  }
  Status Page(uint32_t pgno, std::string_view data) override {
    if (pgno == kLockPage) return Status::Ok();
    if (data.size() != kPageSize) return Status(Code::kInternal, "a page of the wrong size");
    const size_t at = buf_.size();
    buf_.resize(at + kFrameSize);
    PutFrameHeader(buf_.data() + at, pgno, 0);
    std::memcpy(buf_.data() + at + kFrameHeaderSize, data.data(), kPageSize);
    ++frames_;
    if (buf_.size() >= (size_t{1} << 20)) return Drain();
    return Status::Ok();
  }
  Status Drain() {
    CAIRN_RETURN_IF_ERROR(WriteAll(fd_, buf_.data(), buf_.size(), written_, "write frames"));
    written_ += static_cast<off_t>(buf_.size());
    buf_.clear();
    return Status::Ok();
  }
  uint32_t frames() const { return frames_; }

 private:
  const int fd_;
  std::string buf_;
  off_t written_ = 0;
  uint32_t frames_ = 0;
};

}  // namespace

std::optional<EpochState> ReadEpochState(const std::string& dir) {
  Result<std::string> text = ReadWholeFile(StatePath(dir));
  if (!text.ok()) return std::nullopt;
  EpochState s;
  bool magic = false;
  size_t pos = 0;
  const std::string& t = *text;
  while (pos < t.size()) {
    size_t nl = t.find('\n', pos);
    if (nl == std::string::npos) nl = t.size();
    const std::string line = t.substr(pos, nl - pos);
    pos = nl + 1;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos) continue;
    const std::string key = line.substr(0, sp), value = line.substr(sp + 1);
    if (key == "cairn-libsql-sync") magic = value == "1";
    if (key == "generation")
      s.generation = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    if (key == "lineage") s.lineage = value;
    if (key == "start_txid") s.start_txid = std::strtoull(value.c_str(), nullptr, 10);
  }
  if (!magic || s.generation == 0 || s.lineage.empty()) return std::nullopt;
  return s;
}

Epoch::~Epoch() {
  if (frames_fd_ >= 0) ::close(frames_fd_);
  if (index_fd_ >= 0) ::close(index_fd_);
}

Status Epoch::OpenFiles(bool create) {
  const int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
  frames_fd_ = ::open(FramesPath(dir_, state_.generation).c_str(), flags, 0644);
  if (frames_fd_ < 0) return Errno("open " + FramesPath(dir_, state_.generation));
  index_fd_ = ::open(IndexPath(dir_, state_.generation).c_str(), flags, 0644);
  if (index_fd_ < 0) return Errno("open " + IndexPath(dir_, state_.generation));
  return Status::Ok();
}

Result<std::unique_ptr<Epoch>> Epoch::Create(const std::string& dir, uint32_t generation,
                                             engine::Database* db) {
  CAIRN_RETURN_IF_ERROR(MakeDirs(dir));
  std::unique_ptr<Epoch> e(new Epoch(dir));
  e->state_.generation = generation;
  CAIRN_RETURN_IF_ERROR(e->OpenFiles(/*create=*/true));
  ImageWriter writer(e->frames_fd_);
  CAIRN_ASSIGN_OR_RETURN(engine::Database::Image img, db->ReadImage(&writer));
  if (img.position.txid != 0 && img.checksum != img.position.checksum)
    return Status(Code::kInternal,
                  fmt::format("database {} does not match its log (checksum {:016x}, log {:016x})",
                              db->name(), img.checksum, img.position.checksum));
  CAIRN_RETURN_IF_ERROR(writer.Drain());
  if (writer.frames() == 0) return Status(Code::kInternal, "the database image has no pages");
  if (::fdatasync(e->frames_fd_) != 0) return Errno("fdatasync frames");
  e->state_.lineage = img.generation;
  e->state_.start_txid = img.position.txid;
  End image{img.position.txid, writer.frames(), img.page_count, img.position.checksum};
  char buf[kEndSize];
  EncodeEnd(image, buf);
  CAIRN_RETURN_IF_ERROR(WriteAll(e->index_fd_, buf, kEndSize, 0, "write index"));
  if (::fdatasync(e->index_fd_) != 0) return Errno("fdatasync index");
  e->ends_.push_back(image);
  CAIRN_RETURN_IF_ERROR(WriteFileDurably(
      StatePath(dir), fmt::format("cairn-libsql-sync 1\ngeneration {}\nlineage {}\nstart_txid {}\n",
                                  generation, e->state_.lineage, e->state_.start_txid)));
  // The generations before this one are no longer served.
  if (auto names = ListDir(dir); names.ok()) {
    for (const std::string& n : *names) {
      if (n == "state" || n == fmt::format("frames-{}", generation) ||
          n == fmt::format("index-{}", generation))
        continue;
      (void)RemoveFile(dir + "/" + n);
    }
  }
  return e;
}

Result<std::unique_ptr<Epoch>> Epoch::Load(const std::string& dir, txlog::TxLog* log) {
  std::optional<EpochState> state = ReadEpochState(dir);
  if (!state) return Status(Code::kNotFound, "no generation kept");
  if (state->lineage != log->generation())
    return Status(Code::kNotFound, "the database's log started a new generation");
  std::unique_ptr<Epoch> e(new Epoch(dir));
  e->state_ = *state;
  if (!e->OpenFiles(/*create=*/false).ok()) return Status(Code::kNotFound, "files missing");
  struct stat st;
  if (::fstat(e->index_fd_, &st) != 0) return Errno("stat index");
  std::string index(static_cast<size_t>(st.st_size) / kEndSize * kEndSize, '\0');
  if (!index.empty() &&
      ::pread(e->index_fd_, index.data(), index.size(), 0) != static_cast<ssize_t>(index.size()))
    return Errno("read index");
  if (::fstat(e->frames_fd_, &st) != 0) return Errno("stat frames");
  const uint64_t frames_kept = static_cast<uint64_t>(st.st_size) / kFrameSize;
  for (size_t at = 0; at < index.size(); at += kEndSize) {
    End end = DecodeEnd(index.data() + at);
    // An entry is written after its frames were made durable: one past the frames is torn.
    if (end.last_frame > frames_kept) break;
    if (!e->ends_.empty() &&
        (end.txid != e->ends_.back().txid + 1 || end.last_frame <= e->ends_.back().last_frame))
      break;
    e->ends_.push_back(end);
  }
  if (e->ends_.empty() || e->ends_.front().txid != state->start_txid)
    return Status(Code::kNotFound, "the index is damaged");
  // Frames are written without a sync: check each transaction's against its durable entry. One
  // that a crash lost or tore means clients may hold what is no longer here: a new generation.
  {
    std::string chunk;
    for (size_t i = 1; i < e->ends_.size(); ++i) {
      const uint32_t from = e->ends_[i - 1].last_frame;  // frames (from, last_frame]
      const size_t bytes = size_t{e->ends_[i].last_frame - from} * kFrameSize;
      chunk.resize(bytes);
      if (::pread(e->frames_fd_, chunk.data(), bytes, static_cast<off_t>(from) * kFrameSize) !=
              static_cast<ssize_t>(bytes) ||
          XXH3_64bits(chunk.data(), bytes) != e->ends_[i].frames_hash)
        return Status(Code::kNotFound,
                      fmt::format("the frames of txid {} were lost in a crash", e->ends_[i].txid));
    }
  }
  // Drop what a crash left after the last complete transaction.
  if (::ftruncate(e->frames_fd_, static_cast<off_t>(e->last_frame()) * kFrameSize) != 0 ||
      ::ftruncate(e->index_fd_, static_cast<off_t>(e->ends_.size() * kEndSize)) != 0)
    return Errno("truncate");
  // The last transaction must still be the log's: a power loss can take back transactions the log
  // had captured but not yet made durable, and new ones would then reuse their txids.
  const End& last = e->ends_.back();
  const txlog::Position captured = log->captured();
  if (last.txid > captured.txid)
    return Status(Code::kNotFound, "the log no longer has this generation's last transaction");
  if (last.txid == captured.txid) {
    if (last.checksum != captured.checksum)
      return Status(Code::kNotFound, "the log's history differs from this generation's");
  } else if (last.txid > 0) {
    auto recs = log->RecordsAfter(e->state_.lineage, last.txid - 1, 1);
    if (recs.ok() && !recs->empty() &&
        (recs->front().h.txid != last.txid || recs->front().h.post_checksum != last.checksum))
      return Status(Code::kNotFound, "the log's history differs from this generation's");
    // Not kept any more: nothing says otherwise (and Extend finds out whether it can go on).
  }
  return e;
}

Status Epoch::Append(const std::vector<txlog::Record>& records) {
  std::string buf;
  std::vector<End> ends;
  uint32_t frame = last_frame();
  uint64_t txid = last_txid();
  for (const txlog::Record& r : records) {
    const size_t first = buf.size();
    if (r.h.txid != txid + 1)
      return Status(Code::kInternal, fmt::format("the log gave txid {} after {}", r.h.txid, txid));
    if (r.pages.size() != r.pgnos.size() * kPageSize)
      return Status(Code::kInternal, "a record with pages of the wrong size");
    if (r.pgnos.empty()) return Status(Code::kInternal, "a record without pages");
    for (size_t i = 0; i < r.pgnos.size(); ++i) {
      const size_t at = buf.size();
      buf.resize(at + kFrameSize);
      PutFrameHeader(buf.data() + at, r.pgnos[i], 0);
      std::memcpy(buf.data() + at + kFrameHeaderSize, r.pages.data() + i * kPageSize, kPageSize);
    }
    if (uint64_t{frame} + r.pgnos.size() > UINT32_MAX)
      return Status(Code::kInternal, "this generation has no frame numbers left");
    frame += static_cast<uint32_t>(r.pgnos.size());
    txid = r.h.txid;
    ends.push_back(End{txid, frame, r.h.page_count, r.h.post_checksum,
                       XXH3_64bits(buf.data() + first, buf.size() - first)});
  }
  if (ends.empty()) return Status::Ok();
  // The frames are not synced (a durable write of every page again would cost more than the rest
  // of a sync): their index entries are, and carry their hash, which Load checks — frames a crash
  // lost end the generation there.
  CAIRN_RETURN_IF_ERROR(WriteAll(frames_fd_, buf.data(), buf.size(),
                                 static_cast<off_t>(last_frame()) * kFrameSize, "write frames"));
  std::string index(ends.size() * kEndSize, '\0');
  for (size_t i = 0; i < ends.size(); ++i) EncodeEnd(ends[i], index.data() + i * kEndSize);
  CAIRN_RETURN_IF_ERROR(WriteAll(index_fd_, index.data(), index.size(),
                                 static_cast<off_t>(ends_.size() * kEndSize), "write index"));
  if (::fdatasync(index_fd_) != 0) return Errno("fdatasync index");
  const uint32_t first_new = last_frame() + 1;
  ends_.insert(ends_.end(), ends.begin(), ends.end());
  // Keep the newest frames for answers: what was kept, if it still ends where these begin.
  if (tail_.empty() || tail_first_ + tail_.size() / kFrameSize != first_new) {
    tail_.clear();
    tail_first_ = first_new;
  }
  tail_.append(buf);
  if (tail_.size() > kTailBytes) {
    const size_t drop = (tail_.size() - kTailBytes + kFrameSize - 1) / kFrameSize;
    tail_.erase(0, drop * kFrameSize);
    tail_first_ += static_cast<uint32_t>(drop);
  }
  return Status::Ok();
}

Status Epoch::Extend(txlog::TxLog* log) {
  size_t taken = 0;
  while (taken < kExtendBytes) {
    auto recs = log->RecordsAfter(state_.lineage, last_txid(), size_t{8} << 20);
    if (!recs.ok())
      return Status(Code::kNotFound, "this generation cannot continue: " + recs.status().message());
    if (recs->empty()) break;
    for (const txlog::Record& r : *recs) taken += r.pages.size();
    CAIRN_RETURN_IF_ERROR(Append(*recs));
  }
  return Status::Ok();
}

Result<std::string> Epoch::Read(uint32_t start, uint32_t max_frames) const {
  if (start == 0 || start > last_frame() || max_frames == 0)
    return Status(Code::kInvalidRequest, "no such frames");
  const uint32_t last =
      static_cast<uint32_t>(std::min<uint64_t>(last_frame(), uint64_t{start} + max_frames - 1));
  // The last transaction ending inside [start, last].
  auto it = std::upper_bound(ends_.begin(), ends_.end(), last,
                             [](uint32_t f, const End& e) { return f < e.last_frame; });
  const End* cut = nullptr;
  if (it != ends_.begin() && std::prev(it)->last_frame >= start) cut = &*std::prev(it);
  const uint32_t through = cut != nullptr ? cut->last_frame : last;
  const size_t n = size_t{through - start + 1};
  std::string out;
  if (!tail_.empty() && start >= tail_first_) {
    // The newest frames, kept in memory since they were appended.
    out = tail_.substr(size_t{start - tail_first_} * kFrameSize, n * kFrameSize);
  } else {
    out.assign(n * kFrameSize, '\0');
    size_t got = 0;
    while (got < out.size()) {
      const ssize_t r =
          ::pread(frames_fd_, out.data() + got, out.size() - got,
                  static_cast<off_t>(start - 1) * kFrameSize + static_cast<off_t>(got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return Errno("read frames");
      got += static_cast<size_t>(r);
    }
  }
  if (cut != nullptr) {
    char* f = out.data() + (n - 1) * kFrameSize;
    PutFrameHeader(f, FramePgno(f), cut->page_count);
  }
  return out;
}

}  // namespace cairn::libsql_sync
