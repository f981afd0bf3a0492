// The configuration handles, and the app's transport a sync config carries.
#pragma once

#include <memory>

#include "lumbung.h"
#include "lumbung/replica.hpp"
#include "lumbung/sync.hpp"

struct lumbung_db_config {
  lumbung::ReplicaOptions options;
};

struct lumbung_sync_config {
  lumbung::SyncOptions options;
};

struct lumbung_transport {
  std::shared_ptr<lumbung::Transport> transport;
};
