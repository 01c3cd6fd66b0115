// Where the dns example's zones come from, chosen per image at build time: `dns` links
// zones_compiled.cc (the zone files of zones/, compiled in), `dns_tar` links zones_tar.cc
// (every *.zone file of a tar archive on block device `storage`).
#pragma once

#include "morgana/async/task.h"
#include "morgana/proto/dns/zone.h"
#include "morgana/rt/result.h"

namespace dns_example {

// Loads and parses every zone; the origin of each is its file name without ".zone"
// (`morgana.test.zone` serves `morgana.test.`). A zone that does not load stops the
// server: the reason is printed first, with the file, line and cause for a zone file
// that does not parse.
morgana::async::Task<morgana::Result<morgana::dns::Zones>> load_zones();

}  // namespace dns_example
