// HTTP/1.1 framing shared by RequestParser and ResponseParser (framing.h): one line
// reader, one field-line grammar, one Content-Length and Transfer-Encoding reading, one
// chunked decoder, each checking its limits as bytes arrive.
#include "morgana/proto/http/framing.h"

#include <algorithm>
#include <cstring>

#include "morgana/proto/http/request.h"  // iequals, list_contains
#include "syntax.h"

namespace morgana::http {
namespace {

// RFC 9112 §7.1: chunk-size = 1*HEXDIG, then optional extensions, which we ignore
// (§7.1.1: a recipient MUST ignore unrecognised extensions).
ChunkedDecoder::Error parse_chunk_size(std::string_view line, uint64_t& size) {
  using Error = ChunkedDecoder::Error;
  size_t digits = 0;
  size = 0;
  while (digits < line.size() && is_hex_digit(line[digits])) {
    // Past 2^56 no body limit could allow it, and one more digit still fits 64 bits.
    if (size > (uint64_t(1) << 56)) return Error::kSizeTooLarge;
    size = size * 16 + hex_value(line[digits]);
    ++digits;
  }
  if (digits == 0) return Error::kBadSize;
  std::string_view rest = line.substr(digits);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (!rest.empty() && rest.front() != ';') return Error::kBadSize;
  if (!valid_field_value(rest)) return Error::kBadExtension;
  return Error::kNone;
}

}  // namespace

LineReader::Step LineReader::read(std::string_view input, size_t& at, size_t max_line,
                                  size_t max_section) {
  const char* start = input.data() + at;
  size_t left = input.size() - at;
  const char* lf = static_cast<const char*>(std::memchr(start, '\n', left));
  size_t take = lf ? size_t(lf - start) + 1 : left;
  size_t line_bytes = text_.size() - line_start_ + take;
  // A complete line may carry CRLF after its max_line bytes; one still open, only the CR.
  if (max_line != kNoLineLimit && line_bytes > max_line + (lf ? 2 : 1)) return Step::kLineTooLong;
  if (text_.size() + take > max_section) return Step::kSectionTooLarge;
  text_.append(start, take);
  at += take;
  if (!lf) return Step::kPartial;
  // RFC 9112 §2.2: a lone LF may end a line, and a CR before it is dropped.
  line_ = strip_cr(std::string_view(text_).substr(line_start_, text_.size() - line_start_ - 1));
  line_start_ = text_.size();
  return Step::kLine;
}

FieldError parse_field_line(std::string_view line, FieldLine& field) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return FieldError::kNoName;
  std::string_view name = line.substr(0, colon);
  // RFC 9112 §5.1: no whitespace between the field name and the colon; such a field is a
  // known way to smuggle a second reading of the message, so it is refused.
  if (!valid_token(name)) return FieldError::kBadName;
  std::string_view value = trim_ows(line.substr(colon + 1));
  if (!valid_field_value(value)) return FieldError::kBadValue;
  field = {name, value};
  return FieldError::kNone;
}

LengthError add_content_length(std::string_view field_value, uint64_t max, ContentLength& length) {
  std::string_view list = field_value;
  do {
    size_t comma = list.find(',');
    std::string_view item = trim_ows(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    // RFC 9112 §8.6: Content-Length = 1*DIGIT.
    if (item.empty()) return LengthError::kBad;
    uint64_t value = 0;
    for (char c : item) {
      if (!is_digit(c)) return LengthError::kBad;
      if (__builtin_mul_overflow(value, 10u, &value) ||
          __builtin_add_overflow(value, uint64_t(c - '0'), &value) || value > max)
        return LengthError::kTooLarge;
    }
    if (length.present && value != length.value) return LengthError::kConflict;
    length.present = true;
    length.value = value;
  } while (!list.empty());
  return LengthError::kNone;
}

TransferCodings read_transfer_codings(std::string_view list) {
  TransferCodings codings;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = trim_ows(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;  // RFC 9110 §5.6.1: empty list elements are ignored
    codings.last_chunked = iequals(item, "chunked");
    if (codings.last_chunked)
      ++codings.chunked;
    else
      ++codings.other;
  }
  return codings;
}

bool keeps_alive(uint8_t version_minor, std::string_view connection) {
  // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
  if (version_minor == 0)
    return list_contains(connection, "keep-alive") && !list_contains(connection, "close");
  return !list_contains(connection, "close");
}

void ChunkedDecoder::start(const Limits& limits) {
  limits_ = limits;
  state_ = State::kSize;
  error_ = Error::kNone;
  remaining_ = 0;
  decoded_ = 0;
  lines_.start_section();
}

ChunkedDecoder::Event ChunkedDecoder::next(std::string_view input, size_t& at,
                                           std::string_view& out) {
  for (;;) {
    if (state_ == State::kError) return Event::kError;
    if (state_ == State::kDone) return Event::kEnd;
    if (at >= input.size()) return Event::kNeedInput;
    if (state_ == State::kData) {
      size_t take = size_t(std::min<uint64_t>(remaining_, input.size() - at));
      out = input.substr(at, take);
      at += take;
      remaining_ -= take;
      if (remaining_ == 0) state_ = State::kDataEnd;
      return Event::kData;
    }
    bool trailer = state_ == State::kTrailer;
    LineReader::Step step =
        lines_.read(input, at, trailer ? kNoLineLimit : limits_.max_line,
                    trailer ? limits_.max_trailer_bytes : std::numeric_limits<size_t>::max());
    if (step == LineReader::Step::kLineTooLong) return fail(Error::kLineTooLong);
    if (step == LineReader::Step::kSectionTooLarge) return fail(Error::kTrailerTooLarge);
    if (step == LineReader::Step::kPartial) continue;
    std::string_view line = lines_.line();
    if (trailer) {
      // RFC 9112 §7.1.2: trailer fields, then an empty line.
      if (line.empty()) {
        state_ = State::kDone;
        return Event::kEnd;
      }
      out = line;
      return Event::kTrailer;
    }
    bool data_end = state_ == State::kDataEnd;
    uint64_t size = 0;
    // RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
    Error error = data_end ? (line.empty() ? Error::kNone : Error::kDataTooLong)
                           : parse_chunk_size(line, size);
    // Chunk lines have their own limit each; only the trailer section is counted whole.
    // (After this, `line` no longer points at the line.)
    lines_.start_section();
    if (error != Error::kNone) return fail(error);
    if (data_end) {
      state_ = State::kSize;
      continue;
    }
    if (size > limits_.max_body - decoded_) return fail(Error::kBodyTooLarge);
    decoded_ += size;
    remaining_ = size;
    state_ = size == 0 ? State::kTrailer : State::kData;
  }
}

}  // namespace morgana::http
