// plan_load(): reads a hostile image file into a LoadPlan. Every field of the file is
// untrusted: structures are copied out with read_at() (bounds-checked, no alignment
// assumptions) and all address arithmetic uses checked adds.
#include "tender/elf.h"

#include <elf.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "tender/manifest.h"

namespace morgana::tender {
namespace {

using Refusal = std::string;

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return buffer;
}

using ull = unsigned long long;  // for printf's %llx

std::string describe_memory(uint64_t bytes) {
  if (bytes % (1u << 20) == 0) return format("%llu MiB", ull(bytes >> 20));
  return format("%llu bytes", ull(bytes));
}

// Rounds up to a page; false when that overflows.
bool page_round_up(uint64_t value, uint64_t& out) {
  if (__builtin_add_overflow(value, abi::kPageSize - 1, &out)) return false;
  out &= ~(abi::kPageSize - 1);
  return true;
}

std::string check_header(const Elf64_Ehdr& header) {
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) return "not an ELF file (bad magic)";
  if (header.e_ident[EI_CLASS] != ELFCLASS64) {
    return format("not a 64-bit ELF (class %u)", header.e_ident[EI_CLASS]);
  }
  if (header.e_ident[EI_DATA] != ELFDATA2LSB) {
    return format("not a little-endian ELF (data encoding %u)", header.e_ident[EI_DATA]);
  }
  if (header.e_ident[EI_VERSION] != EV_CURRENT || header.e_version != EV_CURRENT) {
    return format("unknown ELF version %u", header.e_ident[EI_VERSION]);
  }
  if (header.e_type == ET_DYN) {
    return "position-independent (ET_DYN) image; link it static with -no-pie";
  }
  if (header.e_type != ET_EXEC) return format("not an executable (ELF type %u)", header.e_type);
  if (header.e_machine != EM_X86_64) {
    return format("wrong machine %u (expected x86-64, %u)", header.e_machine, EM_X86_64);
  }
  if (header.e_phnum == 0) return "no program headers";
  if (header.e_phnum > kMaxProgramHeaders) {
    return format("too many program headers (%u, at most %u)", header.e_phnum, kMaxProgramHeaders);
  }
  if (header.e_phentsize != sizeof(Elf64_Phdr)) {
    return format("program header size %u (expected %zu)", header.e_phentsize, sizeof(Elf64_Phdr));
  }
  return "";
}

// The MORGANA note's expected name, NUL included (its namesz is 8).
constexpr char kNoteName[] = "MORGANA";

struct NoteScan {
  std::optional<abi::Manifest> manifest;
};

// Walks the notes of PT_NOTE segment `index` and copies out the manifest if present.
std::string scan_notes(std::span<const uint8_t> notes, uint32_t index, uint64_t align,
                       NoteScan& scan) {
  uint64_t pos = 0;
  while (pos < notes.size()) {
    // Header and payload sizes are 32-bit, so these 64-bit sums cannot overflow.
    auto header = read_at<Elf64_Nhdr>(notes, pos);
    if (!header) return format("note at offset %llu of segment %u is truncated", ull(pos), index);
    uint64_t name_at = pos + sizeof(Elf64_Nhdr);
    uint64_t desc_at = name_at + ((uint64_t{header->n_namesz} + align - 1) & ~(align - 1));
    uint64_t desc_end = desc_at + header->n_descsz;
    if (desc_end > notes.size() || name_at + header->n_namesz > notes.size()) {
      return format("note at offset %llu runs past the end of segment %u", ull(pos), index);
    }
    bool ours = header->n_namesz == sizeof kNoteName &&
                std::memcmp(notes.data() + name_at, kNoteName, sizeof kNoteName) == 0 &&
                header->n_type == abi::kManifestNoteType;
    if (ours) {
      if (scan.manifest) return "more than one manifest note";
      if (header->n_descsz != sizeof(abi::Manifest)) {
        return format("%s manifest note (%u bytes, expected %zu)",
                      header->n_descsz > sizeof(abi::Manifest) ? "oversized" : "undersized",
                      header->n_descsz, sizeof(abi::Manifest));
      }
      scan.manifest = read_at<abi::Manifest>(notes, desc_at);
    }
    // The last note's padding may be cut off by the segment's end.
    pos = (desc_end + align - 1) & ~(align - 1);
  }
  return "";
}

// Checks one PT_LOAD and appends it to the plan (empty segments are dropped: they map
// nothing).
std::string check_load(const Elf64_Phdr& ph, uint32_t index, uint64_t file_size, uint64_t mem_size,
                       LoadPlan& plan) {
  if (ph.p_filesz > ph.p_memsz) {
    return format("segment %u has more file bytes (%llu) than memory bytes (%llu)", index,
                  ull(ph.p_filesz), ull(ph.p_memsz));
  }
  if (!fits(ph.p_offset, ph.p_filesz, file_size)) {
    return format("segment %u (file offset %llu, %llu bytes) runs past the end of the file", index,
                  ull(ph.p_offset), ull(ph.p_filesz));
  }
  if (ph.p_vaddr != ph.p_paddr) {
    return format(
        "segment %u has virtual address 0x%llx but physical address 0x%llx (guest "
        "memory is identity-mapped)",
        index, ull(ph.p_vaddr), ull(ph.p_paddr));
  }
  if ((ph.p_flags & PF_W) && (ph.p_flags & PF_X)) {
    return format("segment %u (0x%llx) is both writable and executable (W^X)", index,
                  ull(ph.p_vaddr));
  }
  if (!(ph.p_flags & PF_R)) {
    return format("segment %u (0x%llx) is not readable (flags 0x%x)", index, ull(ph.p_vaddr),
                  ph.p_flags);
  }
  if (ph.p_memsz == 0) return "";

  uint64_t end;  // one past the last byte
  uint64_t limit = mem_size > kMinStackRoom ? mem_size - kMinStackRoom : 0;
  bool wraps = __builtin_add_overflow(ph.p_vaddr, ph.p_memsz, &end);
  if (wraps || ph.p_vaddr < abi::kImageBase || end > limit) {
    uint64_t last = wraps ? ~uint64_t{0} : end - 1;
    return format(
        "segment %u (0x%llx-0x%llx) lies outside guest memory (%s; the image must "
        "lie in 0x%llx-0x%llx)",
        index, ull(ph.p_vaddr), ull(last), describe_memory(mem_size).c_str(), ull(abi::kImageBase),
        ull(limit > 0 ? limit - 1 : 0));
  }
  plan.segments.push_back(Segment{
      .file_offset = ph.p_offset,
      .gpa = ph.p_vaddr,
      .file_size = ph.p_filesz,
      .mem_size = ph.p_memsz,
      .readable = true,
      .writable = (ph.p_flags & PF_W) != 0,
      .executable = (ph.p_flags & PF_X) != 0,
  });
  return "";
}

// Pages of a segment as [first, end). Segments are inside guest memory, so no overflow.
struct PageRange {
  uint64_t first, end;
};
PageRange pages_of(const Segment& s) {
  uint64_t end = 0;
  page_round_up(s.gpa + s.mem_size, end);
  return {s.gpa & ~(abi::kPageSize - 1), end};
}

// Two segments sharing a page would need two sets of rights on it, so W^X would depend
// on which one the monitor mapped last.
std::string check_overlaps(const LoadPlan& plan, const std::vector<uint32_t>& indexes) {
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      PageRange a = pages_of(plan.segments[j]), b = pages_of(plan.segments[i]);
      if (a.first < b.end && b.first < a.end) {
        const Segment& sa = plan.segments[j];
        const Segment& sb = plan.segments[i];
        return format("segments %u (0x%llx-0x%llx) and %u (0x%llx-0x%llx) overlap (share a page)",
                      indexes[j], ull(sa.gpa), ull(sa.gpa + sa.mem_size - 1), indexes[i],
                      ull(sb.gpa), ull(sb.gpa + sb.mem_size - 1));
      }
    }
  }
  return "";
}

std::string check_entry(const LoadPlan& plan, const std::vector<uint32_t>& indexes) {
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    const Segment& s = plan.segments[i];
    if (plan.entry < s.gpa || plan.entry - s.gpa >= s.mem_size) continue;
    if (!s.executable) {
      return format("entry point 0x%llx lies in segment %u, which is not executable",
                    ull(plan.entry), indexes[i]);
    }
    // Zero-fill is never code: an entry point there is a broken link.
    if (plan.entry - s.gpa >= s.file_size) {
      return format("entry point 0x%llx lies past the code in segment %u", ull(plan.entry),
                    indexes[i]);
    }
    return "";
  }
  return format("entry point 0x%llx lies outside the image's segments", ull(plan.entry));
}

}  // namespace

LoadResult plan_load(std::span<const uint8_t> image, uint64_t mem_size) {
  auto header = read_at<Elf64_Ehdr>(image, 0);
  if (!header) {
    return format("file too short for an ELF header (%zu bytes, need %zu)", image.size(),
                  sizeof(Elf64_Ehdr));
  }
  if (Refusal problem = check_header(*header); !problem.empty()) return problem;
  uint64_t table_size = uint64_t{header->e_phnum} * sizeof(Elf64_Phdr);
  if (!fits(header->e_phoff, table_size, image.size())) {
    return format("program headers (offset %llu, %u entries) run past the end of the file",
                  ull(header->e_phoff), header->e_phnum);
  }

  LoadPlan plan;
  plan.entry = header->e_entry;
  std::vector<uint32_t> indexes;  // program header index of each plan segment, for messages
  NoteScan notes;
  for (uint32_t i = 0; i < header->e_phnum; ++i) {
    // Cannot fail: the whole table was bounds-checked above.
    Elf64_Phdr ph = *read_at<Elf64_Phdr>(image, header->e_phoff + i * sizeof(Elf64_Phdr));
    switch (ph.p_type) {
      case PT_LOAD: {
        size_t before = plan.segments.size();
        if (Refusal problem = check_load(ph, i, image.size(), mem_size, plan); !problem.empty()) {
          return problem;
        }
        if (plan.segments.size() != before) indexes.push_back(i);
        break;
      }
      case PT_NOTE: {
        if (!fits(ph.p_offset, ph.p_filesz, image.size())) {
          return format(
              "note segment %u (file offset %llu, %llu bytes) runs past the end of "
              "the file",
              i, ull(ph.p_offset), ull(ph.p_filesz));
        }
        uint64_t align = ph.p_align == 8 ? 8 : 4;  // gABI: 4, except 8-aligned GNU notes
        auto bytes = image.subspan(ph.p_offset, ph.p_filesz);
        if (Refusal problem = scan_notes(bytes, i, align, notes); !problem.empty()) {
          return problem;
        }
        break;
      }
      case PT_INTERP:
      case PT_DYNAMIC:
        return format("segment %u: dynamically linked image (%s); link it static", i,
                      ph.p_type == PT_INTERP ? "PT_INTERP" : "PT_DYNAMIC");
      case PT_TLS:
        return format("segment %u: thread-local storage (PT_TLS) is not supported", i);
      default:
        break;  // PT_GNU_STACK, PT_PHDR and the like ask nothing of the loader
    }
  }
  if (plan.segments.empty()) return "no loadable (PT_LOAD) segment";
  if (Refusal problem = check_overlaps(plan, indexes); !problem.empty()) return problem;
  if (Refusal problem = check_entry(plan, indexes); !problem.empty()) return problem;
  if (!notes.manifest) {
    return "no Morgana manifest note (was the image built with morgana_unikernel()?)";
  }
  if (Refusal problem = validate_manifest(*notes.manifest); !problem.empty()) return problem;
  plan.manifest = *notes.manifest;

  for (const Segment& s : plan.segments) {
    plan.image_end = std::max(plan.image_end, pages_of(s).end);
  }
  return plan;
}

}  // namespace morgana::tender
