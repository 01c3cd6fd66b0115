// Names for error codes, for messages and logs ("timed out" reads better than 9).
#include "morgana/rt/result.h"

namespace morgana {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid argument";
    case Errc::kNotFound:
      return "not found";
    case Errc::kAgain:
      return "try again";
    case Errc::kIo:
      return "I/O error";
    case Errc::kNoMemory:
      return "out of memory";
    case Errc::kUnsupported:
      return "unsupported";
    case Errc::kOutOfRange:
      return "out of range";
    case Errc::kReadOnly:
      return "read-only";
    case Errc::kTimedOut:
      return "timed out";
    case Errc::kCancelled:
      return "cancelled";
    case Errc::kExists:
      return "already exists";
    case Errc::kMalformed:
      return "malformed input";
    case Errc::kConnectionReset:
      return "connection reset";
    case Errc::kConnectionRefused:
      return "connection refused";
    case Errc::kClosed:
      return "closed";
    case Errc::kAddressInUse:
      return "address in use";
    case Errc::kUnreachable:
      return "unreachable";
  }
  // Not a named code: a value cast from an integer. Say so rather than guess.
  return "unknown error";
}

}  // namespace morgana
