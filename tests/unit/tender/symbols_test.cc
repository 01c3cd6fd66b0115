// Tests for SymbolTable: function symbols from .symtab, demangled, with offsets; a
// hostile or missing table means fewer symbols, never a crash or an error.
#include <dlfcn.h>
#include <elf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "tender/symbols.h"

// A function of this binary, looked up by the real-ELF test below.
extern "C++" __attribute__((noinline)) int morgana_symbols_test_marker(int x) {
  return x * 3 + 1;
}

namespace morgana::tender {
namespace {

using ::testing::HasSubstr;

struct SymbolSpec {
  std::string name;
  uint8_t type = STT_FUNC;
  uint8_t bind = STB_GLOBAL;
  uint16_t section = 1;  // .text
  uint64_t value = 0;
  uint64_t size = 0;
};

// Section layout: 0 null, 1 .text (code at 0x100000), 2 .rodata, 3 .symtab, 4 .strtab.
struct SymbolImage {
  std::vector<SymbolSpec> symbols;
  bool terminate_strtab = true;

  static SymbolImage typical() {
    SymbolImage image;
    image.symbols = {
        {"_start", STT_NOTYPE, STB_GLOBAL, 1, 0x100000, 0},  // assembly label, no size
        {"_ZN7morgana5panicEPKcz", STT_FUNC, STB_GLOBAL, 1, 0x100010, 0x40},
        {"helper", STT_FUNC, STB_LOCAL, 1, 0x100100, 0x20},
        {"helper_alias", STT_FUNC, STB_GLOBAL, 1, 0x100100, 0x20},
        {"_Znot_really_mangled", STT_FUNC, STB_GLOBAL, 1, 0x100200, 0x10},
        {"rodata_label", STT_NOTYPE, STB_GLOBAL, 2, 0x101000, 0},  // data, not code
        {"an_object", STT_OBJECT, STB_GLOBAL, 2, 0x101010, 8},
        {"imported", STT_FUNC, STB_GLOBAL, SHN_UNDEF, 0, 0},
        {"absolute", STT_FUNC, STB_GLOBAL, SHN_ABS, 0x100300, 0x10},
    };
    return image;
  }

  std::vector<uint8_t> build() const {
    std::string strtab(1, '\0');
    std::vector<Elf64_Sym> syms(1);  // symbol 0 is the null symbol
    for (const SymbolSpec& s : symbols) {
      syms.push_back(Elf64_Sym{.st_name = static_cast<uint32_t>(strtab.size()),
                               .st_info = static_cast<uint8_t>(ELF64_ST_INFO(s.bind, s.type)),
                               .st_other = 0,
                               .st_shndx = s.section,
                               .st_value = s.value,
                               .st_size = s.size});
      strtab += s.name;
      strtab += '\0';
    }
    if (!terminate_strtab) strtab.pop_back();

    std::vector<uint8_t> out(sizeof(Elf64_Ehdr));
    auto append = [&](const void* data, size_t size) {
      out.resize((out.size() + 7) & ~size_t{7});
      uint64_t offset = out.size();
      auto bytes = static_cast<const uint8_t*>(data);
      out.insert(out.end(), bytes, bytes + size);
      return offset;
    };
    uint64_t symtab_at = append(syms.data(), syms.size() * sizeof(Elf64_Sym));
    uint64_t strtab_at = append(strtab.data(), strtab.size());
    std::vector<Elf64_Shdr> sections(5);
    sections[1] = {.sh_type = SHT_PROGBITS,
                   .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
                   .sh_addr = 0x100000,
                   .sh_size = 0x1000};
    sections[2] = {
        .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC, .sh_addr = 0x101000, .sh_size = 0x100};
    sections[3] = {.sh_type = SHT_SYMTAB,
                   .sh_offset = symtab_at,
                   .sh_size = syms.size() * sizeof(Elf64_Sym),
                   .sh_link = 4,
                   .sh_entsize = sizeof(Elf64_Sym)};
    sections[4] = {.sh_type = SHT_STRTAB, .sh_offset = strtab_at, .sh_size = strtab.size()};
    uint64_t shoff = append(sections.data(), sections.size() * sizeof(Elf64_Shdr));

    Elf64_Ehdr h{};
    std::memcpy(h.e_ident, ELFMAG, SELFMAG);
    h.e_ident[EI_CLASS] = ELFCLASS64;
    h.e_ident[EI_DATA] = ELFDATA2LSB;
    h.e_ident[EI_VERSION] = EV_CURRENT;
    h.e_type = ET_EXEC;
    h.e_machine = EM_X86_64;
    h.e_version = EV_CURRENT;
    h.e_shoff = shoff;
    h.e_shentsize = sizeof(Elf64_Shdr);
    h.e_shnum = 5;
    std::memcpy(out.data(), &h, sizeof h);
    return out;
  }
};

template <typename T>
void patch(std::vector<uint8_t>& bytes, size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}
size_t section_field(const std::vector<uint8_t>& bytes, size_t index, size_t field) {
  Elf64_Ehdr h;
  std::memcpy(&h, bytes.data(), sizeof h);
  return h.e_shoff + index * sizeof(Elf64_Shdr) + field;
}

TEST(Symbols, FindsDemangledFunctionWithOffset) {
  SymbolTable table = SymbolTable::from_elf(SymbolImage::typical().build());
  auto panic = table.lookup(0x100020);
  ASSERT_TRUE(panic);
  EXPECT_EQ(panic->name, "morgana::panic(char const*, ...)");
  EXPECT_EQ(panic->offset, 0x10u);
  EXPECT_EQ(table.describe(0x100010), "morgana::panic(char const*, ...)+0x0");
  EXPECT_EQ(table.describe(0x10004f), "morgana::panic(char const*, ...)+0x3f");
}

TEST(Symbols, KeepsOnlyCodeSymbols) {
  SymbolTable table = SymbolTable::from_elf(SymbolImage::typical().build());
  // _start, panic, helper, helper_alias, _Znot_really_mangled; no data, undefined or
  // absolute symbols.
  EXPECT_EQ(table.size(), 5u);
  EXPECT_FALSE(table.lookup(0x101000));
  EXPECT_FALSE(table.lookup(0x101010));
  EXPECT_FALSE(table.lookup(0x100305));
}

TEST(Symbols, UnsizedSymbolCoversUpToTheNextOne) {
  SymbolTable table = SymbolTable::from_elf(SymbolImage::typical().build());
  EXPECT_EQ(table.describe(0x100000), "_start+0x0");
  EXPECT_EQ(table.describe(0x10000f), "_start+0xf");
  // Past the end of its section it covers nothing.
  SymbolImage lone;
  lone.symbols = {{"_start", STT_NOTYPE, STB_GLOBAL, 1, 0x100000, 0}};
  SymbolTable only = SymbolTable::from_elf(lone.build());
  EXPECT_EQ(only.describe(0x100fff), "_start+0xfff");
  EXPECT_FALSE(only.lookup(0x101000));
}

TEST(Symbols, SizedSymbolEndsAtItsSize) {
  SymbolTable table = SymbolTable::from_elf(SymbolImage::typical().build());
  EXPECT_FALSE(table.lookup(0x100050));  // one past panic: a gap, not panic+0x40
  EXPECT_FALSE(table.lookup(0xfffff));   // below everything
  EXPECT_FALSE(table.lookup(~uint64_t{0}));
  EXPECT_EQ(table.describe(0x100050), "??");
}

TEST(Symbols, PrefersGlobalAlias) {
  SymbolTable table = SymbolTable::from_elf(SymbolImage::typical().build());
  EXPECT_EQ(table.describe(0x100104), "helper_alias+0x4");
}

TEST(Symbols, ShowsUndemanglableNamesRaw) {
  SymbolTable table = SymbolTable::from_elf(SymbolImage::typical().build());
  EXPECT_EQ(table.describe(0x100201), "_Znot_really_mangled+0x1");
}

TEST(Symbols, CapsHostileNameLength) {
  SymbolImage image;
  image.symbols = {{std::string(100000, 'f'), STT_FUNC, STB_GLOBAL, 1, 0x100000, 0x10},
                   {"_Z" + std::string(5000, 'N'), STT_FUNC, STB_GLOBAL, 1, 0x100010, 0x10}};
  SymbolTable table = SymbolTable::from_elf(image.build());
  auto first = table.lookup(0x100000);
  ASSERT_TRUE(first);
  EXPECT_LE(first->name.size(), 512u);
  auto second = table.lookup(0x100010);
  ASSERT_TRUE(second);
  EXPECT_LE(second->name.size(), 512u);
}

TEST(Symbols, MissingTableIsEmptyNotAnError) {
  EXPECT_TRUE(SymbolTable::from_elf({}).empty());
  std::vector<uint8_t> bytes = SymbolImage::typical().build();
  EXPECT_TRUE(SymbolTable::from_elf(std::span(bytes).first(10)).empty());
  std::vector<uint8_t> stripped = bytes;
  patch(stripped, offsetof(Elf64_Ehdr, e_shoff), uint64_t{0});
  EXPECT_TRUE(SymbolTable::from_elf(stripped).empty());
  std::vector<uint8_t> no_symtab = bytes;
  patch(no_symtab, section_field(bytes, 3, offsetof(Elf64_Shdr, sh_type)), uint32_t{SHT_PROGBITS});
  EXPECT_TRUE(SymbolTable::from_elf(no_symtab).empty());
  EXPECT_EQ(SymbolTable().describe(0x100000), "??");
}

TEST(Symbols, HostileSectionHeadersGiveAnEmptyTable) {
  const std::vector<uint8_t> bytes = SymbolImage::typical().build();
  auto with = [&](size_t offset, auto value) {
    std::vector<uint8_t> copy = bytes;
    patch(copy, offset, value);
    return SymbolTable::from_elf(copy);
  };
  EXPECT_TRUE(with(offsetof(Elf64_Ehdr, e_shoff), uint64_t{0xfffffffffffffff0}).empty());
  EXPECT_TRUE(with(offsetof(Elf64_Ehdr, e_shnum), uint16_t{0xff00}).empty());
  EXPECT_TRUE(with(offsetof(Elf64_Ehdr, e_shentsize), uint16_t{40}).empty());
  EXPECT_TRUE(with(section_field(bytes, 3, offsetof(Elf64_Shdr, sh_link)), uint32_t{5}).empty());
  EXPECT_TRUE(with(section_field(bytes, 3, offsetof(Elf64_Shdr, sh_link)), uint32_t{2}).empty());
  EXPECT_TRUE(
      with(section_field(bytes, 3, offsetof(Elf64_Shdr, sh_entsize)), uint64_t{16}).empty());
  EXPECT_TRUE(
      with(section_field(bytes, 3, offsetof(Elf64_Shdr, sh_size)), ~uint64_t{0} - 100).empty());
  EXPECT_TRUE(
      with(section_field(bytes, 4, offsetof(Elf64_Shdr, sh_offset)), ~uint64_t{0} - 4).empty());
  EXPECT_TRUE(with(offsetof(Elf64_Ehdr, e_ident) + EI_CLASS, uint8_t{ELFCLASS32}).empty());

  // gABI extended numbering: e_shnum 0, the count in section 0's sh_size.
  std::vector<uint8_t> extended = bytes;
  patch(extended, offsetof(Elf64_Ehdr, e_shnum), uint16_t{0});
  patch(extended, section_field(bytes, 0, offsetof(Elf64_Shdr, sh_size)), uint64_t{5});
  EXPECT_EQ(SymbolTable::from_elf(extended).size(), 5u);
  patch(extended, section_field(bytes, 0, offsetof(Elf64_Shdr, sh_size)), ~uint64_t{0} / 8);
  EXPECT_TRUE(SymbolTable::from_elf(extended).empty());
}

TEST(Symbols, SkipsHostileSymbols) {
  SymbolImage image = SymbolImage::typical();
  image.symbols.push_back({"bad_section", STT_FUNC, STB_GLOBAL, 9, 0x100400, 0x10});
  image.symbols.push_back({"wraps", STT_FUNC, STB_GLOBAL, 1, ~uint64_t{0} - 4, 0x10});
  image.symbols.push_back({"outside_its_section", STT_NOTYPE, STB_GLOBAL, 1, 0x200000, 0});
  EXPECT_EQ(SymbolTable::from_elf(image.build()).size(), 5u);

  // A name offset past the string table, and a last name without its NUL.
  std::vector<uint8_t> bytes = SymbolImage::typical().build();
  size_t symtab = 0;
  std::memcpy(&symtab, bytes.data() + section_field(bytes, 3, offsetof(Elf64_Shdr, sh_offset)), 8);
  patch(bytes, symtab + 2 * sizeof(Elf64_Sym) + offsetof(Elf64_Sym, st_name), uint32_t{0xffffff});
  SymbolTable table = SymbolTable::from_elf(bytes);
  EXPECT_EQ(table.size(), 4u);
  // panic's name was unreadable, so the nearest symbol below it is _start (unsized).
  EXPECT_EQ(table.describe(0x100020), "_start+0x20");

  SymbolImage unterminated;
  unterminated.symbols = {{"first", STT_FUNC, STB_GLOBAL, 1, 0x100000, 0x10},
                          {"last", STT_FUNC, STB_GLOBAL, 1, 0x100010, 0x10}};
  unterminated.terminate_strtab = false;
  SymbolTable cut = SymbolTable::from_elf(unterminated.build());
  EXPECT_EQ(cut.describe(0x100000), "first+0x0");
  EXPECT_FALSE(cut.lookup(0x100010));
}

TEST(Symbols, SurvivesRandomMutations) {
  const std::vector<uint8_t> valid = SymbolImage::typical().build();
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> bytes = valid;
    for (int e = 0; e < 1 + static_cast<int>(rng() % 4); ++e) {
      size_t at = rng() % bytes.size();
      if (rng() % 3 == 0) {
        uint64_t value = rng() % 2 ? ~uint64_t{0} - rng() % 64 : rng() % 0x200000;
        if (at + 8 <= bytes.size()) std::memcpy(bytes.data() + at, &value, 8);
      } else {
        bytes[at] = static_cast<uint8_t>(rng());
      }
    }
    if (rng() % 8 == 0) bytes.resize(rng() % bytes.size());
    SymbolTable table = SymbolTable::from_elf(bytes);
    for (uint64_t address : {uint64_t{0x100000}, uint64_t{0x100020}, rng() % 0x200000}) {
      (void)table.describe(address);
    }
  }
}

// The symboliser on real g++ and ld output: this test binary's own symbol table.
TEST(Symbols, SymbolisesThisTestBinary) {
  std::ifstream file("/proc/self/exe", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 0u);
  SymbolTable table = SymbolTable::from_elf(bytes);
  ASSERT_FALSE(table.empty());
  Dl_info info;
  auto address = reinterpret_cast<uintptr_t>(&morgana_symbols_test_marker);
  ASSERT_NE(dladdr(reinterpret_cast<void*>(address), &info), 0);
  // The binary may be position-independent: the symbol table holds link-time addresses.
  Elf64_Ehdr header;
  std::memcpy(&header, bytes.data(), sizeof header);
  uint64_t bias = header.e_type == ET_DYN ? reinterpret_cast<uintptr_t>(info.dli_fbase) : 0;
  EXPECT_THAT(table.describe(address - bias + 2),
              HasSubstr("morgana_symbols_test_marker(int)+0x2"));
  EXPECT_EQ(morgana_symbols_test_marker(1), 4);
}

}  // namespace
}  // namespace morgana::tender
