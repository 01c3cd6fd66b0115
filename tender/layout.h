// Where morgana-hvt puts things in guest memory for one image (DESIGN.md §4): the heap
// after the image, then a guard page, then the stack at the top of RAM.
#pragma once

#include <cstdint>
#include <string>

#include "platform/abi/hvt_abi.h"

namespace morgana::tender {

struct GuestLayout {
  uint64_t heap_start;
  uint64_t heap_end;  // the guard page starts here
  uint64_t stack_bottom;
  uint64_t stack_top;
};

// Stack: a sixteenth of RAM, between 64 KiB and 1 MiB. Returns "" or why the image
// does not fit into `mem_size`.
inline std::string plan_layout(uint64_t mem_size, uint64_t image_end, GuestLayout& out) {
  uint64_t stack = mem_size / 16;
  if (stack < (64u << 10)) stack = 64u << 10;
  if (stack > (1u << 20)) stack = 1u << 20;
  stack &= ~(abi::kPageSize - 1);
  out.stack_top = mem_size;
  out.stack_bottom = mem_size - stack;
  out.heap_end = out.stack_bottom - abi::kPageSize;
  out.heap_start = image_end;
  if (image_end > out.heap_end)
    return "the image (ending at " + std::to_string(image_end >> 10) + " KiB) and a " +
           std::to_string(stack >> 10) + " KiB stack do not fit into " +
           std::to_string(mem_size >> 20) + " MiB of guest memory";
  return "";
}

}  // namespace morgana::tender
