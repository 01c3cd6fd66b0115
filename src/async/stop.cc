// StopSource: the request that wakes every await registered with it (see stop.h).
#include "morgana/async/stop.h"

#include <cstddef>
#include <type_traits>

namespace morgana::async {

StopSource::StopSource(StopToken parent) {
  StopSource* source = parent.source();
  if (source == nullptr) return;
  parent_link_.on_stop = &StopSource::on_parent_stop;
  if (!source->add(&parent_link_)) stopped_ = true;  // the parent stopped already
}

StopSource::~StopSource() {
  parent_link_.unregister();
  callbacks_.detach_all();
}

void StopSource::on_parent_stop(StopCallback* callback) {
  // parent_link_ is a member: step back from it to the source that owns it (offsetof is
  // well-defined here because StopSource is standard layout).
  static_assert(std::is_standard_layout_v<StopSource>);
  auto* self = reinterpret_cast<StopSource*>(reinterpret_cast<char*>(callback) -
                                             offsetof(StopSource, parent_link_));
  self->request_stop();
}

bool StopSource::request_stop() {
  if (stopped_) return false;
  stopped_ = true;
  // Each callback is unlinked before it runs, so a callback may unregister others (or
  // itself) safely; none can be added now that stopped_ is set.
  while (detail::ListNode* node = callbacks_.pop_front()) {
    StopCallback* callback = reinterpret_cast<StopCallback*>(node);
    callback->on_stop(callback);
  }
  return true;
}

bool StopSource::add(StopCallback* callback) {
  if (stopped_) return false;
  callbacks_.push_back(&callback->node);
  return true;
}

}  // namespace morgana::async
