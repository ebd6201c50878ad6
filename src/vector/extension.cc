// Registration on a connection, as an automatic extension, and the loadable-extension entry point.
#include "vector/internal.h"
#include "vector/vector.h"

#ifdef CAIRN_VECTOR_LOADABLE
SQLITE_EXTENSION_INIT1
#else
#include <mutex>
#endif

namespace cairn::vector {

int Register(sqlite3* db) {
  int rc = RegisterFunctions(db);
  if (rc == SQLITE_OK) rc = RegisterIndexModule(db);
  if (rc == SQLITE_OK) rc = RegisterTopKModule(db);
  if (rc == SQLITE_OK) rc = RegisterTopKExactModule(db);
  return rc;
}

#ifndef CAIRN_VECTOR_LOADABLE
namespace {
int AutoInit(sqlite3* db, const char** /*err*/, const struct sqlite3_api_routines* /*api*/) {
  return Register(db);
}
}  // namespace

void RegisterAutoExtension() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_auto_extension(reinterpret_cast<void (*)()>(&AutoInit)); });
}
#endif

}  // namespace cairn::vector

#ifdef CAIRN_VECTOR_LOADABLE
// `.load cairn_vector` in the sqlite3 shell, or sqlite3_load_extension(db, "…/cairn_vector", 0).
extern "C" __attribute__((visibility("default"))) int sqlite3_cairnvector_init(
    sqlite3* db, char** err, const sqlite3_api_routines* api) {
  SQLITE_EXTENSION_INIT2(api);
  const int rc = cairn::vector::Register(db);
  if (rc != SQLITE_OK && err != nullptr)
    *err = sqlite3_mprintf("cairn_vector: registration failed");
  return rc;
}
#endif
