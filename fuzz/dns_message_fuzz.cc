// libFuzzer target for the DNS message parser (src/proto/dns). Every message that decodes
// must re-encode and decode to the same message, every record's RDATA must survive its
// presentation form, and the authoritative answer for it must itself decode. The server
// (server.h) must give answer()'s bytes for it, from its memo the second time.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "morgana/proto/dns/answer.h"
#include "morgana/proto/dns/message.h"
#include "morgana/proto/dns/presentation.h"
#include "morgana/proto/dns/server.h"
#include "morgana/proto/dns/zone.h"

namespace {

using namespace morgana::dns;

constexpr char kZone[] = R"($TTL 3600
@        SOA   ns1 hostmaster 1 7200 3600 1209600 300
         NS    ns1
         MX    10 mail
ns1      A     10.78.0.2
www      A     10.78.0.80
www      AAAA  fd78::80
ftp      CNAME www
loop     CNAME loop
*.wild   TXT   "synthesised"
sub      NS    ns.sub
ns.sub   A     10.78.0.53
_s._udp  SRV   1 2 3 www
)";

const Zones& zones() {
  static Zones* zones = [] {
    auto* z = new Zones;
    Diagnostic error;
    auto zone = Zone::load(kZone, *Name::parse("fuzz.test."), "fuzz", error);
    if (!zone.ok() || !z->add(std::move(*zone)).ok()) __builtin_trap();
    return z;
  }();
  return *zones;
}

void check(bool condition) {
  if (!condition) __builtin_trap();
}

Server& server() {
  static Server* server = new Server(zones(), ServerOptions{});
  return *server;
}

// The server answers as answer() does; asked again under another ID, it answers from the
// memo (when the query is memoisable) with the same bytes but that ID.
void check_server(std::span<const uint8_t> bytes, Transport transport) {
  static Responses out;
  // AXFR is the server's own: refused here (no address is allowed) with an Extended DNS
  // Error that answer() does not add.
  if (auto message = decode(bytes);
      message.ok() && message->questions.size() == 1 && message->questions[0].type == Type::kAxfr)
    return;
  auto expected = answer(zones(), bytes, transport, kDefaultUdpLimit);
  (void)server().handle({bytes, transport, {}, 0}, out);
  check(out.size() == (expected.empty() ? 0 : 1));
  if (out.size() == 1)
    check(std::equal(out[0].begin(), out[0].end(), expected.begin(), expected.end()));
  // Only a memoisable query is asked again: in others a compression pointer may point
  // into the ID, so another ID is another question.
  std::array<uint8_t, kMaxMemoKeySize> key;
  if (expected.empty() || memo_key(bytes, transport, kDefaultUdpLimit, key) == 0) return;
  std::vector<uint8_t> again(bytes.begin(), bytes.end());
  again[0] ^= 0xFF;
  expected[0] ^= 0xFF;
  (void)server().handle({again, transport, {}, 0}, out);
  check(out.size() == 1 &&
        std::equal(out[0].begin(), out[0].end(), expected.begin(), expected.end()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  // Also answered as a query from the example-like zone, over both transports.
  for (Transport transport : {Transport::kUdp, Transport::kTcp}) {
    auto response = answer(zones(), bytes, transport, 1232);
    if (!response.empty()) check(decode(response).ok());
    if (transport == Transport::kUdp) check(response.size() <= 1232);
    check_server(bytes, transport);
  }
  auto message = decode(bytes);
  if (!message.ok()) return 0;
  (void)to_string(*message);
  auto encoded = encode(*message);
  check(encoded.ok());
  if (!encoded->truncated) {  // expanding a compressed SRV target can outgrow 64 KiB
    auto again = decode(encoded->bytes);
    check(again.ok() && *again == *message);
  }
  for (int s = 0; s < 3; ++s) {
    for (const auto& record : message->section(static_cast<Section>(s))) {
      if (is_meta_type(record.type)) continue;
      // The printed RDATA, split at spaces (nothing printed has a space inside a field
      // except quoted strings, which are re-read as such).
      std::string text = rdata_to_string(record.type, record.rdata);
      std::vector<std::string> parts;
      std::vector<Token> tokens;
      for (size_t i = 0; i < text.size();) {
        if (text[i] == ' ') {
          ++i;
          continue;
        }
        bool quoted = text[i] == '"';
        size_t end = i + (quoted ? 1 : 0);
        while (end < text.size() && (quoted ? text[end] != '"' : text[end] != ' '))
          end += quoted && text[end] == '\\' ? 2 : 1;
        parts.push_back(quoted ? text.substr(i + 1, end - i - 1) : text.substr(i, end - i));
        tokens.push_back({{}, quoted});
        i = end + (quoted ? 1 : 0);
      }
      for (size_t i = 0; i < parts.size(); ++i) tokens[i].text = parts[i];
      auto parsed = parse_rdata(record.type, tokens, Name());
      check(parsed.ok() && *parsed == record.rdata);
    }
  }
  return 0;
}
