// SymbolTable: reads function symbols out of a hostile ELF file through the section
// headers. Nothing here may fail loudly: a bad field just means fewer symbols.
#include "tender/symbols.h"

#include <cxxabi.h>
#include <elf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tender/elf.h"

namespace morgana::tender {
namespace {

// Longer mangled names are shown raw: the demangler's time and output grow with its
// input, and only a hostile image has names this long.
constexpr size_t kMaxDemangleInput = 1024;
// Names are cut here when printed, so a hostile name cannot flood the terminal.
constexpr size_t kMaxShownName = 512;

std::optional<Elf64_Shdr> section(std::span<const uint8_t> image, uint64_t table, uint64_t index) {
  return read_at<Elf64_Shdr>(image, table + index * sizeof(Elf64_Shdr));
}

bool is_elf64_le(std::span<const uint8_t> image, Elf64_Ehdr& header) {
  auto read = read_at<Elf64_Ehdr>(image, 0);
  if (!read) return false;
  header = *read;
  return std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0 &&
         header.e_ident[EI_CLASS] == ELFCLASS64 && header.e_ident[EI_DATA] == ELFDATA2LSB;
}

std::string demangle(const char* name) {
  size_t length = strnlen(name, kMaxDemangleInput + 1);
  if (length <= kMaxDemangleInput && name[0] == '_' && name[1] == 'Z') {
    int status = 0;
    char* plain = ::abi::__cxa_demangle(name, nullptr, nullptr, &status);
    if (status == 0 && plain != nullptr) {
      std::string result(plain, strnlen(plain, kMaxShownName));
      std::free(plain);
      return result;
    }
    std::free(plain);
  }
  return std::string(name, std::min(length, kMaxShownName));
}

}  // namespace

SymbolTable SymbolTable::from_elf(std::span<const uint8_t> image) {
  SymbolTable table;
  Elf64_Ehdr header;
  if (!is_elf64_le(image, header) || header.e_shoff == 0) return table;
  if (header.e_shentsize != sizeof(Elf64_Shdr)) return table;

  // gABI: with 0xff00 sections or more, e_shnum is 0 and section 0's sh_size holds the
  // count.
  uint64_t count = header.e_shnum;
  if (count == 0) {
    auto first = section(image, header.e_shoff, 0);
    if (!first) return table;
    count = first->sh_size;
  }
  uint64_t table_bytes;
  if (__builtin_mul_overflow(count, sizeof(Elf64_Shdr), &table_bytes) ||
      !fits(header.e_shoff, table_bytes, image.size())) {
    return table;
  }

  std::optional<Elf64_Shdr> symtab;
  for (uint64_t i = 0; i < count && !symtab; ++i) {
    auto s = section(image, header.e_shoff, i);
    if (s->sh_type == SHT_SYMTAB) symtab = s;
  }
  if (!symtab || symtab->sh_entsize != sizeof(Elf64_Sym) || symtab->sh_link >= count) {
    return table;
  }
  auto strtab = section(image, header.e_shoff, symtab->sh_link);
  if (strtab->sh_type != SHT_STRTAB || !fits(strtab->sh_offset, strtab->sh_size, image.size()) ||
      !fits(symtab->sh_offset, symtab->sh_size, image.size())) {
    return table;
  }

  // Keep the string table only up to its last NUL: then every name offset below that
  // point is NUL-terminated, checked once here instead of by a scan per symbol.
  const char* strings = reinterpret_cast<const char*>(image.data() + strtab->sh_offset);
  size_t usable = strtab->sh_size;
  while (usable > 0 && strings[usable - 1] != '\0') --usable;
  table.strings_.assign(strings, strings + usable);

  uint64_t symbol_count = symtab->sh_size / sizeof(Elf64_Sym);
  for (uint64_t i = 0; i < symbol_count; ++i) {
    Elf64_Sym sym = *read_at<Elf64_Sym>(image, symtab->sh_offset + i * sizeof(Elf64_Sym));
    unsigned type = ELF64_ST_TYPE(sym.st_info);
    if (type != STT_FUNC && type != STT_NOTYPE) continue;
    if (sym.st_name == 0 || sym.st_name >= usable || strings[sym.st_name] == '\0') continue;
    if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE || sym.st_shndx >= count) {
      continue;  // undefined, absolute or common: not code in this image
    }
    Elf64_Shdr home = *section(image, header.e_shoff, sym.st_shndx);
    // Untyped symbols are assembly labels; only those in code are functions.
    if (type == STT_NOTYPE && !(home.sh_flags & SHF_EXECINSTR)) continue;
    Symbol entry{.start = sym.st_value,
                 .end = 0,
                 .name = sym.st_name,
                 .sized = sym.st_size != 0,
                 .global = ELF64_ST_BIND(sym.st_info) != STB_LOCAL};
    uint64_t section_end;
    if (entry.sized) {
      if (__builtin_add_overflow(sym.st_value, sym.st_size, &entry.end)) continue;
    } else if (!__builtin_add_overflow(home.sh_addr, home.sh_size, &section_end) &&
               sym.st_value >= home.sh_addr && sym.st_value < section_end) {
      entry.end = section_end;
    } else {
      continue;  // an unsized symbol outside its own section covers nothing
    }
    table.symbols_.push_back(entry);
  }

  // Within one address, sized symbols first, then globals, so lookup() prefers them.
  std::sort(table.symbols_.begin(), table.symbols_.end(), [](const Symbol& a, const Symbol& b) {
    if (a.start != b.start) return a.start < b.start;
    if (a.sized != b.sized) return a.sized;
    if (a.global != b.global) return a.global;
    return a.name < b.name;
  });
  return table;
}

std::optional<Symbolized> SymbolTable::lookup(uint64_t address) const {
  auto after = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                                [](uint64_t a, const Symbol& s) { return a < s.start; });
  if (after == symbols_.begin()) return std::nullopt;
  // Every symbol starting at the nearest address at or below `address` is a candidate.
  uint64_t start = std::prev(after)->start;
  auto first = std::lower_bound(symbols_.begin(), after, start,
                                [](const Symbol& s, uint64_t a) { return s.start < a; });
  for (auto it = first; it != after; ++it) {
    if (address < it->end) {
      return Symbolized{demangle(strings_.data() + it->name), address - it->start};
    }
  }
  return std::nullopt;
}

std::string SymbolTable::describe(uint64_t address) const {
  auto symbol = lookup(address);
  if (!symbol) return "??";
  char offset[24];
  std::snprintf(offset, sizeof offset, "+0x%llx", static_cast<unsigned long long>(symbol->offset));
  return symbol->name + offset;
}

}  // namespace morgana::tender
