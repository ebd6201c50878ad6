// LocalStore: an ObjectStore in a local directory. The key "a/b/c" is the file <root>/a/b/c.
//
// Put writes a temporary file (".cairn-tmp.<random>") in the object's directory, fsyncs it, renames
// it over the key and fsyncs the directory, creating (and fsyncing) missing parent directories
// first: after Put returns the object survives a crash, and readers never see a partial object.
// A crash during Put can leave a temporary file behind; List ignores them and so may anyone.
// Delete removes the file and then any parent directories it left empty (never the root).
//
// On a file system a key cannot also be a directory: with "a/b" stored, Put("a") fails (kIOError),
// and Get("a") is kNotFound. Backups never lay keys out that way (docs/objectstore.md).
//
// Thread-safety: all methods may be called concurrently; the store keeps no state besides the root.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "objectstore/object_store.h"

namespace cairn::objectstore {

class LocalStore final : public ObjectStore {
 public:
  // `root` is an absolute directory path; it is created by the first Put if missing. Does no I/O.
  explicit LocalStore(std::string root);

  Status Put(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key) override;
  // Maps the file: objects are replaced by rename, never changed in place.
  Result<std::shared_ptr<const Blob>> GetBlob(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  std::string Describe() const override;  // "file:///abs/root"

  const std::string& root() const { return root_; }

 private:
  // Opens the object's file for reading (the caller owns *fd) and gives its size.
  Status OpenForRead(std::string_view key, std::string* path, int* fd, size_t* size) const;
  std::string PathOf(std::string_view key) const;
  // Creates `dir` (absolute, under or equal to the root) and its missing parents, fsyncing the
  // parent of every directory it creates.
  Status MakeDirs(const std::string& dir) const;

  std::string root_;  // absolute, no trailing '/' (except for "/" itself)
};

// Parses "file:///abs/dir" (percent-escapes decoded) or a plain path, relative paths being taken
// from the current directory, into an absolute directory path. kInvalidRequest if neither.
Result<std::string> LocalRootFromUrl(std::string_view url);

}  // namespace cairn::objectstore
