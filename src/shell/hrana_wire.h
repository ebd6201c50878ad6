// The shell's side of Hrana 3 over HTTP, as bytes: building `/v3/pipeline` request bodies and
// decoding response bodies into sql_client.h values. No I/O, so every case is unit-testable.
//
// Each statement travels as one `execute` request (want_rows) followed by `get_autocommit`, so the
// shell learns after every statement whether a transaction is open on its stream.
//
// Thread-safety: free functions; safe to call from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "shell/sql_client.h"

namespace cairn::shell {

// {"baton":...,"requests":[{"type":"execute",...},{"type":"get_autocommit"}]}; the baton is
// omitted when there is no stream yet.
std::string EncodeExecuteRequest(const std::optional<std::string>& baton, std::string_view sql);
// {"baton":...,"requests":[{"type":"close"}]}
std::string EncodeCloseRequest(std::string_view baton);

struct PipelineReply {
  std::optional<std::string> baton;     // null when the server ended the stream
  std::optional<std::string> base_url;  // where the rest of the stream must go, when set
  ExecOutcome execute;                  // the execute request's result or error
  std::optional<bool> autocommit;       // from get_autocommit; empty if the server did not answer
};

// Decodes the body of a 2xx answer to EncodeExecuteRequest. A body that is not a well-formed
// pipeline response is a kInvalidRequest Status.
Result<PipelineReply> DecodePipelineResponse(std::string_view body);

// The error carried by a non-2xx answer: {"message","code"} when the body is such JSON (a missing
// code becomes "UNKNOWN"; {"error": "..."} is accepted too), else "HTTP <status>: <body>" with code
// "HTTP_<status>".
ServerError DecodeErrorBody(long http_status, std::string_view body);

}  // namespace cairn::shell
