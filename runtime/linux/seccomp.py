"""A RuntimeDefault-style seccomp filter, written as a classic BPF program and loaded with seccomp(2).

The policy is a deny-list (EPERM) of the system calls Docker's default profile refuses to an
unprivileged container: those that reach the kernel as a whole (modules, kexec, reboot, mounts,
namespaces, keyrings, bpf, perf, ptrace, clocks). ``clone`` is allowed unless it asks for a new
namespace, and ``clone3`` answers ENOSYS so libc falls back to ``clone`` where the flags are visible.
Only x86_64 is accepted: any other audit arch (e.g. i386 via int 0x80) kills the process.
"""

from __future__ import annotations

import ctypes
import struct

from runtime.linux import syscalls

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1

EPERM = 1
ENOSYS = 38

# BPF opcodes (linux/filter.h)
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06

# seccomp_data layout: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
OFFSET_NR = 0
OFFSET_ARCH = 4
OFFSET_ARG0_LOW = 16

NAMESPACE_CLONE_FLAGS = (syscalls.CLONE_NEWNS | syscalls.CLONE_NEWCGROUP | syscalls.CLONE_NEWUTS
                         | syscalls.CLONE_NEWIPC | syscalls.CLONE_NEWUSER | syscalls.CLONE_NEWPID
                         | syscalls.CLONE_NEWNET)

SYSCALL_CLONE = 56
SYSCALL_CLONE3 = 435

# x86_64 numbers of the denied calls.
DENIED = {
    "ptrace": 101, "syslog": 103, "uselib": 134, "sysfs": 139, "vhangup": 153, "modify_ldt": 154,
    "pivot_root": 155, "_sysctl": 156, "adjtimex": 159, "acct": 163, "settimeofday": 164, "mount": 165,
    "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173,
    "create_module": 174, "init_module": 175, "delete_module": 176, "get_kernel_syms": 177, "query_module": 178,
    "quotactl": 179, "nfsservctl": 180, "lookup_dcookie": 212, "clock_settime": 227, "mbind": 237,
    "set_mempolicy": 238, "get_mempolicy": 239, "kexec_load": 246, "add_key": 248, "request_key": 249,
    "keyctl": 250, "migrate_pages": 256, "unshare": 272, "move_pages": 279, "perf_event_open": 298,
    "fanotify_init": 300, "name_to_handle_at": 303, "open_by_handle_at": 304, "clock_adjtime": 305,
    "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
}

Instruction = tuple[int, int, int, int]  # code, jt, jf, k


def _stmt(code: int, k: int) -> Instruction:
    return (code, 0, 0, k)


def _jump(code: int, k: int, jt: int, jf: int) -> Instruction:
    return (code, jt, jf, k)


def program(denied: dict[str, int] | None = None, errno: int = EPERM) -> list[Instruction]:
    """The filter as (code, jt, jf, k) instructions; pure, so tests can check it without loading it."""
    numbers = sorted(set((DENIED if denied is None else denied).values()))
    deny = SECCOMP_RET_ERRNO | errno
    prog: list[Instruction] = [
        _stmt(BPF_LD_W_ABS, OFFSET_ARCH),
        _jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        _stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        _stmt(BPF_LD_W_ABS, OFFSET_NR),
        # x32 ABI numbers alias the x86_64 ones with a high bit: refuse them all.
        _jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),
        _stmt(BPF_RET_K, deny),
        _jump(BPF_JEQ_K, SYSCALL_CLONE3, 0, 1),
        _stmt(BPF_RET_K, SECCOMP_RET_ERRNO | ENOSYS),
        _jump(BPF_JEQ_K, SYSCALL_CLONE, 0, 4),
        _stmt(BPF_LD_W_ABS, OFFSET_ARG0_LOW),
        _jump(BPF_JSET_K, NAMESPACE_CLONE_FLAGS, 0, 1),
        _stmt(BPF_RET_K, deny),
        _stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
    ]
    for number in numbers:
        prog.append(_jump(BPF_JEQ_K, number, 0, 1))
        prog.append(_stmt(BPF_RET_K, deny))
    prog.append(_stmt(BPF_RET_K, SECCOMP_RET_ALLOW))
    return prog


def evaluate(prog: list[Instruction], nr: int, arch: int = AUDIT_ARCH_X86_64, args: tuple[int, ...] = ()) -> int:
    """Run the program on one seccomp_data, as the kernel would; the unit tests' oracle."""
    words = struct.pack("<iIQ6Q", nr, arch, 0, *(list(args) + [0] * 6)[:6])
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = prog[pc]
        if code == BPF_LD_W_ABS:
            acc = struct.unpack_from("<I", words, k)[0]
            pc += 1
        elif code == BPF_RET_K:
            return k
        else:
            taken = {BPF_JEQ_K: acc == k, BPF_JGE_K: acc >= k, BPF_JSET_K: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)


class _SockFilter(ctypes.Structure):
    _fields_ = (("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32))


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter)))


def load(prog: list[Instruction]) -> None:
    """Install the filter on the calling thread; needs no_new_privs or CAP_SYS_ADMIN."""
    filters = (_SockFilter * len(prog))(*(_SockFilter(c, jt, jf, k) for c, jt, jf, k in prog))
    fprog = _SockFprog(len(prog), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    syscalls.syscall(syscalls.SYS_SECCOMP, ctypes.c_uint(SECCOMP_SET_MODE_FILTER), ctypes.c_uint(0),
                     ctypes.byref(fprog), what="seccomp(SET_MODE_FILTER)")
