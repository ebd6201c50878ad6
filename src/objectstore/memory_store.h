// InMemoryStore: an ObjectStore in a map, for fast unit tests of the components that write to a
// store. It applies the same key rules as the real backends, so a test cannot pass here with keys
// a real store would refuse.
//
// Thread-safety: all methods may be called concurrently (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "objectstore/object_store.h"

namespace cairn::objectstore {

class InMemoryStore final : public ObjectStore {
 public:
  Status Put(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  std::string Describe() const override { return "memory:"; }

  // Number of objects stored.
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> objects_;  // guarded by mu_
};

}  // namespace cairn::objectstore
