// Checks an image's device manifest (the MORGANA ELF note, DESIGN.md §4) before the
// monitor trusts any of it: ABI version, device count, names and types.
#pragma once

#include <string>

#include "platform/abi/hvt_abi.h"

namespace morgana::tender {

// Returns "" when the manifest is well formed, else a one-line message naming the
// problem, e.g. "image built for ABI 2, this monitor speaks 1". Only the first
// entry_count entries are examined; the rest are padding.
std::string validate_manifest(const abi::Manifest& manifest);

}  // namespace morgana::tender
