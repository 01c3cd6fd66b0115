// The framing core under both HTTP parsers (framing.h): lines read in pieces of every
// size with their limits, field lines, Content-Length and Transfer-Encoding values, and
// chunked bodies as curl and nginx send them, with every error the decoder reports.
#include "morgana/proto/http/framing.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace morgana::http {
namespace {

using Step = LineReader::Step;

TEST(LineReader, LinesInPiecesOfEverySize) {
  // RFC 9112 §2.2: CRLF or a bare LF ends a line; the CR is not part of it.
  const std::string_view input = "GET / HTTP/1.1\r\nHost: a\n\r\n";
  for (size_t piece = 1; piece <= input.size(); ++piece) {
    LineReader reader;
    std::vector<std::string> lines;
    for (size_t offset = 0; offset < input.size(); offset += piece) {
      std::string_view part = input.substr(offset, piece);
      size_t at = 0;
      while (at < part.size()) {
        Step step = reader.read(part, at, kNoLineLimit, 1000);
        ASSERT_NE(step, Step::kLineTooLong);
        ASSERT_NE(step, Step::kSectionTooLarge);
        if (step == Step::kLine) lines.emplace_back(reader.line());
      }
    }
    EXPECT_EQ(lines, (std::vector<std::string>{"GET / HTTP/1.1", "Host: a", ""})) << piece;
    EXPECT_EQ(reader.text(), input);  // the section, as received
  }
}

TEST(LineReader, LineLimitAllowsItsLineEnding) {
  // A line of max_line bytes may carry CRLF; a line still open may hold only its CR more.
  LineReader reader;
  size_t at = 0;
  EXPECT_EQ(reader.read("abcd\r\n", at, 4, 1000), Step::kLine);
  EXPECT_EQ(reader.line(), "abcd");
  at = 0;
  EXPECT_EQ(reader.read("abcd\r", at, 4, 1000), Step::kPartial);
  reader.start_section();
  at = 0;
  EXPECT_EQ(reader.read("abcde\r\n", at, 4, 1000), Step::kLineTooLong);
  reader.start_section();
  at = 0;
  EXPECT_EQ(reader.read("abcdef", at, 4, 1000), Step::kLineTooLong);
  EXPECT_EQ(at, 0u);  // nothing taken
  EXPECT_TRUE(reader.text().empty());
  // The limit counts the bytes of earlier pieces of the same line.
  at = 0;
  EXPECT_EQ(reader.read("abc", at, 4, 1000), Step::kPartial);
  at = 0;
  EXPECT_EQ(reader.read("de\r\n", at, 4, 1000), Step::kLineTooLong);
}

TEST(LineReader, SectionLimitCountsEveryLine) {
  LineReader reader;
  size_t at = 0;
  const std::string_view input = "a: 1\r\nb: 2\r\n";
  EXPECT_EQ(reader.read(input, at, kNoLineLimit, 11), Step::kLine);
  EXPECT_EQ(reader.read(input, at, kNoLineLimit, 11), Step::kSectionTooLarge);
  EXPECT_EQ(at, 6u);
  // A new section starts from nothing.
  reader.start_section();
  EXPECT_EQ(reader.read(input, at, kNoLineLimit, 11), Step::kLine);
  EXPECT_EQ(reader.line(), "b: 2");
}

TEST(FieldLine, NamesAndValues) {
  FieldLine field;
  ASSERT_EQ(parse_field_line("Content-Type: \t text/html \t", field), FieldError::kNone);
  EXPECT_EQ(field.name, "Content-Type");
  EXPECT_EQ(field.value, "text/html");
  ASSERT_EQ(parse_field_line("X-Empty:", field), FieldError::kNone);
  EXPECT_EQ(field.value, "");
  EXPECT_EQ(parse_field_line("no colon", field), FieldError::kNoName);
  EXPECT_EQ(parse_field_line(": value", field), FieldError::kNoName);
  // RFC 9112 §5.1: whitespace before the colon is refused, not trimmed.
  EXPECT_EQ(parse_field_line("Host : a", field), FieldError::kBadName);
  EXPECT_EQ(parse_field_line(" Host: a", field), FieldError::kBadName);
  // RFC 9110 §5.5: CR, LF, NUL and other controls are refused in values.
  EXPECT_EQ(parse_field_line(std::string_view("A: b\0c", 6), field), FieldError::kBadValue);
  EXPECT_EQ(parse_field_line("A: b\rc", field), FieldError::kBadValue);
  EXPECT_EQ(parse_field_line("A: caf\xc3\xa9", field), FieldError::kNone);  // obs-text
}

TEST(ContentLength, ListsLimitsAndConflicts) {
  ContentLength length;
  ASSERT_EQ(add_content_length("42", 100, length), LengthError::kNone);
  EXPECT_TRUE(length.present);
  EXPECT_EQ(length.value, 42u);
  // RFC 9112 §6.3 rule 5: identical values, in one field or several, are one value.
  ASSERT_EQ(add_content_length("42, 42", 100, length), LengthError::kNone);
  EXPECT_EQ(add_content_length("42, 43", 100, length), LengthError::kConflict);
  ContentLength other;
  EXPECT_EQ(add_content_length("101", 100, other), LengthError::kTooLarge);
  // A value over the limit is refused as soon as its digits pass it, before a conflict.
  ContentLength first;
  EXPECT_EQ(add_content_length("101, 1", 100, first), LengthError::kTooLarge);
  for (std::string_view bad : {"", " ", ",1", "1,,1", "+1", "-1", "0x10", "1 2", "1.0"}) {
    ContentLength l;
    EXPECT_EQ(add_content_length(bad, 100, l), LengthError::kBad) << bad;
  }
  // No number wraps around, whatever the limit.
  ContentLength huge;
  EXPECT_EQ(add_content_length("18446744073709551616", UINT64_MAX, huge), LengthError::kTooLarge);
  ContentLength max;
  ASSERT_EQ(add_content_length("18446744073709551615", UINT64_MAX, max), LengthError::kNone);
  EXPECT_EQ(max.value, UINT64_MAX);
}

TEST(TransferCodings, Summary) {
  TransferCodings c = read_transfer_codings("chunked");
  EXPECT_EQ(c.chunked, 1u);
  EXPECT_EQ(c.other, 0u);
  EXPECT_TRUE(c.last_chunked);
  c = read_transfer_codings("gzip, Chunked");
  EXPECT_EQ(c.chunked, 1u);
  EXPECT_EQ(c.other, 1u);
  EXPECT_TRUE(c.last_chunked);
  c = read_transfer_codings("chunked, gzip");
  EXPECT_FALSE(c.last_chunked);
  c = read_transfer_codings("chunked, , chunked ,");  // empty elements are skipped
  EXPECT_EQ(c.chunked, 2u);
  EXPECT_TRUE(c.last_chunked);
  c = read_transfer_codings("");
  EXPECT_EQ(c.chunked + c.other, 0u);
  EXPECT_FALSE(c.last_chunked);
}

TEST(KeepsAlive, VersionDefaults) {
  // RFC 9112 §9.3.
  EXPECT_TRUE(keeps_alive(1, ""));
  EXPECT_FALSE(keeps_alive(1, "close"));
  EXPECT_FALSE(keeps_alive(1, "keep-alive, Close"));
  EXPECT_FALSE(keeps_alive(0, ""));
  EXPECT_TRUE(keeps_alive(0, "Keep-Alive"));
  EXPECT_FALSE(keeps_alive(0, "keep-alive, close"));
}

struct Decoded {
  ChunkedDecoder::Event last;
  ChunkedDecoder::Error error;
  std::string content;
  std::vector<std::string> trailers;
  size_t consumed;
};

// Feeds `input` in pieces of `piece` bytes until the end, an error or the input runs out.
Decoded decode(std::string_view input, size_t piece = SIZE_MAX,
               ChunkedDecoder::Limits limits = {
                   .max_line = 1024, .max_trailer_bytes = 16384, .max_body = 1 << 20}) {
  ChunkedDecoder decoder;
  decoder.start(limits);
  Decoded d{ChunkedDecoder::Event::kNeedInput, ChunkedDecoder::Error::kNone, {}, {}, 0};
  size_t offset = 0;
  while (offset < input.size()) {
    std::string_view part = input.substr(offset, std::min(piece, input.size() - offset));
    size_t at = 0;
    for (;;) {
      std::string_view out;
      d.last = decoder.next(part, at, out);
      if (d.last == ChunkedDecoder::Event::kData) d.content += out;
      if (d.last == ChunkedDecoder::Event::kTrailer) d.trailers.emplace_back(out);
      if (d.last == ChunkedDecoder::Event::kNeedInput || d.last == ChunkedDecoder::Event::kEnd ||
          d.last == ChunkedDecoder::Event::kError)
        break;
    }
    d.consumed = offset + at;
    d.error = decoder.error();
    if (d.last != ChunkedDecoder::Event::kNeedInput) break;
    offset += part.size();
  }
  return d;
}

TEST(ChunkedDecoder, CurlUploadInEveryPieceSize) {
  // curl 7.88.1's `-H 'Transfer-Encoding: chunked' -d @-` body, then the next request.
  const std::string_view body = "b\r\nhello world\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
  for (size_t piece = 1; piece <= body.size(); ++piece) {
    Decoded d = decode(body, piece);
    EXPECT_EQ(d.last, ChunkedDecoder::Event::kEnd) << piece;
    EXPECT_EQ(d.content, "hello world") << piece;
    EXPECT_EQ(d.consumed, body.find("GET")) << piece;  // not a byte of the next message
  }
}

TEST(ChunkedDecoder, ExtensionsAndTrailers) {
  // RFC 9112 §7.1.1: extensions (with BWS before the ';') are ignored; §7.1.2: trailer
  // field lines go to the caller, which parses them.
  Decoded d = decode("5 ;name=\"v\"\r\nhello\r\n6;x\r\n world\r\n0\r\nDigest: abc\r\nX: 1\n\r\n");
  EXPECT_EQ(d.last, ChunkedDecoder::Event::kEnd);
  EXPECT_EQ(d.content, "hello world");
  EXPECT_EQ(d.trailers, (std::vector<std::string>{"Digest: abc", "X: 1"}));
}

TEST(ChunkedDecoder, EveryError) {
  using Error = ChunkedDecoder::Error;
  struct Case {
    std::string input;
    Error error;
  } cases[] = {
      {"zz\r\n", Error::kBadSize},
      {"\r\n", Error::kBadSize},
      {"5 x\r\n", Error::kBadSize},
      {" 5\r\n", Error::kBadSize},
      {"1;ext=\x01\r\n", Error::kBadExtension},
      {"3\r\nabcd\r\n", Error::kDataTooLong},
      {"3\r\nabc\r\r\n", Error::kDataTooLong},  // a bare CR is not the CRLF after data
      {"ffffffffffffffffffff\r\n", Error::kSizeTooLarge},
      {"100001\r\n", Error::kBodyTooLarge},
      {"80000\r\n" + std::string(0x80000, 'a') + "\r\n80001\r\n", Error::kBodyTooLarge},
      {"1" + std::string(1100, '0') + "\r\n", Error::kLineTooLong},
      {"0\r\n" + std::string(16385, 'a'), Error::kTrailerTooLarge},
  };
  for (const Case& c : cases) {
    for (size_t piece : {size_t(1), size_t(7), SIZE_MAX}) {
      Decoded d = decode(c.input, piece);
      EXPECT_EQ(d.last, ChunkedDecoder::Event::kError) << c.input.substr(0, 40) << " " << piece;
      EXPECT_EQ(d.error, c.error) << c.input.substr(0, 40) << " " << piece;
    }
  }
}

TEST(ChunkedDecoder, LimitsAreExact) {
  ChunkedDecoder::Limits limits{.max_line = 4, .max_trailer_bytes = 8, .max_body = 5};
  // A chunk-size line of exactly max_line bytes, content of exactly max_body bytes and a
  // trailer section of exactly max_trailer_bytes bytes are accepted.
  Decoded ok = decode("5;ab\r\nhello\r\n0\r\nA: 1\r\n\r\n", SIZE_MAX, limits);
  EXPECT_EQ(ok.last, ChunkedDecoder::Event::kEnd);
  EXPECT_EQ(ok.content, "hello");
  EXPECT_EQ(decode("5;abc\r\n", SIZE_MAX, limits).error, ChunkedDecoder::Error::kLineTooLong);
  EXPECT_EQ(decode("6\r\n", SIZE_MAX, limits).error, ChunkedDecoder::Error::kBodyTooLarge);
  EXPECT_EQ(decode("0\r\nA: 12\r\n\r\n", SIZE_MAX, limits).error,
            ChunkedDecoder::Error::kTrailerTooLarge);
  // The chunk lines' bytes do not count against the trailer section.
  Decoded many = decode("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\nA: 1\r\n\r\n", SIZE_MAX, limits);
  EXPECT_EQ(many.last, ChunkedDecoder::Event::kEnd);
  EXPECT_EQ(many.content, "abc");
}

}  // namespace
}  // namespace morgana::http
