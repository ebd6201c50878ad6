// Small file-system helpers shared by components that keep durable files (txlog, backups).
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cairn {

// Writes `data` to `path` so that after a crash the file is either absent/old or complete:
// temporary file in the same directory, fsync, rename, fsync of the directory.
Status WriteFileDurably(const std::string& path, std::string_view data);
// The same without syncing: after a crash the file is old or new (rename is atomic), but a new
// one may be lost. For files that are only hints.
Status WriteFileAtomic(const std::string& path, std::string_view data);
Result<std::string> ReadWholeFile(const std::string& path);
// Creates `path` and its missing parents.
Status MakeDirs(const std::string& path);
// Names in a directory (no "." or ".."), sorted; kNotFound when it does not exist.
Result<std::vector<std::string>> ListDir(const std::string& path);
// Removes a file; ok when it did not exist.
Status RemoveFile(const std::string& path);
// Removes a directory tree; ok when it did not exist.
Status RemoveTree(const std::string& path);
Status SyncDir(const std::string& path);
// fdatasync of an existing file.
Status SyncFile(const std::string& path);

}  // namespace cairn
