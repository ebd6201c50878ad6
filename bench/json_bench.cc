// JSON parser microbenchmark for Hrana pipeline request bodies.
//
// Question it answers: which JSON library should the server use to decode `POST /v2/pipeline`
// bodies? Each variant parses a body and extracts what the server needs (request types, SQL
// texts, every argument's type and value, want_rows) into the same flat, reused output
// structure, so the differences are the libraries' and not the bookkeeping's.
//
// Bodies (shaped exactly like @libsql/client 0.18 sends them):
//   point_select  execute of `SELECT id, v FROM bench WHERE id = ?` with one integer arg + close
//   batch10x3     batch: BEGIN IMMEDIATE, 10 INSERTs with 3 args (integer, text, float) each,
//                 COMMIT, conditional ROLLBACK; then close
//   text100k      execute of an INSERT whose text argument is ~100 KB (with some escapes) + close
//
// Variants:
//   SimdjsonDom/copy      dom::parser reused; parse(data, size) copies into its padded buffer
//                         (how a server handles a body it did not allocate with padding)
//   SimdjsonDom/padded    dom::parser reused; body already has SIMDJSON_PADDING spare capacity
//   SimdjsonOnDemand      ondemand::parser reused; padded body, fields looked up by name
//   RapidJson/Parse       a fresh rapidjson::Document per body (default allocators)
//   RapidJson/ParsePool   Document::Parse with allocators on reused fixed buffers
//   RapidJson/Insitu      ParseInsitu with reused buffers; includes copying the body (insitu
//                         parsing destroys its input)
//   Memcpy                copying the body once: the floor, for reference
//
// Build: see bench/CMakeLists.txt, or standalone:
//   g++ -O2 -std=c++20 bench/json_bench.cc -lsimdjson -lbenchmark -lpthread -o json_bench
#include <benchmark/benchmark.h>
#include <rapidjson/document.h>
#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// What the server needs from a body: a flat, reusable sink.
// ---------------------------------------------------------------------------------------------
enum class Kind : uint8_t { kNull, kInteger, kFloat, kText, kBlob };

struct Arg {
  Kind kind = Kind::kNull;
  int64_t i = 0;
  double f = 0;
  std::string_view s;     // text, or blob base64
  std::string_view name;  // named args only
};

struct Stmt {
  std::string_view sql;
  uint32_t first_arg = 0, n_args = 0;
  bool want_rows = true;
};

struct Request {
  std::string_view type;
  uint32_t first_stmt = 0, n_stmts = 0;
};

struct Pipeline {
  std::string_view baton;
  std::vector<Request> requests;
  std::vector<Stmt> stmts;
  std::vector<Arg> args;
  void Clear() {
    baton = {};
    requests.clear();
    stmts.clear();
    args.clear();
  }
};

bool ParseInt64(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// A digest of the extracted content, to check that every variant extracts the same thing.
uint64_t Digest(const Pipeline& p) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  auto mix_str = [&](std::string_view s) {
    mix(s.size());
    for (char c : s) mix(static_cast<unsigned char>(c));
  };
  mix(p.requests.size());
  for (const auto& r : p.requests) {
    mix_str(r.type);
    mix(r.n_stmts);
  }
  for (const auto& s : p.stmts) {
    mix_str(s.sql);
    mix(s.n_args);
    mix(s.want_rows);
  }
  for (const auto& a : p.args) {
    mix(static_cast<uint64_t>(a.kind));
    mix(static_cast<uint64_t>(a.i));
    uint64_t fb;
    std::memcpy(&fb, &a.f, sizeof fb);
    mix(fb);
    mix_str(a.s);
    mix_str(a.name);
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------
std::string PointSelectBody() {
  return R"J({"requests":[{"type":"execute","stmt":{"sql":"SELECT id, v FROM bench WHERE id = ?",)J"
         R"J("args":[{"type":"integer","value":"48213"}],"named_args":[],"want_rows":true}},)J"
         R"J({"type":"close"}]})J";
}

std::string Batch10x3Body() {
  std::string b = R"J({"requests":[{"type":"batch","batch":{"steps":[)J";
  b += R"J({"stmt":{"sql":"BEGIN IMMEDIATE","args":[],"named_args":[],"want_rows":false}})J";
  for (int i = 0; i < 10; i++) {
    b += R"J(,{"condition":{"type":"ok","step":)J" + std::to_string(i) + "},";
    b += R"J("stmt":{"sql":"INSERT INTO orders(customer_id, note, amount) VALUES (?, ?, ?)","args":[)J";
    b += R"J({"type":"integer","value":")J" + std::to_string(100000 + i * 7919) + R"J("},)J";
    b += R"J({"type":"text","value":"order note number )J" + std::to_string(i) + R"J( \u00e9t\u00e9 \"quoted\""},)J";
    b += R"J({"type":"float","value":)J" + std::to_string(i * 3) + ".25}";
    b += R"J(],"named_args":[],"want_rows":false}})J";
  }
  b += R"J(,{"condition":{"type":"ok","step":10},"stmt":{"sql":"COMMIT","args":[],"named_args":[],"want_rows":false}})J";
  b += R"J(,{"condition":{"type":"not","cond":{"type":"ok","step":11}},"stmt":{"sql":"ROLLBACK","args":[],)J"
       R"J("named_args":[],"want_rows":false}}]}},{"type":"close"}]})J";
  return b;
}

std::string Text100kBody() {
  std::string text;
  // Mostly plain prose with an escaped newline and quote now and then (~100 KB after escaping).
  const std::string line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \\\"x\\\".\\n";
  while (text.size() < 100 * 1024) text += line;
  std::string b = R"J({"requests":[{"type":"execute","stmt":{"sql":"INSERT INTO docs(id, body) VALUES (?, ?)",)J";
  b += R"J("args":[{"type":"integer","value":"7"},{"type":"text","value":")J" + text + R"J("}],)J";
  b += R"J("named_args":[],"want_rows":false}},{"type":"close"}]})J";
  return b;
}

struct Body {
  const char* name;
  std::string json;
};

const std::vector<Body>& Bodies() {
  static const std::vector<Body> bodies = {
      {"point_select", PointSelectBody()},
      {"batch10x3", Batch10x3Body()},
      {"text100k", Text100kBody()},
  };
  return bodies;
}

// A copy of a body with SIMDJSON_PADDING bytes of spare capacity (what a server gets by reserving
// body.size() + padding before reading the body).
std::string Padded(const std::string& s) {
  std::string p;
  p.reserve(s.size() + simdjson::SIMDJSON_PADDING);
  p = s;
  return p;
}

// ---------------------------------------------------------------------------------------------
// simdjson DOM
// ---------------------------------------------------------------------------------------------
namespace dom = simdjson::dom;

bool DomValue(dom::element e, Arg* a) {
  dom::object o;
  if (e.get_object().get(o)) return false;
  std::string_view type;
  if (o["type"].get_string().get(type)) return false;
  if (type == "integer") {
    std::string_view s;
    if (o["value"].get_string().get(s) || !ParseInt64(s, &a->i)) return false;
    a->kind = Kind::kInteger;
  } else if (type == "float") {
    if (o["value"].get_double().get(a->f)) return false;
    a->kind = Kind::kFloat;
  } else if (type == "text") {
    if (o["value"].get_string().get(a->s)) return false;
    a->kind = Kind::kText;
  } else if (type == "blob") {
    if (o["base64"].get_string().get(a->s)) return false;
    a->kind = Kind::kBlob;
  } else if (type != "null") {
    return false;
  }
  return true;
}

bool DomStmt(dom::element e, Pipeline* p) {
  dom::object o;
  if (e.get_object().get(o)) return false;
  Stmt st;
  if (o["sql"].get_string().get(st.sql)) return false;
  st.first_arg = static_cast<uint32_t>(p->args.size());
  dom::array arr;
  if (!o["args"].get_array().get(arr)) {
    for (dom::element v : arr) {
      Arg a;
      if (!DomValue(v, &a)) return false;
      p->args.push_back(a);
    }
  }
  if (!o["named_args"].get_array().get(arr)) {
    for (dom::element na : arr) {
      Arg a;
      dom::element v;
      if (na["name"].get_string().get(a.name) || na["value"].get(v) || !DomValue(v, &a)) return false;
      p->args.push_back(a);
    }
  }
  st.n_args = static_cast<uint32_t>(p->args.size()) - st.first_arg;
  bool want;
  if (!o["want_rows"].get_bool().get(want)) st.want_rows = want;
  p->stmts.push_back(st);
  return true;
}

bool DomPipeline(dom::element root, Pipeline* p) {
  dom::object top;
  if (root.get_object().get(top)) return false;
  std::string_view baton;
  if (!top["baton"].get_string().get(baton)) p->baton = baton;
  dom::array reqs;
  if (top["requests"].get_array().get(reqs)) return false;
  for (dom::element re : reqs) {
    dom::object r;
    if (re.get_object().get(r)) return false;
    Request q;
    if (r["type"].get_string().get(q.type)) return false;
    q.first_stmt = static_cast<uint32_t>(p->stmts.size());
    if (q.type == "execute") {
      dom::element st;
      if (r["stmt"].get(st) || !DomStmt(st, p)) return false;
    } else if (q.type == "batch") {
      dom::array steps;
      if (r["batch"]["steps"].get_array().get(steps)) return false;
      for (dom::element step : steps) {
        dom::element st;
        if (step["stmt"].get(st) || !DomStmt(st, p)) return false;
      }
    } else if (q.type == "sequence") {
      Stmt st;
      if (r["sql"].get_string().get(st.sql)) return false;
      p->stmts.push_back(st);
    }
    q.n_stmts = static_cast<uint32_t>(p->stmts.size()) - q.first_stmt;
    p->requests.push_back(q);
  }
  return true;
}

bool ParseSimdjsonDomCopy(dom::parser& parser, const std::string& body, Pipeline* p) {
  dom::element root;
  if (parser.parse(body.data(), body.size(), /*realloc_if_needed=*/true).get(root)) return false;
  return DomPipeline(root, p);
}

bool ParseSimdjsonDomPadded(dom::parser& parser, const std::string& padded, Pipeline* p) {
  dom::element root;
  if (parser.parse(padded.data(), padded.size(), /*realloc_if_needed=*/false).get(root)) return false;
  return DomPipeline(root, p);
}

// ---------------------------------------------------------------------------------------------
// simdjson On-Demand (fields by name, any order; values are consumed once)
// ---------------------------------------------------------------------------------------------
namespace od = simdjson::ondemand;

bool OdValue(od::object o, Arg* a) {
  std::string_view type;
  if (o["type"].get_string().get(type)) return false;
  if (type == "integer") {
    std::string_view s;
    if (o["value"].get_string().get(s) || !ParseInt64(s, &a->i)) return false;
    a->kind = Kind::kInteger;
  } else if (type == "float") {
    if (o["value"].get_double().get(a->f)) return false;
    a->kind = Kind::kFloat;
  } else if (type == "text") {
    if (o["value"].get_string().get(a->s)) return false;
    a->kind = Kind::kText;
  } else if (type == "blob") {
    if (o["base64"].get_string().get(a->s)) return false;
    a->kind = Kind::kBlob;
  } else if (type != "null") {
    return false;
  }
  return true;
}

bool OdStmt(od::object o, Pipeline* p) {
  Stmt st;
  st.first_arg = static_cast<uint32_t>(p->args.size());
  // Iterate the fields once, in whatever order they come.
  for (auto field : o) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    if (key == "sql") {
      if (field.value().get_string().get(st.sql)) return false;
    } else if (key == "args") {
      od::array arr;
      if (field.value().get_array().get(arr)) return false;
      for (auto v : arr) {
        od::object vo;
        Arg a;
        if (v.get_object().get(vo) || !OdValue(vo, &a)) return false;
        p->args.push_back(a);
      }
    } else if (key == "named_args") {
      od::array arr;
      if (field.value().get_array().get(arr)) return false;
      for (auto na : arr) {
        od::object nao, vo;
        Arg a;
        if (na.get_object().get(nao) || nao["name"].get_string().get(a.name) ||
            nao["value"].get_object().get(vo) || !OdValue(vo, &a))
          return false;
        p->args.push_back(a);
      }
    } else if (key == "want_rows") {
      bool want;
      if (field.value().get_bool().get(want)) return false;
      st.want_rows = want;
    }
  }
  st.n_args = static_cast<uint32_t>(p->args.size()) - st.first_arg;
  if (st.sql.data() == nullptr) return false;
  p->stmts.push_back(st);
  return true;
}

bool OdPipeline(od::document& doc, Pipeline* p) {
  od::object top;
  if (doc.get_object().get(top)) return false;
  for (auto field : top) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    if (key == "baton") {
      std::string_view b;
      if (!field.value().get_string().get(b)) p->baton = b;
    } else if (key == "requests") {
      od::array reqs;
      if (field.value().get_array().get(reqs)) return false;
      for (auto re : reqs) {
        od::object r;
        if (re.get_object().get(r)) return false;
        Request q;
        q.first_stmt = static_cast<uint32_t>(p->stmts.size());
        // "type" first (unordered lookup), then the payload field it names.
        if (r["type"].get_string().get(q.type)) return false;
        if (q.type == "execute") {
          od::object st;
          if (r["stmt"].get_object().get(st) || !OdStmt(st, p)) return false;
        } else if (q.type == "batch") {
          od::array steps;
          if (r["batch"]["steps"].get_array().get(steps)) return false;
          for (auto step : steps) {
            od::object so, st;
            if (step.get_object().get(so) || so["stmt"].get_object().get(st) || !OdStmt(st, p)) return false;
          }
        } else if (q.type == "sequence") {
          Stmt st;
          if (r["sql"].get_string().get(st.sql)) return false;
          p->stmts.push_back(st);
        }
        q.n_stmts = static_cast<uint32_t>(p->stmts.size()) - q.first_stmt;
        p->requests.push_back(q);
      }
    }
  }
  return true;
}

bool ParseSimdjsonOnDemand(od::parser& parser, const std::string& padded, Pipeline* p) {
  od::document doc;
  simdjson::padded_string_view view(padded.data(), padded.size(), padded.capacity());
  if (parser.iterate(view).get(doc)) return false;
  return OdPipeline(doc, p);
}

// ---------------------------------------------------------------------------------------------
// RapidJSON
// ---------------------------------------------------------------------------------------------
namespace rj = rapidjson;

using V = rj::Value;

bool RjString(const V& v, std::string_view* out) {
  if (!v.IsString()) return false;
  *out = std::string_view(v.GetString(), v.GetStringLength());
  return true;
}

const V* RjMember(const V& o, const char* key) {
  auto it = o.FindMember(key);
  return it == o.MemberEnd() ? nullptr : &it->value;
}

bool RjValue(const V& v, Arg* a) {
  if (!v.IsObject()) return false;
  const V* t = RjMember(v, "type");
  std::string_view type;
  if (!t || !RjString(*t, &type)) return false;
  if (type == "integer") {
    const V* x = RjMember(v, "value");
    std::string_view s;
    if (!x || !RjString(*x, &s) || !ParseInt64(s, &a->i)) return false;
    a->kind = Kind::kInteger;
  } else if (type == "float") {
    const V* x = RjMember(v, "value");
    if (!x || !x->IsNumber()) return false;
    a->f = x->GetDouble();
    a->kind = Kind::kFloat;
  } else if (type == "text") {
    const V* x = RjMember(v, "value");
    if (!x || !RjString(*x, &a->s)) return false;
    a->kind = Kind::kText;
  } else if (type == "blob") {
    const V* x = RjMember(v, "base64");
    if (!x || !RjString(*x, &a->s)) return false;
    a->kind = Kind::kBlob;
  } else if (type != "null") {
    return false;
  }
  return true;
}

bool RjStmt(const V& o, Pipeline* p) {
  if (!o.IsObject()) return false;
  Stmt st;
  const V* sql = RjMember(o, "sql");
  if (!sql || !RjString(*sql, &st.sql)) return false;
  st.first_arg = static_cast<uint32_t>(p->args.size());
  if (const V* args = RjMember(o, "args"); args && args->IsArray()) {
    for (const auto& v : args->GetArray()) {
      Arg a;
      if (!RjValue(v, &a)) return false;
      p->args.push_back(a);
    }
  }
  if (const V* named = RjMember(o, "named_args"); named && named->IsArray()) {
    for (const auto& na : named->GetArray()) {
      Arg a;
      if (!na.IsObject()) return false;
      const V* n = RjMember(na, "name");
      const V* v = RjMember(na, "value");
      if (!n || !v || !RjString(*n, &a.name) || !RjValue(*v, &a)) return false;
      p->args.push_back(a);
    }
  }
  st.n_args = static_cast<uint32_t>(p->args.size()) - st.first_arg;
  if (const V* w = RjMember(o, "want_rows"); w && w->IsBool()) st.want_rows = w->GetBool();
  p->stmts.push_back(st);
  return true;
}

bool RjPipeline(const V& root, Pipeline* p) {
  if (!root.IsObject()) return false;
  if (const V* b = RjMember(root, "baton"); b && b->IsString()) RjString(*b, &p->baton);
  const V* reqs = RjMember(root, "requests");
  if (!reqs || !reqs->IsArray()) return false;
  for (const auto& r : reqs->GetArray()) {
    if (!r.IsObject()) return false;
    Request q;
    const V* t = RjMember(r, "type");
    if (!t || !RjString(*t, &q.type)) return false;
    q.first_stmt = static_cast<uint32_t>(p->stmts.size());
    if (q.type == "execute") {
      const V* st = RjMember(r, "stmt");
      if (!st || !RjStmt(*st, p)) return false;
    } else if (q.type == "batch") {
      const V* batch = RjMember(r, "batch");
      if (!batch || !batch->IsObject()) return false;
      const V* steps = RjMember(*batch, "steps");
      if (!steps || !steps->IsArray()) return false;
      for (const auto& step : steps->GetArray()) {
        if (!step.IsObject()) return false;
        const V* st = RjMember(step, "stmt");
        if (!st || !RjStmt(*st, p)) return false;
      }
    } else if (q.type == "sequence") {
      Stmt st;
      const V* sql = RjMember(r, "sql");
      if (!sql || !RjString(*sql, &st.sql)) return false;
      p->stmts.push_back(st);
    }
    q.n_stmts = static_cast<uint32_t>(p->stmts.size()) - q.first_stmt;
    p->requests.push_back(q);
  }
  return true;
}

// Fixed buffers reused across parses (what a server thread would keep): a value pool and a
// parse stack. Large enough for the 100 KB body; RapidJSON falls back to malloc beyond them.
struct RjBuffers {
  static constexpr size_t kValueBytes = 512 * 1024;
  static constexpr size_t kStackBytes = 16 * 1024;
  std::unique_ptr<char[]> value{new char[kValueBytes]};
  std::unique_ptr<char[]> stack{new char[kStackBytes]};
  std::string insitu;  // the mutable copy ParseInsitu works on
};
using PoolDoc = rj::GenericDocument<rj::UTF8<>, rj::MemoryPoolAllocator<>, rj::MemoryPoolAllocator<>>;

// The document (and so every string_view in the Pipeline) lives in `holder` until the next call.
struct RjHolder {
  std::unique_ptr<rj::Document> doc;
  std::optional<rj::MemoryPoolAllocator<>> value_alloc, stack_alloc;
  std::optional<PoolDoc> pool_doc;
  void Reset() {
    pool_doc.reset();  // the document first: it points into the allocators
    value_alloc.reset();
    stack_alloc.reset();
    doc.reset();
  }
};

bool ParseRapidJson(RjHolder& h, const std::string& body, Pipeline* p) {
  h.doc = std::make_unique<rj::Document>();
  h.doc->Parse(body.data(), body.size());
  if (h.doc->HasParseError()) return false;
  return RjPipeline(*h.doc, p);
}

bool ParseRapidJsonPool(RjHolder& h, RjBuffers& buf, const std::string& body, Pipeline* p) {
  h.Reset();
  h.value_alloc.emplace(buf.value.get(), RjBuffers::kValueBytes);
  h.stack_alloc.emplace(buf.stack.get(), RjBuffers::kStackBytes);
  h.pool_doc.emplace(&*h.value_alloc, RjBuffers::kStackBytes, &*h.stack_alloc);
  h.pool_doc->Parse(body.data(), body.size());
  if (h.pool_doc->HasParseError()) return false;
  return RjPipeline(*h.pool_doc, p);
}

bool ParseRapidJsonInsitu(RjHolder& h, RjBuffers& buf, const std::string& body, Pipeline* p) {
  buf.insitu.assign(body);  // ParseInsitu needs a NUL-terminated, writable copy
  h.Reset();
  h.value_alloc.emplace(buf.value.get(), RjBuffers::kValueBytes);
  h.stack_alloc.emplace(buf.stack.get(), RjBuffers::kStackBytes);
  h.pool_doc.emplace(&*h.value_alloc, RjBuffers::kStackBytes, &*h.stack_alloc);
  h.pool_doc->ParseInsitu(buf.insitu.data());
  if (h.pool_doc->HasParseError()) return false;
  return RjPipeline(*h.pool_doc, p);
}

// ---------------------------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------------------------
void Finish(benchmark::State& state, const std::string& body, const Pipeline& p) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(body.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["args"] = static_cast<double>(p.args.size());
}

void BM_SimdjsonDomCopy(benchmark::State& state, const Body* b) {
  dom::parser parser;
  Pipeline p;
  for (auto _ : state) {
    p.Clear();
    if (!ParseSimdjsonDomCopy(parser, b->json, &p)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(p.args.data());
  }
  Finish(state, b->json, p);
}

void BM_SimdjsonDomPadded(benchmark::State& state, const Body* b) {
  dom::parser parser;
  Pipeline p;
  const std::string padded = Padded(b->json);
  for (auto _ : state) {
    p.Clear();
    if (!ParseSimdjsonDomPadded(parser, padded, &p)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(p.args.data());
  }
  Finish(state, b->json, p);
}

void BM_SimdjsonOnDemand(benchmark::State& state, const Body* b) {
  od::parser parser;
  Pipeline p;
  const std::string padded = Padded(b->json);
  for (auto _ : state) {
    p.Clear();
    if (!ParseSimdjsonOnDemand(parser, padded, &p)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(p.args.data());
  }
  Finish(state, b->json, p);
}

void BM_RapidJsonParse(benchmark::State& state, const Body* b) {
  RjHolder h;
  Pipeline p;
  for (auto _ : state) {
    p.Clear();
    if (!ParseRapidJson(h, b->json, &p)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(p.args.data());
  }
  Finish(state, b->json, p);
}

void BM_RapidJsonParsePool(benchmark::State& state, const Body* b) {
  RjHolder h;
  RjBuffers buf;
  Pipeline p;
  for (auto _ : state) {
    p.Clear();
    if (!ParseRapidJsonPool(h, buf, b->json, &p)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(p.args.data());
  }
  h.Reset();  // destroy the document before the buffers it points into
  Finish(state, b->json, p);
}

void BM_RapidJsonInsitu(benchmark::State& state, const Body* b) {
  RjHolder h;
  RjBuffers buf;
  buf.insitu.reserve(b->json.size() + 1);
  Pipeline p;
  for (auto _ : state) {
    p.Clear();
    if (!ParseRapidJsonInsitu(h, buf, b->json, &p)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(p.args.data());
  }
  h.Reset();
  Finish(state, b->json, p);
}

void BM_Memcpy(benchmark::State& state, const Body* b) {
  std::string dst;
  dst.reserve(b->json.size() + 1);
  for (auto _ : state) {
    dst.assign(b->json);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(b->json.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Every variant must extract exactly the same content from every body; stop otherwise.
bool CheckAgreement() {
  bool ok = true;
  for (const auto& b : Bodies()) {
    dom::parser dp;
    od::parser op;
    RjHolder h1, h2, h3;
    RjBuffers buf2, buf3;
    const std::string padded = Padded(b.json);
    Pipeline p[6];
    bool parsed[6] = {
        ParseSimdjsonDomCopy(dp, b.json, &p[0]),
        ParseSimdjsonDomPadded(dp, padded, &p[1]),
        ParseSimdjsonOnDemand(op, padded, &p[2]),
        ParseRapidJson(h1, b.json, &p[3]),
        ParseRapidJsonPool(h2, buf2, b.json, &p[4]),
        ParseRapidJsonInsitu(h3, buf3, b.json, &p[5]),
    };
    // Digest before anything is re-parsed: the string_views point into parser-owned memory.
    uint64_t d[6];
    for (int i = 0; i < 6; i++) d[i] = parsed[i] ? Digest(p[i]) : 0;
    for (int i = 0; i < 6; i++) {
      if (!parsed[i] || d[i] != d[0]) {
        std::fprintf(stderr, "json_bench: variant %d disagrees on body %s (parsed=%d)\n", i, b.name, parsed[i]);
        ok = false;
      }
    }
    std::fprintf(stderr, "json_bench: %-12s %7zu bytes, %zu requests, %zu statements, %zu args: all variants agree\n",
                 b.name, b.json.size(), p[0].requests.size(), p[0].stmts.size(), p[0].args.size());
    h2.Reset();
    h3.Reset();
  }
  return ok;
}

// On-Demand is compiled into this file, for the implementation -march allows
// (simdjson::builtin_implementation() would report the shared library's, not ours).
#define CAIRN_BENCH_STR2(x) #x
#define CAIRN_BENCH_STR(x) CAIRN_BENCH_STR2(x)
constexpr const char* kOnDemandKernel = CAIRN_BENCH_STR(SIMDJSON_BUILTIN_IMPLEMENTATION);

}  // namespace

int main(int argc, char** argv) {
#if defined(__AVX2__) && (defined(__x86_64__) || defined(_M_X64))
  if (!__builtin_cpu_supports("avx2")) {
    std::fprintf(stderr, "json_bench: built with -march=haswell but this CPU has no AVX2\n");
    return 1;
  }
#endif
  if (!CheckAgreement()) return 1;
  std::fprintf(stderr,
               "json_bench: simdjson %d.%d.%d; DOM runs the %s kernel (runtime dispatch), On-Demand the %s kernel "
               "(fixed at compile time by -march)\n",
               simdjson::SIMDJSON_VERSION_MAJOR, simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION,
               simdjson::get_active_implementation()->name().c_str(), kOnDemandKernel);
  for (const auto& b : Bodies()) {
    const std::string n = b.name;
    benchmark::RegisterBenchmark(("SimdjsonDom/copy/" + n).c_str(), BM_SimdjsonDomCopy, &b);
    benchmark::RegisterBenchmark(("SimdjsonDom/padded/" + n).c_str(), BM_SimdjsonDomPadded, &b);
    benchmark::RegisterBenchmark(("SimdjsonOnDemand/" + n).c_str(), BM_SimdjsonOnDemand, &b);
    benchmark::RegisterBenchmark(("RapidJson/Parse/" + n).c_str(), BM_RapidJsonParse, &b);
    benchmark::RegisterBenchmark(("RapidJson/ParsePool/" + n).c_str(), BM_RapidJsonParsePool, &b);
    benchmark::RegisterBenchmark(("RapidJson/Insitu/" + n).c_str(), BM_RapidJsonInsitu, &b);
    benchmark::RegisterBenchmark(("Memcpy/" + n).c_str(), BM_Memcpy, &b);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
