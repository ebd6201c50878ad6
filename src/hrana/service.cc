// Hrana over HTTP: the pipeline and cursor calls (service.h).
#include "hrana/service.h"

#include <vector>

#include "base/json_writer.h"
#include "hrana/stream_call.h"

namespace cairn::hrana {
namespace {

// POST /v2/pipeline, /v3/pipeline: {"results":[result, ...],"baton":...,"base_url":null}.
class PipelineCall final : public RequestRunner {
 public:
  PipelineCall(Service* service, Version version, std::string db, std::string body, bool read_only)
      : RequestRunner(service, std::move(db), std::move(body), read_only), version_(version) {}

  bool Run(bool may_block) override {
    if (!started_) {
      if (!Start(Decode())) return true;
      out_.reserve(512);
      w_.RawPrefix(R"({"results":[)");
    }
    while (next_ < req_.requests.size()) {
      Status st = RunRequest(req_.requests[next_], w_, may_block);
      if (st.code() == Code::kWouldBlock) return false;
      if (st.code() == Code::kPermissionDenied) {
        Deny(st);
        return true;
      }
      ++next_;
    }
    w_.EndArray().RawPrefix(R"(,"baton":)");
    FinishStream(w_);
    w_.RawPrefix(R"(,"base_url":)").Null().EndObject();
    response_.body = std::move(out_);
    return true;
  }

  const HttpRequestHead* Decode() override {
    return DecodeOnce(version_ == Version::kV3 ? &DecodeV3 : &DecodeV2, &req_);
  }

 private:
  static Result<PipelineRequest> DecodeV2(std::string_view b) {
    return DecodePipeline(b, Version::kV2);
  }
  static Result<PipelineRequest> DecodeV3(std::string_view b) {
    return DecodePipeline(b, Version::kV3);
  }

  const Version version_;
  PipelineRequest req_;
  size_t next_ = 0;
  JsonWriter w_{&out_};  // the response body
};

// POST /v3/cursor: {"baton":...,"base_url":null} and the batch's entries, one JSON text a line.
class CursorCall final : public StreamCall {
 public:
  CursorCall(Service* service, std::string db, std::string body, bool read_only)
      : StreamCall(service, std::move(db), std::move(body), read_only) {}

  bool Run(bool may_block) override {
    if (!started_) {
      if (!Start(Decode())) return true;
      outcome_.assign(req_.batch.steps.size(), -1);
    }
    Status st = RunCursorSteps(req_.batch, &outcome_, &next_step_, &entries_, may_block);
    if (st.code() == Code::kWouldBlock) return false;
    if (st.code() == Code::kPermissionDenied) {
      Deny(st);
      return true;
    }
    std::string body;
    JsonWriter w(&body);
    w.RawPrefix(R"({"baton":)");
    FinishStream(w);
    w.RawPrefix(R"(,"base_url":)").Null().EndObject();
    body.push_back('\n');
    body.append(entries_);
    response_.body = std::move(body);
    response_.content_type = "text/plain";
    return true;
  }

  const HttpRequestHead* Decode() override { return DecodeOnce(&DecodeCursor, &req_); }

 private:
  CursorRequest req_;
  size_t next_step_ = 0;
  std::vector<int8_t> outcome_;
  std::string entries_;
};

}  // namespace

Service::Service(engine::Registry* registry, const ServiceOptions& opts)
    : registry_(registry),
      opts_(opts),
      streams_(opts.clock, opts.stream_idle_timeout, opts.max_streams) {}

std::unique_ptr<Call> Service::Pipeline(Version version, std::string db, std::string body,
                                        bool read_only) {
  return std::make_unique<PipelineCall>(this, version, std::move(db), std::move(body), read_only);
}

std::unique_ptr<Call> Service::Cursor(std::string db, std::string body, bool read_only) {
  return std::make_unique<CursorCall>(this, std::move(db), std::move(body), read_only);
}

}  // namespace cairn::hrana
