#include "server/server.h"

#include <filesystem>

// GCC 12 with -std=c++20 needs <utility> before Asio's awaitable header.
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "auth/auth.h"
#include "base/file.h"
#include "base/json_writer.h"
#include "base/log.h"
#include "engine/limits.h"
#include "hrana/errors.h"
#include "http/http.h"
#include "http/websocket.h"
#include "libsql_sync/service.h"
#include "metrics/metrics.h"
#include "migrate/in_process.h"
#include "replication/feed.h"
#include "replication/source.h"
#include "server/admin.h"
#include "server/http_metrics.h"
#include "server/internal/blocking_pools.h"
#include "server/internal/cluster_role.h"
#include "server/internal/connection.h"
#include "server/internal/hrana_requests.h"
#include "server/internal/libsql_sync_endpoints.h"
#include "server/internal/replica_routing.h"
#include "server/internal/replication_endpoints.h"
#include "server/internal/reply.h"
#include "server/internal/websocket_session.h"

namespace cairn::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr size_t kMaxHeaderBytes = 64 << 10;

Result<tcp::endpoint> ParseEndpoint(const std::string& spec) {
  auto colon = spec.rfind(':');
  if (colon == std::string::npos)
    return Status(Code::kInvalidRequest, "address '" + spec + "' must be HOST:PORT");
  std::string host = spec.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(spec.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535)
    return Status(Code::kInvalidRequest, "address '" + spec + "' has an invalid port");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return Status(Code::kInvalidRequest, "address '" + spec + "': " + ec.message());
  return tcp::endpoint(addr, static_cast<uint16_t>(port));
}

}  // namespace

class Server::Impl {
 public:
  explicit Impl(const ServerOptions& opts) : opts_(opts), pools_(opts.blocking_threads) {}

  ~Impl() { Stop(); }

  Status Init() {
    engine::RegistryOptions ro = opts_.registry;
    if (!opts_.cluster_etcd.empty() && !opts_.replica_of.empty())
      return Status(Code::kInvalidRequest, "--cluster-etcd and --replica-of exclude each other");
    if (!opts_.replica_of.empty()) {
      // A replica makes no backups of its own (the primary does); it keeps a log of what it
      // applied only to feed embedded replicas (engine::Registry).
      ro.database.replica = true;
    } else {
      // A primary, or a cluster node (which starts as a replica: the registry opens databases
      // without their log until it is elected).
      ro.on_change = [this](const std::string& db) { feed_.Changed(db); };
      ro.database.replica = !opts_.cluster_etcd.empty();
    }
    if (opts_.backup_url != "off" && ro.txlog && opts_.replica_of.empty()) {
      std::string url = opts_.backup_url;
      if (url.empty()) {
        std::error_code ec;
        url = "file://" +
              std::filesystem::absolute(ro.data_dir + "/backups", ec).lexically_normal().string();
      }
      CAIRN_ASSIGN_OR_RETURN(store_, objectstore::Open(url));
      backup::UploaderOptions uo = opts_.backup;
      uo.scratch_dir = ro.data_dir + "/tmp";
      uo.restart_log = [this](const std::string& db) -> Status {
        CAIRN_ASSIGN_OR_RETURN(auto d, registry_->Get(db));
        return d->RestartLog();
      };
      auto acks = std::make_shared<engine::ReplicaAcks>();
      ro.replica_acks = acks;
      uo.on_uploaded = [acks](const std::string& db, const std::string& gen, uint64_t txid) {
        acks->Ack(engine::ReplicaAcks::Key(db, gen), engine::ReplicaAcks::kObjectStore, txid);
      };
      uo.urgent = [this](const std::string& db) {
        return limits_ != nullptr && limits_->For(db)->sync_backup();
      };
      uo.suspend_log = [this](const std::string& db) -> Status {
        CAIRN_ASSIGN_OR_RETURN(auto d, registry_->Get(db));
        d->SuspendLog();
        return Status::Ok();
      };
      uploader_ = std::make_unique<backup::Uploader>(
          store_.get(), [this](const std::string& db) { return registry_->LogDirOf(db); }, uo);
      ro.on_log_durable = [this](const std::string& db, uint64_t bytes) {
        if (uploader_) uploader_->Notify(db, bytes);
      };
      // Local log files go once they are in the store (and out of the local window).
      ro.log_released = [this](const std::string& db, const std::string& gen) -> uint64_t {
        return uploader_ ? uploader_->UploadedThrough(db, gen) : 0;
      };
    }
    if (!opts_.migrations_dir.empty())
      CAIRN_RETURN_IF_ERROR(migrate::CheckMigrationsDir(opts_.migrations_dir));
    limits_ = std::make_unique<engine::LimitsStore>([dir = ro.data_dir](std::string_view name) {
      return dir + "/databases/" + std::string(name);
    });
    ro.limits = limits_.get();
    CAIRN_ASSIGN_OR_RETURN(registry_, engine::Registry::Open(ro));
    role_ = std::make_unique<ClusterRole>(opts_, registry_.get(), &feed_);
    if (!opts_.replica_of.empty()) {
      role_->Follow(opts_.replica_of);
    } else {
      source_ = std::make_unique<replication::Source>(registry_.get(), &feed_);
    }
    if (uploader_) {
      uploader_->Start(registry_->List());
      spdlog::info("backing up every database to {}", store_->Describe());
    }
    if (!opts_.jwt_keys.empty() || !opts_.jwt_key_files.empty()) {
      auth::PublicKeys keys;
      for (const std::string& text : opts_.jwt_keys) {
        Status st = keys.Add(text);
        if (!st.ok()) return Status(st.code(), "JWT key: " + st.message());
      }
      for (const std::string& path : opts_.jwt_key_files) {
        auto text = ReadWholeFile(path);
        if (!text.ok())
          return Status(text.status().code(),
                        "JWT key file " + path + ": " + text.status().message());
        Status st = keys.Add(*text);
        if (!st.ok()) return Status(st.code(), "JWT key file " + path + ": " + st.message());
      }
      const size_t n = keys.size();
      CAIRN_ASSIGN_OR_RETURN(authenticator_, auth::Authenticator::Create(std::move(keys)));
      spdlog::info("clients must authenticate with JWTs ({} Ed25519 key{})", n, n == 1 ? "" : "s");
    } else {
      spdlog::info("no JWT key configured: every client may read and write every database");
    }
    service_ = std::make_unique<hrana::Service>(registry_.get(), opts_.hrana);
    sync_service_ = std::make_unique<libsql_sync::SyncService>(registry_.get());
    MetricsOptions mo;
    mo.http = &http_metrics_;
    mo.sync = &sync_service_->stats();
    mo.top_databases = opts_.metrics_top_databases;
    mo.databases = opts_.metrics_databases;
    admin_ =
        std::make_unique<AdminApi>(registry_.get(), uploader_.get(), store_.get(), std::move(mo),
                                   NamespaceOptions{limits_.get(), opts_.migrations_dir});
    requests_ = std::make_unique<HranaRequests>(service_.get(), registry_.get(),
                                                authenticator_.get(), &pools_);
    routing_ = std::make_unique<ReplicaRouting>(requests_.get(), role_.get(), registry_.get(),
                                                &pools_, &serving_, opts_.replication_key);
    libsql_sync_ =
        std::make_unique<LibsqlSyncEndpoints>(sync_service_.get(), requests_.get(), &pools_);
    replication_ = std::make_unique<ReplicationEndpoints>(source_.get(), &feed_, role_.get(),
                                                          &pools_, &serving_);
    websockets_ = std::make_unique<WebSocketSessions>(WebSocketDeps{
        service_.get(), registry_.get(), authenticator_.get(), &pools_, &http_metrics_, &serving_,
        &role_->replica_flag(), opts_.max_body_bytes, opts_.blocking_threads});
    return Status::Ok();
  }

  Status Start() {
    int n = opts_.network_threads > 0 ? opts_.network_threads
                                      : static_cast<int>(std::thread::hardware_concurrency());
    if (n <= 0) n = 2;
    for (int i = 0; i < n; ++i) ios_.push_back(std::make_unique<asio::io_context>(1));

    CAIRN_ASSIGN_OR_RETURN(tcp::endpoint ep, ParseEndpoint(opts_.listen));
    for (int i = 0; i < n; ++i) {
      CAIRN_RETURN_IF_ERROR(Listen(*ios_[i], ep, false));
      if (ep.port() == 0) ep.port(port_);  // the other threads share the port chosen first
    }
    if (!opts_.admin_listen.empty()) {
      CAIRN_ASSIGN_OR_RETURN(tcp::endpoint aep, ParseEndpoint(opts_.admin_listen));
      CAIRN_RETURN_IF_ERROR(Listen(*ios_[0], aep, true));
    }
    for (auto& io : ios_) {
      threads_.emplace_back([ioc = io.get()] {
        auto guard = asio::make_work_guard(*ioc);
        ioc->run();
      });
    }
    janitor_ = std::thread([this] { JanitorLoop(); });
    if (auto f = role_->follower()) {
      f->Start();
      spdlog::info("read replica of {}", opts_.replica_of);
    }
    if (!opts_.cluster_etcd.empty()) role_->StartElection(admin_port_);
    if (uploader_ && opts_.verify_interval.count() > 0)
      verifier_ = std::thread([this] { VerifierLoop(); });
    spdlog::info(
        "cairn serving Hrana on http://{}:{} (data dir {}), admin API on {}",
        ep.address().to_string(), port_, opts_.registry.data_dir,
        opts_.admin_listen.empty()
            ? "(disabled)"
            : fmt::format("{}:{}", opts_.admin_listen.substr(0, opts_.admin_listen.rfind(':')),
                          admin_port_));
    return Status::Ok();
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    serving_.stopping = true;
    for (auto& a : acceptors_) {
      asio::post(a->get_executor(), [a] {
        boost::system::error_code ec;
        a->close(ec);
      });
    }
    // Let in-flight requests finish.
    auto deadline = std::chrono::steady_clock::now() + opts_.shutdown_grace;
    while (serving_.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (serving_.in_flight.load() > 0)
      spdlog::warn("shutting down with {} requests still running", serving_.in_flight.load());
    pools_.Join();
    for (auto& io : ios_) io->stop();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    {
      std::lock_guard lk(janitor_mu_);
      janitor_stop_ = true;
    }
    janitor_cv_.notify_all();
    if (janitor_.joinable()) janitor_.join();
    if (verifier_.joinable()) verifier_.join();
    if (role_) role_->Stop();
    acceptors_.clear();
    ios_.clear();
    if (service_) service_->streams().CloseAll();
    if (registry_) registry_->CloseAll();
    if (uploader_) uploader_->Stop(std::chrono::seconds(5));  // what the close flushed, too
    spdlog::info("cairn stopped: databases checkpointed and closed");
  }

  uint16_t port() const { return port_; }
  uint16_t admin_port() const { return admin_port_; }

 private:
  Status Listen(asio::io_context& io, const tcp::endpoint& ep, bool admin) {
    auto acceptor = std::make_shared<tcp::acceptor>(io);
    boost::system::error_code ec;
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && !admin) {
      int one = 1;
      ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status(Code::kUnavailable, "cannot listen on " + ep.address().to_string() + ":" +
                                            std::to_string(ep.port()) + ": " + ec.message());
    uint16_t bound = acceptor->local_endpoint().port();
    if (admin) {
      admin_port_ = bound;
    } else {
      port_ = bound;
    }
    acceptors_.push_back(acceptor);
    asio::co_spawn(io, Accept(acceptor, admin), asio::detached);
    return Status::Ok();
  }

  asio::awaitable<void> Accept(std::shared_ptr<tcp::acceptor> acceptor, bool admin) {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket sock =
          co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!acceptor->is_open() || serving_.stopping) co_return;
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(acceptor->get_executor(), Connection(std::move(sock), admin), asio::detached);
    }
  }

  // Reads requests with http::RequestReader (src/http) and answers them in order. The reader,
  // the request id and the head being written are reused from request to request, and a request
  // that needs no waiting (GET /health, a read on a primary) is answered without another
  // coroutine frame: the per-request cost of the HTTP layer is the parse, one gather write and
  // what the handlers themselves allocate.
  asio::awaitable<void> Connection(tcp::socket sock, bool admin) {
    auto c = std::make_shared<ConnState>(std::move(sock));
    c->deadline = std::chrono::steady_clock::now() + kIdleConnectionTimeout;
    asio::co_spawn(c->socket.get_executor(), Watchdog(c), asio::detached);
    http::Limits limits;
    limits.max_header_bytes = kMaxHeaderBytes;
    limits.max_body_bytes = opts_.max_body_bytes;
    http::RequestReader reader(limits);
    std::string request_id, head;
    std::vector<http::Header> fields;
    boost::system::error_code ec;
    for (;;) {
      const http::RequestReader::Result next = reader.Next();
      if (next == http::RequestReader::Result::kNeedMore) {
        if (reader.ContinueNeeded()) {
          c->deadline = std::chrono::steady_clock::now() + kWriteTimeout;
          co_await asio::async_write(c->socket, asio::buffer(kContinue.data(), kContinue.size()),
                                     asio::redirect_error(asio::use_awaitable, ec));
          if (ec) break;
          c->deadline = std::chrono::steady_clock::now() + kIdleConnectionTimeout;
        }
        const std::span<char> space = reader.ReadSpace();
        if (space.empty()) break;  // cannot happen: the reader refuses a request too large first
        const size_t n =
            co_await c->socket.async_read_some(asio::buffer(space.data(), space.size()),
                                               asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        reader.Commit(n);
        continue;
      }
      if (next == http::RequestReader::Result::kError) {
        co_await AnswerUnreadable(*c, reader, admin);
        break;
      }

      const http::Request& req = reader.request();
      c->deadline = std::chrono::steady_clock::time_point::max();  // the request runs
      // On the response, in the logs, and passed to the handlers.
      RequestIdOf(req.Find(kRequestIdHeader), &request_id);
      if (!admin && req.method == "GET" && http::ws::IsUpgradeRequest(req)) {
        // Hrana over WebSocket: the connection is the WebSocket's from here on (or closes after
        // a refused upgrade).
        co_await websockets_->Serve(c, reader, request_id);
        break;
      }
      const bool head_only = req.method == "HEAD";  // answered like GET, without the body
      const std::string_view method = head_only ? std::string_view("GET") : req.method;
      const std::string_view path = req.path();
      serving_.in_flight++;
      const auto started = std::chrono::steady_clock::now();
      // (No co_await inside ?: — GCC 12 miscompiles it.)
      Reply reply;
      Admitted admitted;
      if (serving_.stopping) {
        Status st(Code::kUnavailable, "the server is shutting down");
        if (!admin) metrics::Process().hrana_errors.Inc(hrana::ErrorCode(st));
        reply = ErrorReply(st);
      } else if (method == "OPTIONS") {
        reply = Preflight(req);
      } else if (admin) {
        reply = co_await HandleAdmin(req, method, request_id);
      } else if (libsql_sync::IsSyncPath(path)) {
        reply = co_await libsql_sync_->Handle(req, method, path);
      } else if (std::optional<Reply> early = requests_->Admit(req, method, &admitted)) {
        reply = std::move(*early);
      } else if (role_->is_replica()) {
        reply = co_await routing_->OnReplica(req, std::move(admitted), request_id);
      } else {
        reply = co_await requests_->Run(
            requests_->NewCall(std::move(admitted), std::string(req.body)), request_id);
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (!admin) http_metrics_.Record(HttpMetrics::Classify(path), reply.status, seconds);
      serving_.in_flight--;
      LogRequest(request_id, admin, req.method, path, reply.status, seconds);

      const bool keep_alive = req.keep_alive && !serving_.stopping;
      fields.clear();
      fields.push_back({"Server", "cairn"});
      if (!reply.content_type.empty()) fields.push_back({"Content-Type", reply.content_type});
      for (const auto& [name, value] : reply.headers) fields.push_back({name, value});
      fields.push_back({kRequestIdHeader, request_id});
      // Browsers (@libsql/client/web) may call from any origin, as with sqld; credentials travel in
      // the Authorization header, never in cookies.
      fields.push_back({"Access-Control-Allow-Origin", "*"});
      head.clear();
      http::AppendResponseHead(&head, req.minor_version, reply.status, fields, reply.body.size(),
                               keep_alive);
      c->deadline = std::chrono::steady_clock::now() + kWriteTimeout;
      if (head_only || reply.body.empty()) {
        co_await asio::async_write(c->socket, asio::buffer(head),
                                   asio::redirect_error(asio::use_awaitable, ec));
      } else {
        const std::array<asio::const_buffer, 2> gather = {asio::buffer(head),
                                                          asio::buffer(reply.body)};
        co_await asio::async_write(c->socket, gather,
                                   asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec || !keep_alive) break;
      reader.Done();
      c->deadline = std::chrono::steady_clock::now() + kIdleConnectionTimeout;
    }
    c->done = true;
    c->timer.cancel();
    boost::system::error_code ignored;
    c->socket.shutdown(tcp::socket::shutdown_send, ignored);
  }

  // A request the reader refused (http.h lists why): its status with a JSON error, then the
  // connection closes. What the client is still sending is read and dropped for a moment first,
  // so that closing with unread bytes does not reset the connection before it reads the answer.
  asio::awaitable<void> AnswerUnreadable(ConnState& c, const http::RequestReader& reader,
                                         bool admin) {
    const http::Error& e = reader.error();
    const http::Request& partial = reader.request();  // what of the head was read
    std::string request_id;
    RequestIdOf(partial.Find(kRequestIdHeader), &request_id);
    std::string body;
    if (e.status == 413) {
      Status st(Code::kBodyTooLarge, "the request body is larger than the limit of " +
                                         std::to_string(opts_.max_body_bytes) + " bytes");
      body = hrana::ErrorBody(st);
      if (!admin) metrics::Process().hrana_errors.Inc(hrana::ErrorCode(st));
    } else {
      std::string code(http::ReasonPhrase(e.status));
      for (char& ch : code) ch = ch == ' ' ? '_' : static_cast<char>(std::toupper(ch));
      JsonWriter w(&body);
      w.BeginObject().Key("message").String(e.message).Key("code").String(code).EndObject();
    }
    if (!admin) http_metrics_.Record(HttpMetrics::Classify(partial.path()), e.status, 0);
    LogRequest(request_id, admin, partial.method, partial.path(), e.status, 0);
    boost::system::error_code ec =
        co_await WriteLastAnswer(c, 1, e.status, "application/json", body, request_id);
    if (ec) co_return;
    c.socket.shutdown(tcp::socket::shutdown_send, ec);
    c.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    c.timer.cancel();  // the watchdog re-arms for this nearer deadline
    std::array<char, 16384> sink;
    size_t drained = 0;
    while (!ec && drained < opts_.max_body_bytes + (1 << 20)) {
      drained += co_await c.socket.async_read_some(asio::buffer(sink),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  static Reply Preflight(const http::Request& req) {
    Reply r;
    r.status = 204;
    const std::string_view requested = req.Find("access-control-request-headers");
    r.headers = {
        {"Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"},
        {"Access-Control-Allow-Headers",
         requested.empty() ? "authorization, content-type, x-namespace" : std::string(requested)},
        {"Access-Control-Max-Age", "86400"}};
    return r;
  }

  // The admin listener's requests.
  asio::awaitable<Reply> HandleAdmin(const http::Request& req, std::string_view method,
                                     std::string_view request_id) {
    const std::string_view target = req.target;
    const std::string_view path = req.path();
    // Only liveness stays open to probes without the key.
    if (!opts_.admin_auth_key.empty() && !(path == "/health" && method == "GET") &&
        !auth::AdminKeyMatches(req.Find("authorization"), opts_.admin_auth_key)) {
      co_return Unauthenticated(
          Status(Code::kUnauthenticated, "the admin API needs Authorization: Bearer <admin key>"));
    }
    if (path.substr(0, 12) == "/v1/forward/") {
      auto res = co_await routing_->Forwarded(req, method, path, request_id);
      co_return res;
    }
    if (path == "/v1/replication" || path.substr(0, 16) == "/v1/replication/") {
      auto res = co_await replication_->Handle(method, path, target);
      co_return res;
    }
    if (role_->is_replica() && method != "GET" && path.substr(0, 15) == "/v1/namespaces/" &&
        (path.ends_with("/create") || path.ends_with("/config") ||
         path.find("/fork/") != std::string_view::npos || method == "DELETE")) {
      // Limits are copied from the primary with the data (replication::Follower).
      Status st(Code::kInvalidRequest,
                "this server is a read replica of " + role_->PrimaryUrl() +
                    ": create, configure and delete databases on the primary");
      co_return ErrorReply(st, Refusal::kWrongRole);
    }
    AdminResponse r;
    {
      RequestIdScope scope(request_id);
      r = admin_->Handle(method, path, req.body);
    }
    co_return MakeReply(r.status, std::move(r.content_type), std::move(r.body));
  }

  void VerifierLoop() {
    std::unique_lock lk(janitor_mu_);
    while (!janitor_cv_.wait_for(lk, opts_.verify_interval, [&] { return janitor_stop_; })) {
      lk.unlock();
      admin_->VerifyAll(opts_.registry.data_dir + "/tmp");
      lk.lock();
    }
  }

  void JanitorLoop() {
    std::unique_lock lk(janitor_mu_);
    while (!janitor_stop_) {
      janitor_cv_.wait_for(lk, std::chrono::seconds(1));
      if (janitor_stop_) break;
      lk.unlock();
      service_->streams().Sweep();
      registry_->CloseIdle();
      lk.lock();
    }
  }

  const ServerOptions opts_;
  replication::ChangeFeed feed_;  // what replicas follow (a primary); outlives the registry
  std::unique_ptr<objectstore::ObjectStore> store_;
  std::unique_ptr<backup::Uploader> uploader_;
  std::unique_ptr<engine::LimitsStore> limits_;  // outlives the registry, which reads it
  std::unique_ptr<engine::Registry> registry_;
  std::unique_ptr<hrana::Service> service_;
  std::unique_ptr<AdminApi> admin_;
  std::unique_ptr<replication::Source> source_;  // a primary's replication endpoints
  std::unique_ptr<ClusterRole> role_;
  std::unique_ptr<HranaRequests> requests_;
  std::unique_ptr<ReplicaRouting> routing_;
  std::unique_ptr<ReplicationEndpoints> replication_;
  std::unique_ptr<libsql_sync::SyncService> sync_service_;  // embedded replicas' sync protocol
  std::unique_ptr<LibsqlSyncEndpoints> libsql_sync_;
  HttpMetrics http_metrics_;                            // the Hrana listener's requests
  std::unique_ptr<auth::Authenticator> authenticator_;  // null: no authentication
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<std::thread> threads_;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors_;
  BlockingPools pools_;
  ServingState serving_;
  std::unique_ptr<WebSocketSessions> websockets_;
  std::atomic<bool> stopped_{false};
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;

  std::thread janitor_;
  std::thread verifier_;
  std::mutex janitor_mu_;
  std::condition_variable janitor_cv_;
  bool janitor_stop_ = false;  // guarded by janitor_mu_
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Create(const ServerOptions& opts) {
  auto impl = std::make_unique<Impl>(opts);
  CAIRN_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
uint16_t Server::admin_port() const { return impl_->admin_port(); }
void Server::Stop() { impl_->Stop(); }

void Server::RunUntilSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  Stop();
}

}  // namespace cairn::server
