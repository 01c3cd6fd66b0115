// The async runtime in one include: Task, the Loop, Scope and spawn, timers, cancellation,
// when_all / when_any / with_timeout, Event, Semaphore and Channel. See docs/async.md.
#pragma once

#include "morgana/async/channel.h"    // IWYU pragma: export
#include "morgana/async/event.h"      // IWYU pragma: export
#include "morgana/async/loop.h"       // IWYU pragma: export
#include "morgana/async/scope.h"      // IWYU pragma: export
#include "morgana/async/semaphore.h"  // IWYU pragma: export
#include "morgana/async/stop.h"       // IWYU pragma: export
#include "morgana/async/task.h"       // IWYU pragma: export
#include "morgana/async/timeout.h"    // IWYU pragma: export
#include "morgana/async/when_all.h"   // IWYU pragma: export
#include "morgana/async/when_any.h"   // IWYU pragma: export
