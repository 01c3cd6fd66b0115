// RFC 1035 §5 master files: a lexer that joins parenthesised lines into entries and a
// parser for directives and resource records. Every failure names its line.
#include "morgana/proto/dns/zone_file.h"

#include <optional>

#include "morgana/proto/dns/presentation.h"
#include "proto/dns/text.h"

namespace morgana::dns {
namespace {

// One logical entry: a line, or several joined by parentheses (RFC 1035 §5.1).
struct Entry {
  std::vector<Token> tokens;
  bool owner_omitted = false;  // the entry began with blank space
  size_t line = 0;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // The next non-empty entry; false at the end of the text.
  Result<bool> next(Entry& entry) {
    while (at_ < text_.size()) {
      entry.tokens.clear();
      entry.line = line_;
      entry.owner_omitted = text_[at_] == ' ' || text_[at_] == '\t';
      TRY(read_entry(entry));
      if (!entry.tokens.empty()) return true;
    }
    return false;
  }
  size_t error_line() const { return error_line_; }

 private:
  static bool delimiter(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' || c == ')' ||
           c == '"';
  }

  Result<void> read_entry(Entry& entry) {
    size_t depth = 0;
    while (at_ < text_.size()) {
      char c = text_[at_];
      if (c == '\n') {
        ++at_;
        ++line_;
        if (depth == 0) return ok();
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++at_;
      } else if (c == ';') {
        while (at_ < text_.size() && text_[at_] != '\n') ++at_;
      } else if (c == '(') {
        ++depth;
        ++at_;
      } else if (c == ')') {
        if (depth == 0) return fail(line_, "')' without a matching '('");
        --depth;
        ++at_;
      } else if (c == '"') {
        size_t start = ++at_;
        while (at_ < text_.size() && text_[at_] != '"') {
          if (text_[at_] == '\n') break;
          at_ += text_[at_] == '\\' && at_ + 1 < text_.size() && text_[at_ + 1] != '\n' ? 2 : 1;
        }
        if (at_ >= text_.size() || text_[at_] != '"')
          return fail(line_, "quoted string is not closed on its line");
        entry.tokens.push_back({text_.substr(start, at_ - start), true});
        ++at_;
      } else {
        size_t start = at_;
        while (at_ < text_.size() && !delimiter(text_[at_]))
          at_ += text_[at_] == '\\' && at_ + 1 < text_.size() && text_[at_ + 1] != '\n' ? 2 : 1;
        entry.tokens.push_back({text_.substr(start, at_ - start), false});
      }
    }
    if (depth != 0) return fail(entry.line, "'(' is not closed before the end of the file");
    return ok();
  }

  Error fail(size_t line, const char* reason) {
    error_line_ = line;
    return Error{Errc::kMalformed, reason};
  }

  std::string_view text_;
  size_t at_ = 0;
  size_t line_ = 1;
  size_t error_line_ = 0;
};

constexpr Error bad(const char* reason) {
  return Error{Errc::kMalformed, reason};
}

class Parser {
 public:
  Parser(const Name& apex) : apex_(apex), origin_(apex) {}

  Result<void> entry(const Entry& entry) {
    const auto& tokens = entry.tokens;
    if (!entry.owner_omitted && !tokens[0].quoted && tokens[0].text.starts_with("$"))
      return directive(tokens);
    return record(entry);
  }
  std::vector<Record> take() { return std::move(records_); }

 private:
  Result<void> directive(const std::vector<Token>& tokens) {
    std::string_view name = tokens[0].text;
    if (equal_ignoring_case(name, "$ORIGIN")) {
      if (tokens.size() != 2) return bad("$ORIGIN needs one name");
      auto origin = Name::parse(tokens[1].text, origin_);
      if (tokens[1].quoted || !origin.ok()) return bad("$ORIGIN is not a valid name");
      origin_ = *origin;
      return ok();
    }
    if (equal_ignoring_case(name, "$TTL")) {
      if (tokens.size() != 2) return bad("$TTL needs one value");
      auto ttl = parse_ttl(tokens[1].text);
      if (tokens[1].quoted || !ttl) return bad("$TTL is not a valid TTL");
      default_ttl_ = *ttl;
      return ok();
    }
    if (equal_ignoring_case(name, "$INCLUDE"))
      return bad("$INCLUDE is not supported: images have no file system");
    return bad("unknown directive (only $ORIGIN and $TTL are supported)");
  }

  Result<void> record(const Entry& entry) {
    const auto& tokens = entry.tokens;
    size_t at = 0;
    if (!entry.owner_omitted) {
      const Token& owner = tokens[at++];
      auto name = owner.text == "@" ? Result<Name>(origin_) : Name::parse(owner.text, origin_);
      if (owner.quoted || !name.ok()) return bad("owner is not a valid name");
      owner_ = *name;
    } else if (!owner_) {
      return bad("no owner name: the first record must name one");
    }
    if (!owner_->is_subdomain_of(apex_)) return bad("owner is outside the zone");

    // RFC 1035 §5.1: [<TTL>] [<class>] or [<class>] [<TTL>] before the type.
    std::optional<uint32_t> ttl;
    std::optional<Class> rclass;
    for (int i = 0; i < 2 && at < tokens.size() && !tokens[at].quoted; ++i) {
      std::string_view text = tokens[at].text;
      if (auto value = parse_ttl(text); value && !ttl) {
        ttl = *value;
        ++at;
      } else if (auto value = parse_class(text); value && !rclass && !parse_type(text)) {
        rclass = *value;
        ++at;
      } else {
        break;
      }
    }
    if (at >= tokens.size()) return bad("no record type");
    auto type = tokens[at].quoted ? std::nullopt : parse_type(tokens[at].text);
    if (!type) return bad("unknown record type");
    ++at;

    Record record;
    record.name = *owner_;
    record.type = *type;
    record.rclass = rclass ? *rclass : last_class_;
    if (ttl) {
      record.ttl = *ttl;
      last_ttl_ = *ttl;
    } else if (default_ttl_) {
      record.ttl = *default_ttl_;
    } else if (last_ttl_) {
      record.ttl = *last_ttl_;
    } else if (record.type != Type::kSoa) {
      return bad("no TTL: give one or set $TTL first");
    }
    last_class_ = record.rclass;
    record.rdata = TRY(parse_rdata(*type, std::span(tokens).subspan(at), origin_));
    if (!ttl && !default_ttl_ && !last_ttl_) {
      // RFC 1035's own example has no TTLs at all; like BIND, take the SOA's MINIMUM.
      record.ttl = std::get<Soa>(record.rdata).minimum;
      last_ttl_ = record.ttl;
    }
    records_.push_back(std::move(record));
    return ok();
  }

  Name apex_;
  Name origin_;
  std::optional<Name> owner_;
  std::optional<uint32_t> default_ttl_;  // $TTL
  std::optional<uint32_t> last_ttl_;     // the last TTL written out in a record
  Class last_class_ = Class::kIn;
  std::vector<Record> records_;
};

}  // namespace

std::string Diagnostic::message() const {
  std::string out = where;
  if (line != 0) out += ":" + decimal(line);
  return out + ": " + reason;
}

Result<std::vector<Record>> parse_zone_file(std::string_view text, const Name& origin,
                                            std::string_view file_name, Diagnostic& error) {
  Lexer lexer(text);
  Parser parser(origin);
  Entry entry;
  for (;;) {
    auto more = lexer.next(entry);
    Result<void> step =
        more.ok() ? (*more ? parser.entry(entry) : ok()) : Result<void>(more.error());
    if (!step.ok()) {
      error = {std::string(file_name), more.ok() ? entry.line : lexer.error_line(),
               step.error().what};
      return step.error();
    }
    if (!*more) break;
  }
  return parser.take();
}

}  // namespace morgana::dns
