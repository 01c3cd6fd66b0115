/* virtio image entry: the PVH note, the 32-bit entry QEMU jumps to, the few CPL 0
 * instructions that reach 64-bit mode and drop to CPL 3, and the ring-0 gates.
 *
 * Why so little here: on kvm-pvm every CPL 0 instruction is emulated (~0.7 us each,
 * DESIGN.md §4a), so the ring-0 path loads registers only. Everything table-like (final
 * page tables, IDT, TSS with its I/O bitmap) is built by boot.cc at CPL 3, at native
 * speed, through bootstrap page tables that map the first GiB user-accessible; one gate
 * call (GATE_FINISH_BOOT) then switches to the final tables, in which the descriptor and
 * page tables are supervisor-only, and refuses to run a second time. */
#include "platform/virtio/gate.h"

#define CR0_VALUE 0x80010033 /* PG | WP | NE | ET | MP | PE */
#define CR4_VALUE 0x00000620 /* OSXMMEXCPT | OSFXSR | PAE */
#define EFER_MSR 0xc0000080
#define EFER_BITS 0x00000900 /* NXE | LME */
#define SYSENTER_CS_MSR 0x174
#define FS_BASE_MSR 0xc0000100
#define TSC_DEADLINE_MSR 0x6e0
#define KVM_WALL_CLOCK_MSR 0x4b564d00
#define KVM_SYSTEM_TIME_MSR 0x4b564d01
#define LAPIC_EOI 0xfee000b0
#define LAPIC_TIMER_INITIAL 0xfee00380

/* --- The PVH entry note: QEMU's -kernel (microvm, q35, pc) and Firecracker look for it. */
  .section .note.Xen, "a", @note
  .p2align 2
  .long 4                        /* name size */
  .long 4                        /* descriptor size */
  .long 18                       /* XEN_ELFNOTE_PHYS32_ENTRY */
  .asciz "Xen"
  .long pvh_start32

/* --- 32-bit protected mode, paging off, CPL 0; ebx = hvm_start_info. */
  .section .ktext.entry, "ax", @progbits
  .code32
  .global pvh_start32
pvh_start32:
  rdtsc                          /* guest time 0, and the start of the CPL 0 figure */
  mov %eax, virtio_boot_tsc
  mov %edx, virtio_boot_tsc + 4
  mov %ebx, virtio_start_info
  movl $(bootstrap_pdpt + 7), bootstrap_pml4  /* present, writable, user */
  movl $(bootstrap_pd + 7), bootstrap_pdpt
  mov $bootstrap_pml4, %eax
  mov %eax, %cr3
  mov $CR4_VALUE, %eax
  mov %eax, %cr4
  mov $EFER_MSR, %ecx
  rdmsr
  or $EFER_BITS, %eax
  wrmsr
  mov $CR0_VALUE, %eax
  mov %eax, %cr0
  lgdt virtio_gdt_descriptor
  ljmp $GDT_KERNEL_CODE, $start64

  .code64
start64:
  xor %eax, %eax
  mov %eax, %ds
  mov %eax, %es
  mov $GDT_KERNEL_DATA, %eax
  mov %eax, %ss
  /* The IDT's contents and the TSS's stacks and I/O bitmap are written by boot.cc at
   * CPL 3 before its first gate call; only loading them needs ring 0. The TSS
   * descriptor's base is split over three fields, hence the shifts. */
  lidt virtio_idt_descriptor
  mov $virtio_tss, %eax
  mov %ax, virtio_gdt + GDT_TSS + 2
  shr $16, %eax
  mov %al, virtio_gdt + GDT_TSS + 4
  mov %ah, virtio_gdt + GDT_TSS + 7
  mov $GDT_TSS, %eax
  ltr %ax
  /* sysexit returns to SYSENTER_CS + 32 (64-bit code) and + 40 (data), RPL 3. */
  mov $SYSENTER_CS_MSR, %ecx
  mov $GDT_KERNEL_CODE, %eax
  xor %edx, %edx
  wrmsr
  /* The stack protector's canary is at %fs:0x28; boot.cc fills it before any
   * protected function runs. */
  mov $FS_BASE_MSR, %ecx
  mov $virtio_thread_block, %eax
  wrmsr
  /* Until boot.cc fills the IDT, #UD is the only vector that can happen (a sysexit on
   * AMD, see return_to_user): point it at its stub, on the kernel stack. */
  mov $virtio_kernel_stack_top, %esp
  mov $virtio_fault_6, %eax
  mov %ax, virtio_idt + 6 * 16
  movw $GDT_KERNEL_CODE, virtio_idt + 6 * 16 + 2
  movw $0x8e00, virtio_idt + 6 * 16 + 4
  shr $16, %eax
  mov %ax, virtio_idt + 6 * 16 + 6
  /* Drop to CPL 3: morgana_virtio_boot(start_info) on the boot stack, IF = 0. */
  mov virtio_start_info, %edi
  mov $morgana_virtio_boot, %edx
  mov $(virtio_boot_stack_top - 8), %ecx  /* as if called: rsp + 8 is 16-byte aligned */
  jmp return_to_user

/* --- Back to CPL 3 at rdx with rsp = rcx, IF = 0.
 * sysexit, because kvm-pvm runs ring 0 in KVM's instruction emulator, which implements
 * neither sysret nor a 64-bit iret. AMD CPUs lack sysexit in long mode: there the first
 * one raises #UD, and the #UD stub switches this path to iretq for good. */
return_to_user:
  cmpb $0, return_with_iret(%rip)
  jne 1f
  .global virtio_sysexit
virtio_sysexit:
  sysexitq
1:
  pushq $(GDT_USER_DATA | 3)
  push %rcx
  pushq $0x2
  pushq $(GDT_USER_CODE | 3)
  push %rdx
  iretq

/* --- The gate. virtio_gate_call (below, user text) executes ud2 at virtio_gate_ud2
 * with eax = gate number and rdi = argument; the #UD stub recognises the address and
 * comes here on the kernel stack. An exception, because kvm-pvm delivers exceptions from
 * CPL 3 to the guest's IDT but turns `int $n` into #UD and `syscall` into no privilege
 * change at all (measured). */
gate_dispatch:
  cmp $GATE_IDLE, %eax
  je gate_idle
  cmp $GATE_FINISH_BOOT, %eax
  je gate_finish_boot
  cmp $GATE_STOP, %eax
  je gate_stop
  cmp $GATE_ROUTE_IRQ, %eax
  je gate_route_irq
  cmp $GATE_MAP_PCI, %eax
  je gate_map_pci
gate_return:
  mov gate_user_rip(%rip), %rdx
  mov gate_user_rsp(%rip), %rcx
  jmp return_to_user

/* GATE_IDLE: rdi = TSC deadline (TSC-deadline timer) or nanoseconds (one-shot timer at
 * the 1 GHz bus QEMU and KVM emulate); sleeps in hlt until the timer interrupt. */
gate_idle:
  cmpl $TIMER_TSC_DEADLINE, virtio_timer_mode(%rip)
  jne 1f
  mov $TSC_DEADLINE_MSR, %ecx
  mov %edi, %eax
  mov %rdi, %rdx
  shr $32, %rdx
  wrmsr
  jmp 2f
1:
  cmpl $TIMER_ONE_SHOT, virtio_timer_mode(%rip)
  jne gate_return                /* no timer: never sleep (the caller polls) */
  mov $LAPIC_TIMER_INITIAL, %eax
  mov %edi, (%rax)
2:
  sti                            /* the interrupt shadow covers hlt: no lost wake-up */
  hlt
  cli
  jmp gate_return

gate_stop:
  cli
  hlt
  jmp gate_stop

/* GATE_ROUTE_IRQ: rdi = GSI (0..47, else nothing happens). Programs that IOAPIC input's
 * redirection entry: VECTOR_DEVICE, fixed delivery to APIC 0, edge-triggered, active
 * high, unmasked. Edge, because a level-triggered line still raised at the EOI would be
 * delivered again at once and end the next sleep for nothing: the device's interrupt is
 * acknowledged at CPL 3, after the EOI (virtio_net.cc). Only the two IOAPIC pages can be
 * written here, whatever the caller passes. */
gate_route_irq:
  cmp $(2 * IOAPIC_PINS), %rdi
  jae gate_return
  mov $IOAPIC_BASE, %eax
  cmp $IOAPIC_PINS, %edi
  jb 1f
  sub $IOAPIC_PINS, %edi
  mov $IOAPIC2_BASE, %eax
1:
  lea 0x11(,%rdi,2), %ecx        /* IOREDTBL high half: the destination */
  mov %ecx, (%rax)               /* IOREGSEL */
  movl $0, 0x10(%rax)            /* IOWIN: APIC ID 0 */
  dec %ecx                       /* low half: vector and mode */
  mov %ecx, (%rax)
  movl $VECTOR_DEVICE, 0x10(%rax)
  jmp gate_return

/* GATE_FINISH_BOOT: rdi = FinishBoot (gate.h), built by boot.cc. Runs once. */
gate_finish_boot:
  cmpb $0, boot_finished(%rip)
  jne gate_return
  movb $1, boot_finished(%rip)
  mov FINISH_CR3(%rdi), %rax
  mov %rax, %cr3
  mov FINISH_KVM_SYSTEM_TIME(%rdi), %rax
  test %rax, %rax
  jz 1f
  mov $KVM_SYSTEM_TIME_MSR, %ecx
  xor %edx, %edx
  wrmsr
  mov FINISH_KVM_WALL_CLOCK(%rdi), %eax
  mov $KVM_WALL_CLOCK_MSR, %ecx
  wrmsr
1:
  mov $0xff, %al                 /* mask both 8259s: interrupts come from the LAPIC only */
  out %al, $0x21
  out %al, $0xa1
  mov FINISH_TIMER_MODE(%rdi), %eax
  mov %eax, virtio_timer_mode(%rip)
  test %eax, %eax
  jz gate_return
  mov FINISH_LVT_TIMER(%rdi), %edx
  mov $0xfee00000, %eax
  movl $0x1ff, 0xf0(%rax)        /* spurious vector 0xff, APIC enabled */
  movl $0x10000, 0x350(%rax)     /* LINT0 masked (no ExtINT from the 8259) */
  movl $0xb, 0x3e0(%rax)         /* timer divide by 1 */
  mov %edx, 0x320(%rax)          /* LVT timer: vector, mode */
  jmp gate_return

/* GATE_MAP_PCI: no argument. Installs the page directory entries cpu.cc prepared for the
 * PCI BAR window (user-accessible, uncached) and flushes the TLB. The entries live in
 * supervisor-only memory, so the caller chooses nothing. */
gate_map_pci:
  mov virtio_pci_pd_slot(%rip), %rdi
  test %rdi, %rdi
  jz gate_return
  lea virtio_pci_pdes(%rip), %rsi
  mov $VIRTIO_PCI_PDES, %ecx
1:
  mov (%rsi), %rax
  mov %rax, (%rdi)
  add $8, %rsi
  add $8, %rdi
  dec %ecx
  jnz 1b
  mov %cr3, %rax
  mov %rax, %cr3
  jmp gate_return

/* --- Interrupts: they only wake the hlt above. */
  /* A device: note it (the idle path acknowledges the device then), and stop the timer
   * armed for this sleep, which would otherwise fire while the image runs and end its
   * next sleep at once. */
  .global virtio_irq_device
virtio_irq_device:
  movb $1, virtio_device_irq(%rip)
  cmpl $TIMER_TSC_DEADLINE, virtio_timer_mode(%rip)
  jne 1f
  mov $TSC_DEADLINE_MSR, %ecx
  xor %eax, %eax
  xor %edx, %edx
  wrmsr                          /* 0 disarms the TSC-deadline timer */
  jmp virtio_irq_timer
1:
  cmpl $TIMER_ONE_SHOT, virtio_timer_mode(%rip)
  jne virtio_irq_timer
  mov $LAPIC_TIMER_INITIAL, %eax
  movl $0, (%rax)                /* 0 stops the one-shot count */
  .global virtio_irq_timer
virtio_irq_timer:
  mov $LAPIC_EOI, %eax
  movl $0, (%rax)
  /* Interrupts are enabled only in gate_idle's hlt: the sleep is over, so return from
   * the gate instead of to the hlt (which would need an iret the emulator lacks). */
  .global virtio_irq_spurious
virtio_irq_spurious:             /* no EOI for the spurious vector */
  jmp gate_return

/* --- Exceptions: vector and error code, then virtio_kernel_fault (kernel.cc) prints
 * the fault and exits. Every vector runs on IST1 (a known good stack). */
  .macro fault_stub vector, has_error
  .global virtio_fault_\vector
virtio_fault_\vector:
  .if \has_error == 0
  push $0
  .endif
  push $\vector
  jmp fault_common
  .endm

  fault_stub 0, 0
  fault_stub 1, 0
  fault_stub 2, 0
  fault_stub 3, 0
  fault_stub 4, 0
  fault_stub 5, 0
  .global virtio_fault_6
virtio_fault_6:
  cmpq $virtio_sysexit, (%rsp)   /* our sysexit on a CPU without it (AMD, long mode)? */
  jne 1f
  movb $1, return_with_iret(%rip)
  jmp return_to_user             /* rdx and rcx still hold the target */
1:
  cmpq $virtio_gate_ud2, (%rsp)  /* a gate call from CPL 3? */
  jne 2f
  testb $3, 8(%rsp)
  jz 2f
  movq $(virtio_gate_ud2 + 2), gate_user_rip(%rip)
  push %rax
  mov 32(%rsp), %rax             /* the caller's rsp (frame: rip, cs, rflags, rsp, ss) */
  mov %rax, gate_user_rsp(%rip)
  pop %rax
  lea virtio_kernel_stack_top(%rip), %rsp
  jmp gate_dispatch
2:
  push $0
  push $6
  jmp fault_common
  fault_stub 7, 0
  fault_stub 8, 1
  fault_stub 9, 0
  fault_stub 10, 1
  fault_stub 11, 1
  fault_stub 12, 1
  fault_stub 13, 1
  fault_stub 14, 1
  fault_stub 15, 0
  fault_stub 16, 0
  fault_stub 17, 1
  fault_stub 18, 0
  fault_stub 19, 0
  fault_stub 20, 0
  fault_stub 21, 1
  fault_stub 22, 0
  fault_stub 23, 0
  fault_stub 24, 0
  fault_stub 25, 0
  fault_stub 26, 0
  fault_stub 27, 0
  fault_stub 28, 0
  fault_stub 29, 1
  fault_stub 30, 1
  fault_stub 31, 0

  .section .rodata.virtio_fault_stubs, "a", @progbits
  .p2align 3
  .global virtio_fault_stubs
virtio_fault_stubs:
  .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  .quad virtio_fault_\vector
  .endr

  .section .ktext.entry, "ax", @progbits
fault_common:
  push %r15
  push %r14
  push %r13
  push %r12
  push %r11
  push %r10
  push %r9
  push %r8
  push %rbp
  push %rdi
  push %rsi
  push %rdx
  push %rcx
  push %rbx
  push %rax
  mov %rsp, %rdi                 /* FaultFrame (gate.h) */
  and $-16, %rsp
  call virtio_kernel_fault       /* does not return */
  ud2

/* --- The CPL 3 side of the gate: virtio_gate_call(number, argument). */
  .section .text.virtio_gate_call, "ax", @progbits
  .global virtio_gate_call
virtio_gate_call:
  mov %rdi, %rax
  mov %rsi, %rdi
  .global virtio_gate_ud2
virtio_gate_ud2:
  ud2
  ret

/* --- Runs `fn` on a new stack (boot.cc switches from the boot stack to the big one). */
  .section .text.virtio_call_on_stack, "ax", @progbits
  .global virtio_call_on_stack
virtio_call_on_stack:            /* rdi = fn, rsi = stack top */
  mov %rsi, %rsp
  xor %ebp, %ebp                 /* ends the frame-pointer chain for backtraces */
  call *%rdi
  ud2

/* --- Data the ring-0 path touches. */
  .section .kdata, "aw", @progbits
  .p2align 12
bootstrap_pd:                    /* 512 x 2 MiB: the first GiB, present, writable, user */
  .set page, 0
  .rept 512
  .quad (page << 21) | 0x87
  .set page, page + 1
  .endr

  .p2align 3
  .global virtio_gdt
virtio_gdt:
  .quad 0
  .quad 0x00af9a000000ffff       /* 0x08 kernel code, 64-bit */
  .quad 0x00cf92000000ffff       /* 0x10 kernel data */
  .quad 0                        /* 0x18, 0x20: unused (sysexit wants user code at */
  .quad 0                        /*   SYSENTER_CS + 32 and user data right after it) */
  .quad 0x00affa000000ffff       /* 0x28 user code, 64-bit */
  .quad 0x00cff2000000ffff       /* 0x30 user data */
  .quad 0x0000890000000000 + TSS_LIMIT  /* 0x38 TSS: base filled in by start64 */
  .quad 0
virtio_gdt_end:
  .p2align 3
  .word 0
virtio_gdt_descriptor:
  .word virtio_gdt_end - virtio_gdt - 1
  .quad virtio_gdt

  .p2align 3
  .word 0
  .global virtio_idt_descriptor
virtio_idt_descriptor:
  .word 256 * 16 - 1
  .quad virtio_idt

  .section .kbss, "aw", @nobits
  .p2align 12
bootstrap_pml4: .skip 4096
bootstrap_pdpt: .skip 4096
  .global virtio_timer_mode
virtio_timer_mode: .skip 4
gate_user_rip: .skip 8
gate_user_rsp: .skip 8
boot_finished: .skip 1
return_with_iret: .skip 1
  .p2align 4
  .skip 8192                     /* the gate's stack (and TSS.RSP0) */
  .global virtio_kernel_stack_top
virtio_kernel_stack_top:

  /* Read by the application's clock (monotonic time counts from this TSC value). */
  .section .bss.virtio_boot, "aw", @nobits
  .p2align 3
  .global virtio_boot_tsc, virtio_start_info
virtio_boot_tsc: .skip 8
virtio_start_info: .skip 8
  .global virtio_device_irq
virtio_device_irq: .skip 1       /* written by virtio_irq_device, read at CPL 3 */

  .section .bss.virtio_boot_stack, "aw", @nobits
  .p2align 4
  .skip 16384                    /* boot.cc's stack until it moves to the top of RAM */
  .global virtio_boot_stack_top
virtio_boot_stack_top:

  .section .note.GNU-stack, "", @progbits
