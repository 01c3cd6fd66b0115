// TarStore: one scan of a tar archive into a sorted index, then reads through an LRU
// cache of device blocks. Formats: POSIX ustar (name + prefix), pax extended headers
// ('x': path, size, mtime; 'g' ignored) and GNU tar's 'L' long names. The archive is
// untrusted: every header's checksum is verified and every entry must lie on the device.
#include "morgana/storage/kv_tar.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace morgana::kv {

namespace {

constexpr uint64_t kTarBlock = 512;
constexpr uint64_t kMaxPaxHeader = 64 * 1024;

Error fail(std::string* diagnostic, Errc code, const char* what, std::string message) {
  if (diagnostic) *diagnostic = "tar: " + std::move(message);
  return Error{code, what};
}

std::string decimal(uint64_t v) {
  return std::to_string(v);
}

// An entry name as a diagnostic shows it: quoted, bytes outside printable ASCII as \xNN
// (a disk that is not a tar archive yields random "names" that must not reach a terminal
// raw), and cut at `shown` bytes.
std::string quoted(std::string_view name, size_t shown = 100) {
  std::string out = "'";
  for (size_t i = 0; i < name.size() && i < shown; ++i) {
    uint8_t c = uint8_t(name[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(char(c));
    } else {
      out += "\\x";
      out.push_back("0123456789abcdef"[c >> 4]);
      out.push_back("0123456789abcdef"[c & 15]);
    }
  }
  if (name.size() > shown) out += "...";
  return out + "'";
}

void append_hex(std::string& out, uint64_t v) {
  char digits[16];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  while (n) out.push_back(digits[--n]);
}

// A NUL-terminated (or full-width) header text field.
std::string_view field(const uint8_t* header, size_t offset, size_t size) {
  const char* p = reinterpret_cast<const char*>(header + offset);
  return {p, strnlen(p, size)};
}

// A numeric header field: octal (leading spaces, ended by space or NUL) or GNU base-256
// (first byte 0x80 positive, 0xff negative).
bool parse_number(const uint8_t* header, size_t offset, size_t size, int64_t& out) {
  const uint8_t* p = header + offset;
  if (p[0] == 0x80 || p[0] == 0xff) {
    bool negative = p[0] == 0xff;
    uint64_t v = negative ? ~uint64_t(0) : 0;
    for (size_t i = 1; i < size; ++i) {
      if (!negative && (v >> 55)) return false;
      if (negative && (v >> 55) != 0x1ff) return false;
      v = (v << 8) | p[i];
    }
    out = int64_t(v);
    return true;
  }
  size_t i = 0;
  while (i < size && p[i] == ' ') ++i;
  uint64_t v = 0;
  size_t digits = 0;
  for (; i < size && p[i] >= '0' && p[i] <= '7'; ++i, ++digits) {
    if (v >> 60) return false;
    v = v * 8 + (p[i] - '0');
  }
  if (i < size && p[i] != ' ' && p[i] != 0) return false;
  if (digits == 0) return false;
  out = int64_t(v);
  return true;
}

bool checksum_ok(const uint8_t* header) {
  int64_t stored;
  if (!parse_number(header, 148, 8, stored)) return false;
  int64_t unsigned_sum = 0, signed_sum = 0;
  for (size_t i = 0; i < kTarBlock; ++i) {
    uint8_t b = (i >= 148 && i < 156) ? uint8_t(' ') : header[i];
    unsigned_sum += b;
    signed_sum += int8_t(b);
  }
  return stored == unsigned_sum || stored == signed_sum;
}

bool parse_decimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  out = v;
  return true;
}

// Removes "./" and empty components, refuses "..": "./a//b/./c" -> "a/b/c".
enum class NameStatus { kOk, kEmpty, kDotDot, kTooLong };
NameStatus normalise(std::string_view name, size_t max, std::string& out) {
  out.clear();
  while (!name.empty()) {
    size_t slash = name.find('/');
    std::string_view part = name.substr(0, slash);
    name = slash == std::string_view::npos ? std::string_view() : name.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") return NameStatus::kDotDot;
    if (!out.empty()) out.push_back('/');
    out.append(part);
    if (out.size() > max) return NameStatus::kTooLong;
  }
  return out.empty() ? NameStatus::kEmpty : NameStatus::kOk;
}

// What a pax 'x' header or a GNU 'L' entry says about the next entry.
struct Pending {
  std::string name;
  bool has_name = false;
  uint64_t size = 0;
  bool has_size = false;
  int64_t mtime = 0;
  bool has_mtime = false;
};

// "<length> <key>=<value>\n" records (POSIX pax).
bool parse_pax(std::string_view data, Pending& pending) {
  while (!data.empty()) {
    size_t space = data.find(' ');
    if (space == std::string_view::npos) return false;
    uint64_t length;
    if (!parse_decimal(data.substr(0, space), length)) return false;
    if (length <= space + 1 || length > data.size() || data[length - 1] != '\n') return false;
    std::string_view record = data.substr(space + 1, length - space - 2);
    data.remove_prefix(length);
    size_t eq = record.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view key = record.substr(0, eq), value = record.substr(eq + 1);
    if (key == "path") {
      pending.name.assign(value);
      pending.has_name = true;
    } else if (key == "size") {
      if (!parse_decimal(value, pending.size)) return false;
      pending.has_size = true;
    } else if (key == "mtime") {
      bool negative = !value.empty() && value[0] == '-';
      if (negative) value.remove_prefix(1);
      value = value.substr(0, value.find('.'));
      uint64_t seconds;
      if (!parse_decimal(value, seconds) || seconds > uint64_t(1) << 62) return false;
      pending.mtime = negative ? -int64_t(seconds) : int64_t(seconds);
      pending.has_mtime = true;
    }
  }
  return true;
}

}  // namespace

// --- Cache ---------------------------------------------------------------------------

TarStore::Cache::Cache(BlockReader& device, uint32_t block_size, size_t blocks)
    : device_(&device),
      block_size_(block_size),
      slots_(blocks),
      data_(new uint8_t[blocks * block_size]) {
  uint32_t unit = device.block_size();
  limit_ = device.capacity() / unit * unit;
}

int TarStore::Cache::find(uint64_t block) const {
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].used && slots_[i].block == block) return int(i);
  return -1;
}

Result<const uint8_t*> TarStore::Cache::load(uint64_t block) {
  int hit = find(block);
  if (hit >= 0) {
    ++stats_.hits;
    slots_[hit].used = ++clock_;
    return data_.get() + size_t(hit) * block_size_;
  }
  size_t victim = 0;
  for (size_t i = 1; i < slots_.size(); ++i)
    if (slots_[i].used < slots_[victim].used) victim = i;
  uint8_t* buffer = data_.get() + victim * block_size_;
  uint64_t start = block * block_size_;
  size_t n = size_t(std::min<uint64_t>(block_size_, limit_ - start));
  slots_[victim].used = 0;
  TRY(device_->read(start, {buffer, n}));
  ++stats_.misses;
  slots_[victim].block = block;
  slots_[victim].used = ++clock_;
  return const_cast<const uint8_t*>(buffer);
}

Result<void> TarStore::Cache::read(uint64_t offset, std::span<uint8_t> out) {
  if (offset > limit_ || out.size() > limit_ - offset)
    return Error{Errc::kOutOfRange, "read past the end of the device"};
  size_t done = 0;
  while (done < out.size()) {
    uint64_t at = offset + done;
    uint64_t block = at / block_size_;
    size_t within = size_t(at % block_size_);
    size_t n = std::min<size_t>(block_size_ - within, out.size() - done);
    if (within == 0 && n == block_size_ && find(block) < 0) {
      // Whole blocks not in the cache go straight to `out`, so a large value streamed
      // once does not evict the cache's hot blocks.
      size_t run = 1;
      while ((run + 1) * size_t(block_size_) <= out.size() - done && find(block + run) < 0) ++run;
      TRY(device_->read(at, out.subspan(done, run * block_size_)));
      ++stats_.direct_reads;
      done += run * block_size_;
      continue;
    }
    const uint8_t* data = TRY(load(block));
    std::memcpy(out.data() + done, data + within, n);
    done += n;
  }
  return ok();
}

TarCacheStats TarStore::Cache::stats() const {
  TarCacheStats s = stats_;
  s.resident = size_t(
      std::count_if(slots_.begin(), slots_.end(), [](const Slot& slot) { return slot.used != 0; }));
  return s;
}

// --- Scan ----------------------------------------------------------------------------

TarStore::TarStore(BlockReader& device, const TarOptions& options)
    : cache_(std::make_unique<Cache>(device, options.cache_block_size, options.cache_blocks)) {}

Result<TarStore> TarStore::create(BlockReader& device, const TarOptions& options,
                                  std::string* diagnostic) {
  uint32_t unit = device.block_size();
  if (unit == 0 || options.cache_block_size == 0 || options.cache_block_size % unit != 0 ||
      options.cache_blocks == 0)
    return fail(diagnostic, Errc::kInvalidArgument, "bad tar cache geometry",
                "the cache block size (" + decimal(options.cache_block_size) +
                    ") must be a non-zero multiple of the device block size (" + decimal(unit) +
                    ") and the cache must hold at least one block");
  TarStore store(device, options);
  Cache& cache = *store.cache_;
  const uint64_t limit = cache.limit();

  Pending pending;
  std::string name;
  std::array<uint8_t, kTarBlock> header;
  uint64_t pos = 0;
  while (true) {
    // No end-of-archive blocks (or only the last entry's padding missing), but nothing
    // is cut short.
    if (pos >= limit) break;
    if (limit - pos < kTarBlock)
      return fail(diagnostic, Errc::kMalformed, "tar archive truncated",
                  "archive truncated: a partial header at offset " + decimal(pos));
    TRY(cache.read(pos, header));
    if (std::all_of(header.begin(), header.end(), [](uint8_t b) { return b == 0; })) break;

    std::string_view raw_name = field(header.data(), 0, 100);
    // A bad checksum usually means the bytes are no header at all: a short excerpt of
    // the "name" is enough to recognise a corrupt entry.
    if (!checksum_ok(header.data()))
      return fail(diagnostic, Errc::kMalformed, "tar header checksum mismatch",
                  "entry " + quoted(raw_name, 32) + " at offset " + decimal(pos) +
                      ": header checksum mismatch (not a tar archive, or corrupt)");
    int64_t header_size, mtime;
    if (!parse_number(header.data(), 124, 12, header_size) || header_size < 0 ||
        !parse_number(header.data(), 136, 12, mtime))
      return fail(
          diagnostic, Errc::kMalformed, "tar header has a bad number",
          "entry " + quoted(raw_name) + " at offset " + decimal(pos) + ": bad size or mtime field");
    char type = char(header[156]);
    uint64_t size =
        pending.has_size && type != 'x' && type != 'L' ? pending.size : uint64_t(header_size);
    uint64_t data = pos + kTarBlock;
    if (size > limit - data)
      return fail(diagnostic, Errc::kOutOfRange, "tar entry extends past the end of the device",
                  "entry " + quoted(pending.has_name ? pending.name : raw_name) + " at offset " +
                      decimal(pos) + " claims " + decimal(size) +
                      " bytes, past the end of the device (" + decimal(limit) + " bytes)");
    uint64_t next = data + (size + kTarBlock - 1) / kTarBlock * kTarBlock;

    if (type == 'L' || type == 'x') {
      // An 'L' name is normalised later ("./" removed): allow it some slack.
      uint64_t bound = type == 'L' ? options.max_name + 1 + kTarBlock : kMaxPaxHeader;
      if (size > bound)
        return fail(diagnostic, Errc::kOutOfRange, "tar extended header too large",
                    "extended header at offset " + decimal(pos) + " is " + decimal(size) +
                        " bytes, more than " + decimal(bound));
      std::string text(size_t(size), '\0');
      TRY(cache.read(data, {reinterpret_cast<uint8_t*>(text.data()), text.size()}));
      if (type == 'L') {
        text.resize(strnlen(text.data(), text.size()));
        pending.name = std::move(text);
        pending.has_name = true;
      } else if (!parse_pax(text, pending)) {
        return fail(diagnostic, Errc::kMalformed, "malformed pax header",
                    "pax extended header at offset " + decimal(pos) + " is malformed");
      }
      pos = next;
      continue;
    }

    bool regular = type == '0' || type == '\0' || type == '7';
    if (regular) {
      std::string full;
      if (pending.has_name) {
        full = pending.name;
      } else {
        std::string_view magic = field(header.data(), 257, 6);
        std::string_view prefix = field(header.data(), 345, 155);
        // POSIX ustar only: GNU tar's own format keeps other data in the prefix area.
        if (magic == "ustar" && header[262] == 0 && !prefix.empty())
          full = std::string(prefix) + "/";
        full.append(raw_name);
      }
      if (!full.empty() && full.back() == '/') regular = false;  // a pre-POSIX directory
      if (regular) {
        switch (normalise(full, options.max_name, name)) {
          case NameStatus::kOk:
            break;
          case NameStatus::kEmpty:
            return fail(diagnostic, Errc::kMalformed, "tar entry has an empty name",
                        "entry at offset " + decimal(pos) + " has an empty name");
          case NameStatus::kDotDot:
            return fail(diagnostic, Errc::kMalformed, "tar entry name contains '..'",
                        "entry " + quoted(full) + ": names with '..' are refused");
          case NameStatus::kTooLong:
            return fail(diagnostic, Errc::kOutOfRange, "tar entry name too long",
                        "entry " + quoted(full) + ": name longer than " +
                            decimal(options.max_name) + " bytes");
        }
        if (store.entries_.size() >= options.max_entries)
          return fail(diagnostic, Errc::kOutOfRange, "too many tar entries",
                      "more than " + decimal(options.max_entries) + " files (at entry " +
                          quoted(name) + ")");
        if (store.names_.size() + name.size() + 64 > std::numeric_limits<uint32_t>::max())
          return fail(diagnostic, Errc::kNoMemory, "tar names too large",
                      "the archive's names exceed 4 GiB");
        Entry e;
        e.key_offset = uint32_t(store.names_.size());
        e.key_size = uint32_t(name.size());
        store.names_ += name;
        e.data_offset = data;
        e.size = size;
        e.mtime = pending.has_mtime ? pending.mtime : mtime;
        e.etag_offset = uint32_t(store.names_.size());
        store.names_.push_back('"');
        append_hex(store.names_, uint64_t(e.mtime));
        store.names_.push_back('-');
        append_hex(store.names_, e.size);
        store.names_.push_back('-');
        append_hex(store.names_, e.data_offset);
        store.names_.push_back('"');
        e.etag_size = uint32_t(store.names_.size() - e.etag_offset);
        store.entries_.push_back(e);
      }
    }
    // Directories, links, devices, GNU sparse and volume entries, 'g' globals: skipped.
    pending = Pending{};
    pos = next;
  }

  // Sorted by key; a name archived twice (tar -r) keeps its last copy, as tar -x would.
  auto& entries = store.entries_;
  auto key = [&store](const Entry& e) { return store.key_of(e); };
  std::stable_sort(entries.begin(), entries.end(),
                   [&](const Entry& a, const Entry& b) { return key(a) < key(b); });
  size_t out = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i + 1 < entries.size() && key(entries[i]) == key(entries[i + 1])) continue;
    entries[out++] = entries[i];
  }
  entries.resize(out);
  entries.shrink_to_fit();
  return store;
}

// --- Lookups -------------------------------------------------------------------------

const TarStore::Entry* TarStore::find(std::string_view key) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                             [this](const Entry& e, std::string_view k) { return key_of(e) < k; });
  return it != entries_.end() && key_of(*it) == key ? &*it : nullptr;
}

Result<Stat> TarStore::stat(std::string_view key) const {
  const Entry* e = find(key);
  if (!e) return Error{Errc::kNotFound, "no such key"};
  return Stat{e->size, e->mtime, std::string_view(names_.data() + e->etag_offset, e->etag_size)};
}

async::Task<Result<size_t>> TarStore::read(std::string_view key, uint64_t offset,
                                           std::span<uint8_t> out) const {
  const Entry* e = find(key);
  if (!e) co_return Error{Errc::kNotFound, "no such key"};
  if (offset >= e->size) co_return size_t(0);
  size_t n = size_t(std::min<uint64_t>(out.size(), e->size - offset));
  Result<void> r = cache_->read(e->data_offset + offset, out.first(n));
  if (!r) co_return r.error();
  co_return n;
}

std::vector<std::string_view> TarStore::list() const {
  std::vector<std::string_view> keys;
  keys.reserve(entries_.size());
  for (const Entry& e : entries_) keys.push_back(key_of(e));
  return keys;
}

TarCacheStats TarStore::cache_stats() const {
  return cache_->stats();
}

}  // namespace morgana::kv
