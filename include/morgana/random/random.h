// Randomness: the random::Source concept (DESIGN.md §1.2) and ChaCha20Rng, a ChaCha20
// (RFC 8439) CSPRNG that images seed from the platform's boot seed. Builds for the guest
// and the host; the platform is kept out: callers pass the seed in.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

namespace morgana::random {

// Anything that produces unpredictable bytes.
template <typename T>
concept Source = requires(T& source, std::span<uint8_t> out) {
  { source.fill(out) } -> std::same_as<void>;
  { source.next_u64() } -> std::same_as<uint64_t>;
};

// A uniformly distributed integer in [0, bound), bound > 0 (0 yields 0). Lemire's
// multiply-and-reject: no modulo bias, and usually no division.
template <Source S>
uint64_t uniform(S& source, uint64_t bound) {
  if (bound == 0) return 0;
  unsigned __int128 product = static_cast<unsigned __int128>(source.next_u64()) * bound;
  auto low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
    while (low < threshold) {
      product = static_cast<unsigned __int128>(source.next_u64()) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

// RFC 8439 §2.3: one 64-byte ChaCha20 block for a 256-bit key, a 32-bit block counter and
// a 96-bit nonce.
void chacha20_block(std::span<const uint8_t, 32> key, uint32_t counter,
                    std::span<const uint8_t, 12> nonce, std::span<uint8_t, 64> out);

// Whether from_seed also mixes the CPU's RDRAND output into the key.
enum class MixRdrand { kNo, kYes };

// A ChaCha20 keystream generator with fast key erasure (Bernstein, "Fast-key-erasure
// random-number generators", 2017): each refill computes four blocks, the first 32 bytes
// of which immediately replace the key, and bytes are wiped once handed out. A copy of
// the state taken later reveals nothing about output already produced.
//
// Also a std::uniform_random_bit_generator, so it works with std::shuffle and friends.
class ChaCha20Rng {
 public:
  static constexpr size_t kSeedSize = 32;

  // With MixRdrand::kYes and a CPU that has RDRAND (CPUID.1:ECX bit 30), XORs RDRAND
  // output into the key. Each 64-bit word gets the architectural retry loop; after 10
  // failures the remaining words are left alone (the seed alone still keys the generator).
  static ChaCha20Rng from_seed(std::span<const uint8_t, kSeedSize> seed, MixRdrand mix);

  void fill(std::span<uint8_t> out);
  uint64_t next_u64();
  uint32_t next_u32();
  uint64_t uniform(uint64_t bound) { return random::uniform(*this, bound); }

  // Folds more entropy (a later seed, event timings) into the key: the new key is a
  // ChaCha20 block keyed by the old key XORed with each 32-byte chunk of `input`. Good
  // for accumulating entropy; not a hash for deriving keys from secrets.
  void mix(std::span<const uint8_t> input);

  // Whether from_seed managed to mix a full 256 bits of RDRAND output into the key.
  bool rdrand_mixed() const { return rdrand_mixed_; }

  using result_type = uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~uint64_t{0}; }
  result_type operator()() { return next_u64(); }

 private:
  static constexpr size_t kBlocksPerRefill = 4;
  static constexpr size_t kBufferSize = 64 * kBlocksPerRefill - kSeedSize;

  ChaCha20Rng() = default;
  void refill();

  uint8_t key_[kSeedSize] = {};
  uint8_t buffer_[kBufferSize] = {};
  size_t available_ = 0;  // unread bytes at the end of buffer_
  bool rdrand_mixed_ = false;
};

static_assert(Source<ChaCha20Rng>);

}  // namespace morgana::random
