#include "coordinator/etcd_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/address_list.h"

namespace tributary::coordinator {
namespace {

absl::Status FromGrpc(absl::string_view what, const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("etcd ", what, ": ", status.error_message()));
}

bool Unanswered(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

StoredKey FromKeyValue(const etcdserverpb::KeyValue& kv) {
  return StoredKey{kv.value(), kv.create_revision(), kv.mod_revision(), kv.lease()};
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(absl::string_view endpoints,
                                                               absl::Duration call_timeout) {
  absl::StatusOr<std::vector<std::string>> addresses = SplitAddressList(endpoints);
  if (!addresses.ok()) return addresses.status();
  std::vector<Endpoint> parsed;
  for (const std::string& address : *addresses) {
    Endpoint& endpoint = parsed.emplace_back();
    endpoint.address = address;
    endpoint.channel = grpc::CreateChannel(endpoint.address, grpc::InsecureChannelCredentials());
    endpoint.kv = etcdserverpb::KV::NewStub(endpoint.channel);
    endpoint.lease = etcdserverpb::Lease::NewStub(endpoint.channel);
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(parsed), call_timeout));
}

EtcdClient::EtcdClient(std::vector<Endpoint> endpoints, absl::Duration call_timeout)
    : endpoints_(std::move(endpoints)), call_timeout_(call_timeout) {}

template <typename Call>
grpc::Status EtcdClient::Run(absl::string_view what, const Call& call) {
  size_t first;
  {
    absl::MutexLock lock(&mu_);
    first = current_;
  }
  grpc::Status status;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t index = (first + i) % endpoints_.size();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + call_timeout_));
    status = call(endpoints_[index], context);
    if (!Unanswered(status)) {
      absl::MutexLock lock(&mu_);
      current_ = index;
      return status;
    }
  }
  return grpc::Status(status.error_code(),
                      absl::StrCat(status.error_message(), " (", what, ", tried ", endpoints_.size(), " endpoint(s))"));
}

absl::StatusOr<int64_t> EtcdClient::GrantLease(absl::Duration ttl) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(ttl, absl::Seconds(1)))));
  etcdserverpb::LeaseGrantResponse response;
  const grpc::Status status = Run("LeaseGrant", [&](Endpoint& endpoint, grpc::ClientContext& context) {
    return endpoint.lease->LeaseGrant(&context, request, &response);
  });
  if (absl::Status s = FromGrpc("LeaseGrant", status); !s.ok()) return s;
  if (!response.error().empty()) return absl::UnavailableError(absl::StrCat("etcd LeaseGrant: ", response.error()));
  return response.id();
}

absl::StatusOr<absl::Duration> EtcdClient::KeepAlive(int64_t lease) {
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseKeepAliveResponse response;
  bool answered = false;
  const grpc::Status status = Run("LeaseKeepAlive", [&](Endpoint& endpoint, grpc::ClientContext& context) {
    std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>>
        stream = endpoint.lease->LeaseKeepAlive(&context);
    answered = stream->Write(request) && stream->Read(&response);
    stream->WritesDone();
    if (answered) context.TryCancel();  // One renewal is all we came for.
    const grpc::Status finished = stream->Finish();
    return answered ? grpc::Status::OK : finished;
  });
  if (absl::Status s = FromGrpc("LeaseKeepAlive", status); !s.ok()) return s;
  if (!answered) return absl::UnavailableError("etcd LeaseKeepAlive: no answer");
  return absl::Seconds(response.ttl());
}

absl::Status EtcdClient::RevokeLease(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseRevokeResponse response;
  return FromGrpc("LeaseRevoke", Run("LeaseRevoke", [&](Endpoint& endpoint, grpc::ClientContext& context) {
                    return endpoint.lease->LeaseRevoke(&context, request, &response);
                  }));
}

absl::StatusOr<StoredKey> EtcdClient::CreateIfAbsent(absl::string_view key, absl::string_view value,
                                                     int64_t lease) {
  // If the key was never created (create revision 0), put it; either way,
  // read it back.
  etcdserverpb::TxnRequest request;
  etcdserverpb::Compare* compare = request.add_compare();
  compare->set_key(std::string(key));
  compare->set_target(etcdserverpb::Compare::CREATE);
  compare->set_result(etcdserverpb::Compare::EQUAL);
  compare->set_create_revision(0);
  etcdserverpb::PutRequest* put = request.add_success()->mutable_request_put();
  put->set_key(std::string(key));
  put->set_value(std::string(value));
  put->set_lease(lease);
  request.add_success()->mutable_request_range()->set_key(std::string(key));
  request.add_failure()->mutable_request_range()->set_key(std::string(key));
  etcdserverpb::TxnResponse response;
  const grpc::Status status = Run("Txn", [&](Endpoint& endpoint, grpc::ClientContext& context) {
    return endpoint.kv->Txn(&context, request, &response);
  });
  if (absl::Status s = FromGrpc("Txn", status); !s.ok()) return s;
  for (const etcdserverpb::ResponseOp& op : response.responses()) {
    if (op.has_response_range() && op.response_range().kvs_size() == 1) {
      return FromKeyValue(op.response_range().kvs(0));
    }
  }
  // Created and gone at once (its lease expired in between): nobody holds it.
  return absl::UnavailableError(absl::StrCat("etcd Txn: ", key, " vanished while it was created"));
}

absl::StatusOr<std::optional<StoredKey>> EtcdClient::Get(absl::string_view key) {
  etcdserverpb::RangeRequest request;
  request.set_key(std::string(key));
  etcdserverpb::RangeResponse response;
  const grpc::Status status = Run("Range", [&](Endpoint& endpoint, grpc::ClientContext& context) {
    return endpoint.kv->Range(&context, request, &response);
  });
  if (absl::Status s = FromGrpc("Range", status); !s.ok()) return s;
  if (response.kvs_size() == 0) return std::optional<StoredKey>();
  return std::optional<StoredKey>(FromKeyValue(response.kvs(0)));
}

absl::StatusOr<int64_t> EtcdClient::PutIfHeld(absl::string_view guard, int64_t guard_revision, absl::string_view key,
                                              absl::string_view value) {
  etcdserverpb::TxnRequest request;
  etcdserverpb::Compare* compare = request.add_compare();
  compare->set_key(std::string(guard));
  compare->set_target(etcdserverpb::Compare::CREATE);
  compare->set_result(etcdserverpb::Compare::EQUAL);
  compare->set_create_revision(guard_revision);
  etcdserverpb::PutRequest* put = request.add_success()->mutable_request_put();
  put->set_key(std::string(key));
  put->set_value(std::string(value));
  etcdserverpb::TxnResponse response;
  const grpc::Status status = Run("Txn", [&](Endpoint& endpoint, grpc::ClientContext& context) {
    return endpoint.kv->Txn(&context, request, &response);
  });
  if (absl::Status s = FromGrpc("Txn", status); !s.ok()) return s;
  if (!response.succeeded()) {
    return absl::FailedPreconditionError(
        absl::StrCat(guard, " no longer has create revision ", guard_revision, ": another leader's term"));
  }
  return response.header().revision();
}

}  // namespace tributary::coordinator
