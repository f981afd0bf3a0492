#include "server/request_record.hpp"

#include "protocol/wire.hpp"

namespace lumbung::server {

LogLevel request_level(const HttpResponse& response) {
  return response.status >= 500 ? LogLevel::kError : LogLevel::kInfo;
}

std::vector<LogField> request_fields(const RequestRecord& record, const HttpResponse& response) {
  const auto elapsed = std::chrono::steady_clock::now() - record.started;
  const double ms =
      static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()) /
      1000.0;
  std::vector<LogField> fields = {
      {"id", record.id}, {"route", record.route}, {"status", std::int64_t{response.status}}};
  if (response.status >= 300) {
    fields.push_back(
        {"error", std::string(error_name(protocol::status_from_response(response).code()))});
  }
  fields.push_back({"officer", record.officer});
  fields.push_back({"device", record.device});
  fields.push_back({"villages", record.villages});
  if (record.villages_total > static_cast<std::int64_t>(record.villages.size())) {
    fields.push_back({"villages_total", record.villages_total});
  }
  fields.push_back({"applied", record.applied});
  fields.push_back({"superseded", record.superseded});
  fields.push_back({"refused", record.refused});
  fields.push_back({"conflicts", record.conflicts});
  fields.push_back({"rows", record.rows});
  fields.push_back({"bytes_in", static_cast<std::int64_t>(record.bytes_in)});
  fields.push_back({"bytes_out", static_cast<std::int64_t>(response.body.size())});
  fields.push_back({"ms", ms});
  return fields;
}

}  // namespace lumbung::server
