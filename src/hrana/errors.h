// The one place where Cairn's failure codes become Hrana error codes and HTTP statuses.
#pragma once

#include <string_view>

#include "base/json_writer.h"
#include "base/status.h"

namespace cairn::hrana {

// The Hrana error code string for a failure ("SQLITE_CONSTRAINT", "STREAM_EXPIRED", ...).
std::string_view ErrorCode(const Status& st);
// The message a client sees for a failure.
std::string ErrorMessage(const Status& st);
// The HTTP status of a response that fails as a whole because of `st`.
int HttpStatus(const Status& st);
// Writes a Hrana error object {"message": ..., "code": ...}.
void WriteError(JsonWriter& w, const Status& st);
// A complete JSON error body for a failed HTTP request.
std::string ErrorBody(const Status& st);

}  // namespace cairn::hrana
