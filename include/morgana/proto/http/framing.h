// HTTP/1.1 message framing shared by the request parser and the client's response parser
// (RFC 9112): lines read from input that arrives in pieces, field lines, Content-Length and
// Transfer-Encoding values, and the chunked transfer coding. The parsers hold these by
// value, so the header is public; applications use parser.h and response_parser.h.
//
// The pieces report *what* went wrong as an enum; each parser maps it to its own answer
// (a status code for the server, an Errc for the client), so one grammar serves both roles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace morgana::http {

// No limit, for LineReader::read's max_line.
inline constexpr size_t kNoLineLimit = std::numeric_limits<size_t>::max();

// Assembles lines (RFC 9112 §2.2: a line ends at LF, and a CR before it is dropped) from
// input that arrives in pieces of any size. The lines of one section (a head, a trailer
// section) are kept back to back in text(), so a section's size is bounded as it grows and
// views into a head stay valid until start_section().
class LineReader {
 public:
  enum class Step : uint8_t {
    kPartial,          // every byte given was taken; the line goes on in the next input
    kLine,             // line() is complete
    kLineTooLong,      // the line would pass max_line; nothing was taken
    kSectionTooLarge,  // the section would pass max_section; nothing was taken
  };

  // Takes input from `at` up to and including the next LF, advancing `at`, unless that
  // would make the line longer than `max_line` bytes (not counting its CRLF; a line still
  // without its LF may hold one byte more, its CR) or the section longer than
  // `max_section` bytes (every line, line endings included). Limits are checked before
  // anything is buffered, so a peer never makes the reader hold more than they allow.
  Step read(std::string_view input, size_t& at, size_t max_line, size_t max_section);

  // The last complete line without its line ending; valid until the next read() or
  // start_section().
  std::string_view line() const { return line_; }
  // Every byte of the section so far, as received.
  const std::string& text() const { return text_; }
  // Forgets the section's lines (keeping the buffer's capacity): what follows is counted
  // against a new section.
  void start_section() {
    text_.clear();
    line_start_ = 0;
    line_ = {};
  }

 private:
  std::string text_;
  size_t line_start_ = 0;  // where the line being assembled starts in text_
  std::string_view line_;
};

// RFC 9112 §5.1: field-line = field-name ":" OWS field-value OWS.
struct FieldLine {
  std::string_view name;
  std::string_view value;  // without the optional whitespace around it
};

enum class FieldError : uint8_t {
  kNone,
  kNoName,    // no colon, or nothing before it
  kBadName,   // not a token (whitespace before the colon included)
  kBadValue,  // a control character in the value
};

// Splits one field line. Obsolete line folding (a line starting with SP or HTAB) is the
// caller's to handle first: here such a line has a bad name.
FieldError parse_field_line(std::string_view line, FieldLine& field);

enum class LengthError : uint8_t {
  kNone,
  kBad,       // not a list of decimal numbers
  kTooLarge,  // a value over the limit
  kConflict,  // values that differ (in this field or an earlier one)
};

// The Content-Length fields of a message, one at a time.
struct ContentLength {
  bool present = false;
  uint64_t value = 0;
};

// RFC 9112 §6.3 rule 5: adds one Content-Length field value to `length`. A list of
// identical values counts as that value; a value over `max` is refused as soon as its
// digits pass it (so no number overflows).
LengthError add_content_length(std::string_view field_value, uint64_t max, ContentLength& length);

// The transfer codings a message's Transfer-Encoding fields list (RFC 9112 §6.1), in
// summary: what the server and the client refuse differs, so each decides.
struct TransferCodings {
  size_t chunked = 0;         // times "chunked" is listed
  size_t other = 0;           // other codings listed
  bool last_chunked = false;  // the final coding is chunked
};

// `list` is every Transfer-Encoding value joined by commas; empty items are skipped.
TransferCodings read_transfer_codings(std::string_view list);

// RFC 9112 §9.3: whether the connection persists after this message, from its version
// and its Connection fields joined by commas.
bool keeps_alive(uint8_t version_minor, std::string_view connection);

// RFC 9112 §7.1: the chunked transfer coding, decoded as bytes arrive. The caller pulls
// events with next(): content bytes, each trailer field line (RFC 9112 §7.1.2) for the
// caller to parse, and the end. Chunk extensions are checked and ignored (§7.1.1).
class ChunkedDecoder {
 public:
  struct Limits {
    size_t max_line;           // bytes of a chunk-size line, extensions included
    size_t max_trailer_bytes;  // the trailer section, line endings included
    uint64_t max_body;         // content bytes, every chunk together
  };

  enum class Event : uint8_t {
    kNeedInput,  // every byte given was taken
    kData,       // `out` is content
    kTrailer,    // `out` is a trailer field line (not empty, without its line ending)
    kEnd,        // the empty line that ends the trailer section was read
    kError,      // error() says why; the decoder stays in error
  };

  enum class Error : uint8_t {
    kNone,
    kLineTooLong,      // a chunk-size line (or the CRLF after chunk data) past max_line
    kBadSize,          // no hex digits, or something other than extensions after them
    kSizeTooLarge,     // more hex digits than any body limit could allow
    kBadExtension,     // a control character in the extensions
    kBodyTooLarge,     // the chunks together pass max_body
    kDataTooLong,      // chunk data not followed by CRLF (longer than its size)
    kTrailerTooLarge,  // the trailer section past max_trailer_bytes
  };

  // Starts a chunked body (forgetting any earlier one).
  void start(const Limits& limits);

  // Decodes input from `at`, advancing it past what the event used. On kLineTooLong and
  // kTrailerTooLarge nothing of the offending line is taken; on the other errors the line
  // that has it is. `out` is valid until the next call.
  Event next(std::string_view input, size_t& at, std::string_view& out);

  Error error() const { return error_; }

  enum class Outcome : uint8_t {
    kNeedInput,  // every byte given was taken
    kEnd,        // the body ended; `at` is past it
    kError,      // error() says why
    kRefused,    // on_trailer refused a trailer field line (the caller knows why)
  };

  // Runs next() until the input is used up, the body ends or an error: content goes to
  // on_content(std::string_view), each trailer field line to on_trailer(std::string_view),
  // which returns false to refuse it. The one loop both parsers run.
  template <typename OnContent, typename OnTrailer>
  Outcome feed(std::string_view input, size_t& at, OnContent&& on_content, OnTrailer&& on_trailer) {
    for (;;) {
      std::string_view out;
      switch (next(input, at, out)) {
        case Event::kNeedInput:
          return Outcome::kNeedInput;
        case Event::kData:
          on_content(out);
          break;
        case Event::kTrailer:
          if (!on_trailer(out)) return Outcome::kRefused;
          break;
        case Event::kEnd:
          return Outcome::kEnd;
        case Event::kError:
          return Outcome::kError;
      }
    }
  }

 private:
  enum class State : uint8_t { kSize, kData, kDataEnd, kTrailer, kDone, kError };

  Event fail(Error error) {
    state_ = State::kError;
    error_ = error;
    return Event::kError;
  }
  Limits limits_{};
  State state_ = State::kDone;
  Error error_ = Error::kNone;
  uint64_t remaining_ = 0;  // of the current chunk's data
  uint64_t decoded_ = 0;    // content bytes of the chunks so far
  LineReader lines_;
};

// How a parser answers each ChunkedDecoder::Error (a status code for the server, an Errc
// for the client) and the reason it gives: one table a parser, one lookup for both.
template <typename Code>
struct ChunkedAnswers {
  struct Answer {
    Code code;
    const char* reason;
  };
  Answer line_too_long, bad_size, size_too_large, bad_extension, body_too_large, data_too_long,
      trailer_too_large;

  constexpr const Answer& operator[](ChunkedDecoder::Error error) const {
    switch (error) {
      case ChunkedDecoder::Error::kLineTooLong:
        return line_too_long;
      case ChunkedDecoder::Error::kSizeTooLarge:
        return size_too_large;
      case ChunkedDecoder::Error::kBadExtension:
        return bad_extension;
      case ChunkedDecoder::Error::kBodyTooLarge:
        return body_too_large;
      case ChunkedDecoder::Error::kDataTooLong:
        return data_too_long;
      case ChunkedDecoder::Error::kTrailerTooLarge:
        return trailer_too_large;
      case ChunkedDecoder::Error::kBadSize:
      case ChunkedDecoder::Error::kNone:  // not asked for: only after an error
        break;
    }
    return bad_size;
  }
};

}  // namespace morgana::http
