// The transaction log's file format: captured transactions (records), grouped into compressed,
// checksummed, immutable files. The same files are kept on local disk, uploaded to the object
// store, shipped to replicas and replayed by restore. A snapshot is a file holding one record
// with every page of the database. Layout and frozen constants: docs/txlog.md.
//
// Thread-safety: FileWriter and FileReader are used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cairn::txlog {

inline constexpr char kMagic[8] = {'C', 'A', 'I', 'R', 'N', 'L', 'O', 'G'};
inline constexpr uint32_t kVersion = 1;
inline constexpr size_t kHeaderSize = 96;
inline constexpr size_t kRecordHeaderSize = 40;
inline constexpr size_t kTrailerSize = 8;
inline constexpr uint32_t kFlagSnapshot = 1;

// A position in a database's history: after transaction `txid`, the database's checksum is
// `checksum`. Txid 0 is the empty database (checksum 0).
struct Position {
  uint64_t txid = 0;
  uint64_t checksum = 0;
  bool operator==(const Position&) const = default;
};

// One committed transaction, without its pages.
struct RecordHeader {
  uint64_t txid = 0;
  int64_t commit_time_us = 0;  // wall clock (µs since the epoch), non-decreasing per database
  uint32_t page_count = 0;     // database size after the commit, in pages
  uint32_t n_pages = 0;        // pages that follow
  uint64_t pre_checksum = 0;   // database checksum before (0 in a snapshot)
  uint64_t post_checksum = 0;  // and after
};

// One committed transaction with the pages it changed (ascending page numbers, no duplicates).
struct Record {
  RecordHeader h;
  std::vector<uint32_t> pgnos;
  std::string pages;  // pgnos.size() * page_size bytes, in the order of pgnos
};

struct FileHeader {
  uint32_t version = kVersion;
  uint32_t flags = 0;
  uint32_t page_size = 0;
  uint32_t record_count = 0;
  uint64_t min_txid = 0;
  uint64_t max_txid = 0;
  int64_t min_time_us = 0;
  int64_t max_time_us = 0;
  uint64_t pre_checksum = 0;   // before min_txid
  uint64_t post_checksum = 0;  // after max_txid
  uint32_t page_count = 0;     // after max_txid
  // Where the last record ended in the writer's WAL (salts and frame number). A hint for the
  // capturing server after a crash; meaningless elsewhere.
  uint32_t wal_salt1 = 0;
  uint32_t wal_salt2 = 0;
  uint32_t wal_frame = 0;

  bool snapshot() const { return (flags & kFlagSnapshot) != 0; }
  Position start() const { return {min_txid - 1, pre_checksum}; }
  Position end() const { return {max_txid, post_checksum}; }
};

// Builds one file. Records must be contiguous: each txid is the previous one + 1 and each
// pre_checksum the previous post_checksum (a snapshot holds exactly one record).
class FileWriter {
 public:
  FileWriter(uint32_t page_size, uint32_t flags = 0, int zstd_level = 1);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  Status Add(const Record& r);
  // Streaming form of Add, for records too large to hold (snapshots): the header, then exactly
  // h.n_pages pages in ascending order.
  Status BeginRecord(const RecordHeader& h);
  Status AddPage(uint32_t pgno, std::string_view data);

  bool empty() const { return header_.record_count == 0; }
  const FileHeader& header() const { return header_; }
  void SetWalHint(uint32_t salt1, uint32_t salt2, uint32_t frame);
  // The finished file: header, zstd frame of the records, trailer.
  Result<std::string> Finish();

 private:
  Status Write(const void* p, size_t n);
  Status Drain(bool end);
  struct Z;
  std::unique_ptr<Z> z_;
  FileHeader header_;
  uint32_t pages_left_ = 0;
  uint32_t last_pgno_ = 0;
  std::string staged_;      // uncompressed bytes not yet handed to zstd
  std::string compressed_;  // zstd output so far
};

// Reads one file, streaming its records. Open() checks the header and the whole-file checksum, so
// a damaged file is refused before anything is applied.
class FileReader {
 public:
  static Result<std::unique_ptr<FileReader>> Open(std::string_view file);
  // Reads and checks only the header (for listing and planning).
  static Result<FileHeader> ReadHeader(std::string_view file);
  ~FileReader();

  const FileHeader& header() const { return header_; }
  // The next record's header; false at the end of the file. Its pages must then be read with
  // NextPage (or are skipped by the next NextRecord).
  Result<bool> NextRecord(RecordHeader* h);
  // The next page of the current record; `data` stays valid until the next call.
  Status NextPage(uint32_t* pgno, std::string_view* data);
  // A whole record, pages included.
  Result<bool> ReadRecord(Record* r);

 private:
  FileReader() = default;
  Status Read(void* dst, size_t n);
  struct Z;
  std::unique_ptr<Z> z_;
  FileHeader header_;
  std::string_view input_;  // the compressed body
  size_t in_pos_ = 0;
  std::string out_;
  size_t out_pos_ = 0;
  bool stream_done_ = false;
  uint32_t records_read_ = 0;
  uint32_t pages_left_ = 0;
  uint32_t last_pgno_ = 0;
  uint64_t last_txid_ = 0;
  std::string page_;
};

// Joins consecutive files (each starting where the previous ended: next txid, same checksum, same
// page size, no snapshot) into one, without recompressing: the body of a file may be several zstd
// frames in a row. Checks every input's header and trailer first.
Result<std::string> ConcatFiles(const std::vector<std::string_view>& files, FileHeader* out = nullptr);

// Object/file names: "<min>-<max>-<maxtime>.clog" (txids as 16 hex digits, time as 16 hex digits
// of µs) for logs, "<txid>-<time>.csnap" for snapshots. Names sort by txid.
std::string LogFileName(const FileHeader& h);
std::string SnapshotFileName(const FileHeader& h);
struct ParsedName {
  bool snapshot = false;
  uint64_t min_txid = 0;
  uint64_t max_txid = 0;
  int64_t max_time_us = 0;
};
bool ParseFileName(std::string_view name, ParsedName* out);

}  // namespace cairn::txlog
