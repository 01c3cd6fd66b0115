// ChaCha20 (RFC 8439 §2.3) and the fast-key-erasure generator built on it, plus the
// optional RDRAND mixing at seeding time.
#include <cpuid.h>

#include "morgana/random/random.h"

namespace morgana::random {
namespace {

constexpr uint32_t rotl(uint32_t v, int n) {
  return (v << n) | (v >> (32 - n));
}

uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

void store_le32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

// RFC 8439 §2.1.
inline void quarter_round(uint32_t* x, int a, int b, int c, int d) {
  x[a] += x[b], x[d] ^= x[a], x[d] = rotl(x[d], 16);
  x[c] += x[d], x[b] ^= x[c], x[b] = rotl(x[b], 12);
  x[a] += x[b], x[d] ^= x[a], x[d] = rotl(x[d], 8);
  x[c] += x[d], x[b] ^= x[c], x[b] = rotl(x[b], 7);
}

// Overwrites secrets in a way the optimiser may not drop as a dead store.
void wipe(void* p, size_t n) {
  auto* bytes = static_cast<volatile uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) bytes[i] = 0;
}

bool cpu_has_rdrand() {
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & (1u << 30)) != 0;
}

// Intel's guidance: RDRAND may transiently fail (CF = 0); retry up to 10 times, after
// which a failure means the DRNG is broken or exhausted.
bool rdrand64(uint64_t* out) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    uint64_t value;
    uint8_t ok;
    asm volatile("rdrand %0\n\tsetc %1" : "=r"(value), "=qm"(ok) : : "cc");
    if (ok != 0) {
      *out = value;
      return true;
    }
  }
  return false;
}

}  // namespace

void chacha20_block(std::span<const uint8_t, 32> key, uint32_t counter,
                    std::span<const uint8_t, 12> nonce, std::span<uint8_t, 64> out) {
  // RFC 8439 §2.3: "expand 32-byte k", key, counter, nonce.
  uint32_t state[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (int i = 0; i < 8; ++i) state[4 + i] = load_le32(key.data() + 4 * i);
  state[12] = counter;
  for (int i = 0; i < 3; ++i) state[13 + i] = load_le32(nonce.data() + 4 * i);

  uint32_t x[16];
  for (int i = 0; i < 16; ++i) x[i] = state[i];
  for (int round = 0; round < 10; ++round) {  // 20 rounds: 10 column + 10 diagonal
    quarter_round(x, 0, 4, 8, 12);
    quarter_round(x, 1, 5, 9, 13);
    quarter_round(x, 2, 6, 10, 14);
    quarter_round(x, 3, 7, 11, 15);
    quarter_round(x, 0, 5, 10, 15);
    quarter_round(x, 1, 6, 11, 12);
    quarter_round(x, 2, 7, 8, 13);
    quarter_round(x, 3, 4, 9, 14);
  }
  for (int i = 0; i < 16; ++i) store_le32(out.data() + 4 * i, x[i] + state[i]);
  wipe(x, sizeof(x));
  wipe(state, sizeof(state));
}

ChaCha20Rng ChaCha20Rng::from_seed(std::span<const uint8_t, kSeedSize> seed, MixRdrand mix) {
  ChaCha20Rng rng;
  for (size_t i = 0; i < kSeedSize; ++i) rng.key_[i] = seed[i];
  if (mix == MixRdrand::kYes && cpu_has_rdrand()) {
    rng.rdrand_mixed_ = true;
    for (size_t i = 0; i < kSeedSize; i += 8) {
      uint64_t word;
      if (!rdrand64(&word)) {
        rng.rdrand_mixed_ = false;
        break;
      }
      for (size_t b = 0; b < 8; ++b) rng.key_[i + b] ^= static_cast<uint8_t>(word >> (8 * b));
    }
  }
  return rng;
}

// Computes kBlocksPerRefill blocks under the current key (nonce 0, counters 0..3): the
// first 32 bytes become the next key, the rest is output.
void ChaCha20Rng::refill() {
  static constexpr uint8_t kZeroNonce[12] = {};
  uint8_t blocks[64 * kBlocksPerRefill];
  for (uint32_t i = 0; i < kBlocksPerRefill; ++i) {
    chacha20_block(key_, i, kZeroNonce, std::span<uint8_t, 64>(blocks + 64 * i, 64));
  }
  for (size_t i = 0; i < kSeedSize; ++i) key_[i] = blocks[i];
  for (size_t i = 0; i < kBufferSize; ++i) buffer_[i] = blocks[kSeedSize + i];
  wipe(blocks, sizeof(blocks));
  available_ = kBufferSize;
}

void ChaCha20Rng::fill(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    if (available_ == 0) refill();
    const size_t start = kBufferSize - available_;
    size_t n = out.size() - done;
    if (n > available_) n = available_;
    for (size_t i = 0; i < n; ++i) out[done + i] = buffer_[start + i];
    wipe(buffer_ + start, n);
    available_ -= n;
    done += n;
  }
}

uint64_t ChaCha20Rng::next_u64() {
  uint8_t bytes[8];
  fill(bytes);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | bytes[i];
  return v;
}

uint32_t ChaCha20Rng::next_u32() {
  uint8_t bytes[4];
  fill(bytes);
  return load_le32(bytes);
}

void ChaCha20Rng::mix(std::span<const uint8_t> input) {
  // Nonce "mix!" || chunk index || input length: separates these blocks from output
  // blocks (nonce 0) and binds the input's length.
  uint8_t nonce[12] = {'m', 'i', 'x', '!'};
  store_le32(nonce + 8, static_cast<uint32_t>(input.size()));
  size_t offset = 0;
  uint32_t chunk = 0;
  do {
    for (size_t i = 0; i < kSeedSize && offset + i < input.size(); ++i)
      key_[i] ^= input[offset + i];
    store_le32(nonce + 4, chunk++);
    uint8_t block[64];
    chacha20_block(key_, 0, nonce, block);
    for (size_t i = 0; i < kSeedSize; ++i) key_[i] = block[i];
    wipe(block, sizeof(block));
    offset += kSeedSize;
  } while (offset < input.size());
  // Output computed under the old key must not be handed out after mixing.
  wipe(buffer_, sizeof(buffer_));
  available_ = 0;
}

}  // namespace morgana::random
