// Symbolises guest code addresses (panic backtraces, fault RIPs) from the image's own
// .symtab/.strtab, so the monitor can print "morgana::panic(char const*, ...)+0x1c".
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace morgana::tender {

struct Symbolized {
  std::string name;     // demangled when it is a C++ name
  uint64_t offset = 0;  // from the start of the symbol
};

class SymbolTable {
 public:
  // Reads the function symbols of an ELF file. Symbols only make messages nicer, so an
  // absent, stripped or malformed table gives an empty SymbolTable, never an error; each
  // hostile field is bounds-checked and bad symbols are skipped.
  static SymbolTable from_elf(std::span<const uint8_t> image);

  // The symbol containing `address`: one whose [value, value + size) holds it, or, for a
  // symbol of size 0, the nearest one at or below it within the same section.
  std::optional<Symbolized> lookup(uint64_t address) const;

  // "name+0x1c", or "??" when no symbol contains the address.
  std::string describe(uint64_t address) const;

  size_t size() const { return symbols_.size(); }
  bool empty() const { return symbols_.empty(); }

 private:
  struct Symbol {
    uint64_t start;
    uint64_t end;   // sized: start + size; size 0: end of its section
    uint32_t name;  // offset into strings_, NUL-terminated there
    bool sized;
    bool global;
  };
  std::vector<Symbol> symbols_;  // sorted by start
  // One copy of the string table: symbols refer into it, so a table of many symbols
  // sharing one long name costs no more memory than the file.
  std::vector<char> strings_;
};

// A SymbolTable read on first use: only a panic or a fault needs names, so a normal
// boot does not pay for parsing the table. The image bytes must outlive it.
class LazySymbolTable {
 public:
  explicit LazySymbolTable(std::span<const uint8_t> image) : image_(image) {}
  const SymbolTable& get() const {
    if (!table_) table_ = SymbolTable::from_elf(image_);
    return *table_;
  }

 private:
  std::span<const uint8_t> image_;
  mutable std::optional<SymbolTable> table_;
};

}  // namespace morgana::tender
