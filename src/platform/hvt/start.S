/* hvt image entry point. morgana-hvt starts the vCPU here in 64-bit mode at CPL 3 with
 * rsp = BootInfo::stack_top (16-byte aligned) and rdi = the BootInfo address. */
  .section .text.boot, "ax", @progbits
  .global _start
  .type _start, @function
_start:
  xor %ebp, %ebp            /* ends the frame-pointer chain for backtraces */
  call morgana_hvt_boot     /* never returns */
  ud2
  .size _start, . - _start
  .section .note.GNU-stack, "", @progbits
