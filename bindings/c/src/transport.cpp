// The HTTP hand-off: a lumbung::Transport that gives each request to the
// app's callback (OkHttp, URLSession) and takes its answer.
#include <cstdint>
#include <string>

#include "config.hpp"
#include "handles.hpp"

using namespace lumbung;
using namespace lumbung::c_api;

namespace {

class AppTransport final : public Transport {
 public:
  AppTransport(lumbung_transport_fn fn, void* userdata, void (*free_userdata)(void*))
      : fn_(fn), userdata_(userdata), free_userdata_(free_userdata) {}
  ~AppTransport() override {
    if (free_userdata_ != nullptr) free_userdata_(userdata_);
  }
  AppTransport(const AppTransport&) = delete;
  AppTransport& operator=(const AppTransport&) = delete;

  Result<HttpResponse> exchange(const HttpRequest& request) override {
    AppAnswer answer;
    fn_(userdata_, to_c(&request), to_c(&answer));
    if (!answer.failure.is_ok()) return answer.failure;
    if (answer.response.status == 0) {
      return Status(ErrorCode::kNetwork,
                    "the app's transport gave neither a response nor an error");
    }
    return std::move(answer.response);
  }

 private:
  lumbung_transport_fn fn_;
  void* userdata_;
  void (*free_userdata_)(void*);
};

}  // namespace

extern "C" {

const char* lumbung_http_request_method(const lumbung_http_request* request) noexcept {
  return cpp(request)->method.c_str();
}
const char* lumbung_http_request_path(const lumbung_http_request* request) noexcept {
  return cpp(request)->target.c_str();
}
size_t lumbung_http_request_header_count(const lumbung_http_request* request) noexcept {
  return cpp(request)->headers.size();
}
const char* lumbung_http_request_header_name(const lumbung_http_request* request,
                                             size_t index) noexcept {
  return cpp(request)->headers[index].first.c_str();
}
const char* lumbung_http_request_header_value(const lumbung_http_request* request,
                                              size_t index) noexcept {
  return cpp(request)->headers[index].second.c_str();
}
const void* lumbung_http_request_body(const lumbung_http_request* request,
                                      size_t* out_size) noexcept {
  *out_size = cpp(request)->body.size();
  return cpp(request)->body.data();
}

void lumbung_http_response_set_status(lumbung_http_response* response, int status) noexcept {
  cpp(response)->response.status = status;
}
void lumbung_http_response_add_header(lumbung_http_response* response, const char* name,
                                      const char* value) noexcept {
  cpp(response)->response.headers.emplace_back(name, value);
}
void lumbung_http_response_set_body(lumbung_http_response* response, const void* data,
                                    size_t size) noexcept {
  cpp(response)->response.body.assign(static_cast<const char*>(data), data == nullptr ? 0 : size);
}
void lumbung_http_response_fail(lumbung_http_response* response, lumbung_code_e code,
                                const char* message) noexcept {
  cpp(response)->failure =
      Status(code == LUMBUNG_TIMEOUT ? ErrorCode::kTimeout : ErrorCode::kNetwork, message);
}

lumbung_transport* lumbung_transport_new(lumbung_transport_fn fn, void* userdata,
                                         void (*free_userdata)(void*)) noexcept {
  return new lumbung_transport{std::make_shared<AppTransport>(fn, userdata, free_userdata)};
}
void lumbung_transport_free(lumbung_transport* transport) noexcept { delete transport; }

}  // extern "C"
