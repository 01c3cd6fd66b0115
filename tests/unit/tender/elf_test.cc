// Tests for plan_load(): a valid image loads as planned, and every malformed or hostile
// image is refused with a message naming the problem, never a crash.
#include <elf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <string>

#include "tender/elf.h"
#include "tender/manifest.h"

namespace morgana::tender {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMem = 32ull << 20;

struct SegmentSpec {
  uint32_t type = PT_LOAD;
  uint32_t flags = PF_R;
  uint64_t vaddr = 0;
  std::vector<uint8_t> data;
  uint64_t memsz = 0;  // 0: data.size()
  uint64_t align = abi::kPageSize;
};

abi::Manifest two_devices() {
  abi::Manifest m{};
  m.abi_version = abi::kAbiVersion;
  m.entry_count = 2;
  std::strcpy(m.entries[0].name, "service");
  m.entries[0].type = static_cast<uint32_t>(abi::DeviceType::kNet);
  std::strcpy(m.entries[1].name, "storage");
  m.entries[1].type = static_cast<uint32_t>(abi::DeviceType::kBlock);
  return m;
}

// One ELF note with the MORGANA name; `descsz` may differ from the manifest's size to
// make malformed notes (the payload is cut or zero-extended to match).
std::vector<uint8_t> manifest_note(const abi::Manifest& m, uint32_t descsz = sizeof(abi::Manifest),
                                   uint32_t type = abi::kManifestNoteType) {
  Elf64_Nhdr header{.n_namesz = 8, .n_descsz = descsz, .n_type = type};
  std::vector<uint8_t> note(sizeof header + 8 + ((descsz + 3) & ~3u), 0);
  std::memcpy(note.data(), &header, sizeof header);
  std::memcpy(note.data() + sizeof header, "MORGANA", 8);
  std::memcpy(note.data() + sizeof header + 8, &m, std::min<size_t>(descsz, sizeof m));
  return note;
}

// Builds an image in memory the way cmake/guest.ld lays one out: text (R+X) at 1 MiB
// holding the entry point, rodata (R) on the next page, data (R+W) with some bss after
// it, and a PT_NOTE with the manifest. Tests change fields before build().
struct ImageBuilder {
  uint16_t machine = EM_X86_64;
  uint16_t type = ET_EXEC;
  uint64_t entry = abi::kImageBase + 0x10;
  std::vector<SegmentSpec> segments;

  static ImageBuilder valid() {
    ImageBuilder b;
    b.segments.push_back({PT_LOAD, PF_R | PF_X, abi::kImageBase, std::vector<uint8_t>(0x40, 0x90)});
    b.segments.push_back(
        {PT_LOAD, PF_R, abi::kImageBase + 0x1000, std::vector<uint8_t>(0x30, 0x11)});
    b.segments.push_back(
        {PT_LOAD, PF_R | PF_W, abi::kImageBase + 0x2000, std::vector<uint8_t>(0x20, 0x22), 0x1800});
    b.segments.push_back(
        {PT_NOTE, PF_R, abi::kImageBase + 0x1000, manifest_note(two_devices()), 0, 4});
    return b;
  }

  SegmentSpec& note() { return segments[3]; }

  std::vector<uint8_t> build() const {
    std::vector<uint8_t> out(sizeof(Elf64_Ehdr) + segments.size() * sizeof(Elf64_Phdr));
    std::vector<Elf64_Phdr> headers;
    for (const SegmentSpec& s : segments) {
      uint64_t offset = (out.size() + 15) & ~uint64_t{15};
      out.resize(offset);
      out.insert(out.end(), s.data.begin(), s.data.end());
      headers.push_back(Elf64_Phdr{.p_type = s.type,
                                   .p_flags = s.flags,
                                   .p_offset = offset,
                                   .p_vaddr = s.vaddr,
                                   .p_paddr = s.vaddr,
                                   .p_filesz = s.data.size(),
                                   .p_memsz = s.memsz ? s.memsz : s.data.size(),
                                   .p_align = s.align});
    }
    Elf64_Ehdr h{};
    std::memcpy(h.e_ident, ELFMAG, SELFMAG);
    h.e_ident[EI_CLASS] = ELFCLASS64;
    h.e_ident[EI_DATA] = ELFDATA2LSB;
    h.e_ident[EI_VERSION] = EV_CURRENT;
    h.e_type = type;
    h.e_machine = machine;
    h.e_version = EV_CURRENT;
    h.e_entry = entry;
    h.e_phoff = sizeof(Elf64_Ehdr);
    h.e_ehsize = sizeof(Elf64_Ehdr);
    h.e_phentsize = sizeof(Elf64_Phdr);
    h.e_phnum = static_cast<uint16_t>(segments.size());
    std::memcpy(out.data(), &h, sizeof h);
    std::memcpy(out.data() + sizeof h, headers.data(), headers.size() * sizeof(Elf64_Phdr));
    return out;
  }
};

template <typename T>
void patch(std::vector<uint8_t>& bytes, size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}
size_t phdr_field(size_t index, size_t field) {
  return sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr) + field;
}

// The refusal message for `bytes`, or a failure when the image was accepted.
std::string refusal(const std::vector<uint8_t>& bytes, uint64_t mem = kMem) {
  LoadResult result = plan_load(bytes, mem);
  if (auto* message = std::get_if<std::string>(&result)) {
    EXPECT_FALSE(message->empty());
    EXPECT_EQ(message->find('\n'), std::string::npos) << "messages are one line";
    return *message;
  }
  ADD_FAILURE() << "image was accepted";
  return "";
}
std::string refusal(const ImageBuilder& b, uint64_t mem = kMem) {
  return refusal(b.build(), mem);
}

TEST(ElfLoader, ValidImageLoadsAsPlanned) {
  std::vector<uint8_t> bytes = ImageBuilder::valid().build();
  LoadResult result = plan_load(bytes, kMem);
  ASSERT_TRUE(std::holds_alternative<LoadPlan>(result)) << std::get<std::string>(result);
  const LoadPlan& plan = std::get<LoadPlan>(result);
  EXPECT_EQ(plan.entry, abi::kImageBase + 0x10);
  ASSERT_EQ(plan.segments.size(), 3u);
  const Segment& text = plan.segments[0];
  EXPECT_EQ(text.gpa, abi::kImageBase);
  EXPECT_EQ(text.file_size, 0x40u);
  EXPECT_EQ(bytes[text.file_offset], 0x90);
  EXPECT_TRUE(text.readable && text.executable && !text.writable);
  const Segment& rodata = plan.segments[1];
  EXPECT_TRUE(rodata.readable && !rodata.executable && !rodata.writable);
  const Segment& data = plan.segments[2];
  EXPECT_TRUE(data.readable && data.writable && !data.executable);
  EXPECT_EQ(data.file_size, 0x20u);
  EXPECT_EQ(data.mem_size, 0x1800u);                    // bss is zero-fill
  EXPECT_EQ(plan.image_end, abi::kImageBase + 0x4000);  // 0x102000 + 0x1800, page-rounded
  EXPECT_EQ(plan.manifest.entry_count, 2u);
  EXPECT_STREQ(plan.manifest.entries[0].name, "service");
  EXPECT_STREQ(plan.manifest.entries[1].name, "storage");
}

TEST(ElfLoader, TruncatedFileIsRefusedAtEveryCut) {
  std::vector<uint8_t> bytes = ImageBuilder::valid().build();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<uint8_t> shorter(bytes.begin(), bytes.begin() + cut);
    SCOPED_TRACE(cut);
    refusal(shorter);
  }
  EXPECT_THAT(refusal(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 20)),
              HasSubstr("too short"));
  EXPECT_THAT(refusal(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 100)),
              HasSubstr("program headers"));
  EXPECT_THAT(refusal(std::vector<uint8_t>(bytes.begin(), bytes.end() - 1)),
              HasSubstr("past the end of the file"));
}

TEST(ElfLoader, RefusesWhatIsNotAnX86_64Executable) {
  std::vector<uint8_t> bytes = ImageBuilder::valid().build();
  auto with_ident = [&](int index, uint8_t value) {
    std::vector<uint8_t> copy = bytes;
    copy[index] = value;
    return refusal(copy);
  };
  EXPECT_THAT(with_ident(0, 0x7e), HasSubstr("bad magic"));
  EXPECT_THAT(with_ident(EI_CLASS, ELFCLASS32), HasSubstr("not a 64-bit ELF"));
  EXPECT_THAT(with_ident(EI_DATA, ELFDATA2MSB), HasSubstr("little-endian"));
  EXPECT_THAT(with_ident(EI_VERSION, 2), HasSubstr("ELF version"));

  ImageBuilder arm = ImageBuilder::valid();
  arm.machine = EM_AARCH64;
  EXPECT_THAT(refusal(arm), HasSubstr("wrong machine 183"));
  ImageBuilder pie = ImageBuilder::valid();
  pie.type = ET_DYN;
  EXPECT_THAT(refusal(pie), HasSubstr("position-independent"));
  ImageBuilder object = ImageBuilder::valid();
  object.type = ET_REL;
  EXPECT_THAT(refusal(object), HasSubstr("not an executable"));
}

TEST(ElfLoader, RefusesBadProgramHeaderTables) {
  std::vector<uint8_t> bytes = ImageBuilder::valid().build();
  auto with = [&](size_t field, auto value) {
    std::vector<uint8_t> copy = bytes;
    patch(copy, field, value);
    return refusal(copy);
  };
  EXPECT_THAT(with(offsetof(Elf64_Ehdr, e_phnum), uint16_t{0xffff}),
              HasSubstr("too many program headers"));
  EXPECT_THAT(with(offsetof(Elf64_Ehdr, e_phnum), uint16_t{0}), HasSubstr("no program headers"));
  EXPECT_THAT(with(offsetof(Elf64_Ehdr, e_phnum), uint16_t{60}),
              HasSubstr("program headers (offset 64, 60 entries) run past the end"));
  EXPECT_THAT(with(offsetof(Elf64_Ehdr, e_phoff), uint64_t{0xfffffffffffffff0}),
              HasSubstr("run past the end of the file"));
  EXPECT_THAT(with(offsetof(Elf64_Ehdr, e_phoff), uint64_t{bytes.size() - 8}),
              HasSubstr("run past the end of the file"));
  EXPECT_THAT(with(offsetof(Elf64_Ehdr, e_phentsize), uint16_t{32}),
              HasSubstr("program header size 32"));
}

TEST(ElfLoader, RefusesWritableAndExecutableSegment) {
  ImageBuilder b = ImageBuilder::valid();
  b.segments[2].flags = PF_R | PF_W | PF_X;
  EXPECT_THAT(refusal(b), HasSubstr("segment 2 (0x102000) is both writable and executable"));
}

TEST(ElfLoader, RefusesUnreadableSegment) {
  ImageBuilder b = ImageBuilder::valid();
  b.segments[0].flags = PF_X;
  EXPECT_THAT(refusal(b), HasSubstr("segment 0 (0x100000) is not readable"));
}

TEST(ElfLoader, RefusesSegmentOutsideGuestMemory) {
  ImageBuilder huge = ImageBuilder::valid();
  huge.segments[2].memsz = 0x3ff00000 - 0x2000;  // 0x102000 up to 1 GiB
  EXPECT_THAT(refusal(huge),
              HasSubstr("segment 2 (0x102000-0x3fffffff) lies outside guest memory (32 MiB"));

  ImageBuilder low = ImageBuilder::valid();
  low.segments[1].vaddr = 0x1000;  // over the monitor area
  EXPECT_THAT(refusal(low), HasSubstr("segment 1 (0x1000-0x102f) lies outside guest memory"));

  ImageBuilder wraps = ImageBuilder::valid();
  wraps.segments[2].vaddr = 0xfffffffffffff000;
  wraps.segments[2].memsz = 0x2000;
  EXPECT_THAT(refusal(wraps), HasSubstr("segment 2 (0xfffffffffffff000-0xffffffffffffffff) lies "
                                        "outside guest memory"));

  // The top kMinStackRoom bytes stay free for the stack: ending at their start is fine,
  // one byte into them is not.
  ImageBuilder edge = ImageBuilder::valid();
  edge.segments[2].memsz = kMem - kMinStackRoom - edge.segments[2].vaddr;
  EXPECT_TRUE(std::holds_alternative<LoadPlan>(plan_load(edge.build(), kMem)));
  edge.segments[2].memsz += 1;
  EXPECT_THAT(refusal(edge), HasSubstr("lies outside guest memory"));

  // The same image in a guest too small for it.
  EXPECT_THAT(refusal(ImageBuilder::valid(), 1ull << 20), HasSubstr("(1 MiB;"));
  EXPECT_THAT(refusal(ImageBuilder::valid(), 0), HasSubstr("outside guest memory (0 MiB"));
}

TEST(ElfLoader, RefusesSegmentsThatShareAPage) {
  ImageBuilder b = ImageBuilder::valid();
  b.segments[1].vaddr = abi::kImageBase + 0x800;  // rodata on text's page
  EXPECT_THAT(refusal(b), HasSubstr("segments 0 (0x100000-0x10003f) and 1 (0x100800-0x10082f) "
                                    "overlap"));
  ImageBuilder bss = ImageBuilder::valid();
  bss.segments[1].memsz = 0x1001;  // rodata's zero-fill reaches data's page
  EXPECT_THAT(refusal(bss), HasSubstr("segments 1 (0x101000-0x102000) and 2"));
}

TEST(ElfLoader, RefusesInconsistentSegmentSizes) {
  ImageBuilder b = ImageBuilder::valid();
  b.segments[2].memsz = 0x10;  // less than its 0x20 file bytes
  EXPECT_THAT(refusal(b), HasSubstr("segment 2 has more file bytes (32) than memory bytes (16)"));

  std::vector<uint8_t> bytes = ImageBuilder::valid().build();
  patch(bytes, phdr_field(1, offsetof(Elf64_Phdr, p_offset)), uint64_t{0xfffffffffffffff0});
  EXPECT_THAT(refusal(bytes), HasSubstr("segment 1 (file offset 18446744073709551600, 48 bytes) "
                                        "runs past the end of the file"));

  bytes = ImageBuilder::valid().build();
  patch(bytes, phdr_field(0, offsetof(Elf64_Phdr, p_paddr)), uint64_t{0x200000});
  EXPECT_THAT(refusal(bytes), HasSubstr("identity-mapped"));
}

TEST(ElfLoader, RefusesEntryPointOutsideCode) {
  ImageBuilder outside = ImageBuilder::valid();
  outside.entry = 0x400000;
  EXPECT_THAT(refusal(outside), HasSubstr("entry point 0x400000 lies outside the image"));
  ImageBuilder in_data = ImageBuilder::valid();
  in_data.entry = abi::kImageBase + 0x2000;
  EXPECT_THAT(refusal(in_data), HasSubstr("lies in segment 2, which is not executable"));
  ImageBuilder in_bss = ImageBuilder::valid();
  in_bss.segments[0].memsz = 0x1000;
  in_bss.entry = abi::kImageBase + 0x800;
  EXPECT_THAT(refusal(in_bss), HasSubstr("entry point 0x100800 lies past the code in segment 0"));
}

TEST(ElfLoader, RefusesImagesThatAreNotStatic) {
  for (uint32_t type : {PT_INTERP, PT_DYNAMIC, PT_TLS}) {
    ImageBuilder b = ImageBuilder::valid();
    b.segments.push_back({type, PF_R, abi::kImageBase + 0x1000, std::vector<uint8_t>(16), 0, 8});
    std::string message = refusal(b);
    EXPECT_THAT(message, HasSubstr("segment 4"));
    EXPECT_THAT(message, HasSubstr(type == PT_TLS ? "PT_TLS" : "dynamically linked"));
  }
}

TEST(ElfLoader, RefusesImageWithoutLoadableSegment) {
  ImageBuilder b = ImageBuilder::valid();
  b.segments.erase(b.segments.begin(), b.segments.begin() + 3);
  EXPECT_THAT(refusal(b), HasSubstr("no loadable (PT_LOAD) segment"));
}

TEST(ElfLoader, IgnoresHeadersThatAskNothing) {
  ImageBuilder b = ImageBuilder::valid();
  b.segments.push_back({PT_GNU_STACK, PF_R | PF_W, 0, {}, 0, 16});
  b.segments.push_back({PT_LOAD, PF_R, abi::kImageBase + 0x800, {}, 0});  // empty: maps nothing
  LoadResult result = plan_load(b.build(), kMem);
  ASSERT_TRUE(std::holds_alternative<LoadPlan>(result)) << std::get<std::string>(result);
  EXPECT_EQ(std::get<LoadPlan>(result).segments.size(), 3u);
}

TEST(ElfLoader, RefusesMissingManifest) {
  ImageBuilder none = ImageBuilder::valid();
  none.segments.pop_back();
  EXPECT_THAT(refusal(none), HasSubstr("no Morgana manifest note"));
  ImageBuilder other = ImageBuilder::valid();  // a note, but of another type
  other.note().data = manifest_note(two_devices(), sizeof(abi::Manifest), 1);
  EXPECT_THAT(refusal(other), HasSubstr("no Morgana manifest note"));
}

TEST(ElfLoader, RefusesMalformedManifestNotes) {
  ImageBuilder over = ImageBuilder::valid();
  over.note().data = manifest_note(two_devices(), sizeof(abi::Manifest) + 8);
  EXPECT_THAT(refusal(over), HasSubstr("oversized manifest note (656 bytes, expected 648)"));
  ImageBuilder under = ImageBuilder::valid();
  under.note().data = manifest_note(two_devices(), 8);
  EXPECT_THAT(refusal(under), HasSubstr("undersized manifest note (8 bytes"));
  ImageBuilder twice = ImageBuilder::valid();
  std::vector<uint8_t> one = manifest_note(two_devices());
  twice.note().data.insert(twice.note().data.end(), one.begin(), one.end());
  EXPECT_THAT(refusal(twice), HasSubstr("more than one manifest note"));
  ImageBuilder cut = ImageBuilder::valid();
  cut.note().data.resize(cut.note().data.size() - 4);  // descsz now claims 4 bytes too many
  EXPECT_THAT(refusal(cut), HasSubstr("note at offset 0 runs past the end of segment 3"));
  ImageBuilder header_only = ImageBuilder::valid();
  header_only.note().data.resize(6);
  EXPECT_THAT(refusal(header_only), HasSubstr("note at offset 0 of segment 3 is truncated"));
  ImageBuilder huge = ImageBuilder::valid();  // namesz near 4 GiB must not wrap
  patch(huge.note().data, 0, uint32_t{0xfffffffe});
  EXPECT_THAT(refusal(huge), HasSubstr("runs past the end of segment 3"));
}

TEST(ElfLoader, FindsManifestAmongOtherNotes) {
  ImageBuilder b = ImageBuilder::valid();
  // A GNU build-id note first (namesz 4, descsz 20), then the manifest.
  std::vector<uint8_t> notes(12 + 4 + 20, 0);
  patch(notes, 0, Elf64_Nhdr{4, 20, NT_GNU_BUILD_ID});
  std::memcpy(notes.data() + 12, "GNU", 4);
  std::vector<uint8_t> ours = manifest_note(two_devices());
  notes.insert(notes.end(), ours.begin(), ours.end());
  b.note().data = notes;
  EXPECT_TRUE(std::holds_alternative<LoadPlan>(plan_load(b.build(), kMem)));
}

// The loader runs validate_manifest(), so a plan's manifest is always well formed.
TEST(ElfLoader, RefusesInvalidManifestContents) {
  auto with_manifest = [](const abi::Manifest& m) {
    ImageBuilder b = ImageBuilder::valid();
    b.note().data = manifest_note(m);
    return refusal(b);
  };
  abi::Manifest abi = two_devices();
  abi.abi_version = abi::kAbiVersion + 1;
  const std::string mismatch = "image built for ABI " + std::to_string(abi::kAbiVersion + 1) +
                               ", this monitor speaks " + std::to_string(abi::kAbiVersion);
  EXPECT_THAT(with_manifest(abi), HasSubstr(mismatch));
  abi::Manifest long_name = two_devices();
  std::memset(long_name.entries[1].name, 'a', sizeof long_name.entries[1].name);
  EXPECT_THAT(with_manifest(long_name), HasSubstr("manifest device 1: device name too long"));
  abi::Manifest bad_char = two_devices();
  bad_char.entries[0].name[2] = 'R';
  EXPECT_THAT(with_manifest(bad_char), HasSubstr("bad character 'R'"));
  abi::Manifest twice = two_devices();
  std::strcpy(twice.entries[1].name, "service");
  EXPECT_THAT(with_manifest(twice), HasSubstr("duplicate device"));
}

// Checks what vm.cc relies on for every plan the loader accepts.
void expect_plan_invariants(const LoadPlan& plan, uint64_t mem) {
  ASSERT_FALSE(plan.segments.empty());
  bool entry_ok = false;
  for (const Segment& s : plan.segments) {
    EXPECT_GE(s.gpa, abi::kImageBase);
    EXPECT_LE(s.gpa + s.mem_size, mem - kMinStackRoom);
    EXPECT_LE(s.file_size, s.mem_size);
    EXPECT_FALSE(s.writable && s.executable);
    EXPECT_LE(s.gpa + s.mem_size, plan.image_end);
    if (s.executable && plan.entry >= s.gpa && plan.entry < s.gpa + s.file_size) entry_ok = true;
  }
  EXPECT_TRUE(entry_ok);
  EXPECT_EQ(validate_manifest(plan.manifest), "");
}

// Random corruption of a valid image, biased towards the headers and the note where
// the interesting fields are; the loader must refuse or accept, never misbehave.
TEST(ElfLoader, SurvivesRandomMutations) {
  const std::vector<uint8_t> valid = ImageBuilder::valid().build();
  std::mt19937_64 rng(20261126);
  const uint64_t interesting[] = {0,        1,      0x7f,         0x80,
                                  0xff,     0xffff, 0x7fffffff,   0xffffffff,
                                  0x100000, 0x1000, ~uint64_t{0}, ~uint64_t{0} - 7};
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> bytes = valid;
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits; ++e) {
      size_t limit = rng() % 2 ? 64 + 5 * sizeof(Elf64_Phdr) : bytes.size();
      size_t at = rng() % std::min(limit, bytes.size());
      switch (rng() % 4) {
        case 0:
          bytes[at] = static_cast<uint8_t>(rng());
          break;
        case 1:
          bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 2: {
          uint64_t value = interesting[rng() % std::size(interesting)];
          size_t width = size_t{1} << (rng() % 4);
          if (at + width <= bytes.size()) std::memcpy(bytes.data() + at, &value, width);
          break;
        }
        case 3:
          bytes.resize(rng() % (bytes.size() + 1));
          break;
      }
      if (bytes.empty()) break;
    }
    uint64_t mem = rng() % 8 ? kMem : (rng() % 64) << 20;
    LoadResult result = plan_load(bytes, mem);
    if (auto* plan = std::get_if<LoadPlan>(&result)) {
      ++accepted;
      expect_plan_invariants(*plan, mem);
    } else {
      ASSERT_FALSE(std::get<std::string>(result).empty());
    }
  }
  RecordProperty("accepted", accepted);
  // Some mutations hit bytes that do not matter (code, padding): those must still load.
  EXPECT_GT(accepted, 100);
  EXPECT_LT(accepted, 20000);
}

}  // namespace
}  // namespace morgana::tender
