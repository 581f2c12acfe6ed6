"""The RuntimeDefault seccomp program, run through a BPF interpreter instead of the kernel."""

from __future__ import annotations

import pytest

from runtime.linux import seccomp
from runtime.linux.syscalls import CLONE_NEWNET, CLONE_NEWUSER

ALLOW = seccomp.SECCOMP_RET_ALLOW
EPERM = seccomp.SECCOMP_RET_ERRNO | seccomp.EPERM

SYSCALLS = {"read": 0, "write": 1, "openat": 257, "execve": 59, "mkdir": 83, "setuid": 105, "capset": 126}


@pytest.fixture(scope="module")
def prog():
    return seccomp.program()


@pytest.mark.parametrize("name", ["mount", "umount2", "unshare", "setns", "kexec_load", "init_module",
                                  "finit_module", "delete_module", "reboot", "swapon", "swapoff", "pivot_root",
                                  "keyctl", "add_key", "bpf", "perf_event_open", "ptrace", "open_by_handle_at"])
def test_dangerous_calls_get_eperm(prog, name):
    assert seccomp.evaluate(prog, seccomp.DENIED[name]) == EPERM


@pytest.mark.parametrize("name", sorted(SYSCALLS))
def test_ordinary_calls_pass(prog, name):
    assert seccomp.evaluate(prog, SYSCALLS[name]) == ALLOW


def test_clone_without_namespace_flags_passes_and_with_them_fails(prog):
    fork_like = 0x01200011  # CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD
    assert seccomp.evaluate(prog, seccomp.SYSCALL_CLONE, args=(fork_like,)) == ALLOW
    assert seccomp.evaluate(prog, seccomp.SYSCALL_CLONE, args=(fork_like | CLONE_NEWNET,)) == EPERM
    assert seccomp.evaluate(prog, seccomp.SYSCALL_CLONE, args=(CLONE_NEWUSER,)) == EPERM


def test_clone3_answers_enosys_so_libc_falls_back(prog):
    assert seccomp.evaluate(prog, seccomp.SYSCALL_CLONE3) == seccomp.SECCOMP_RET_ERRNO | seccomp.ENOSYS


def test_foreign_arch_is_killed(prog):
    i386 = 0x40000003
    assert seccomp.evaluate(prog, SYSCALLS["read"], arch=i386) == seccomp.SECCOMP_RET_KILL_PROCESS


def test_x32_numbers_are_refused(prog):
    assert seccomp.evaluate(prog, seccomp.X32_SYSCALL_BIT | SYSCALLS["read"]) == EPERM


def test_jumps_stay_inside_the_program(prog):
    assert len(prog) < 4096
    for pc, (code, jt, jf, _) in enumerate(prog):
        if code in (seccomp.BPF_JEQ_K, seccomp.BPF_JGE_K, seccomp.BPF_JSET_K):
            assert pc + 1 + max(jt, jf) < len(prog)
    assert prog[-1] == (seccomp.BPF_RET_K, 0, 0, ALLOW)


def test_custom_deny_list_and_errno():
    prog = seccomp.program({"mkdir": 83}, errno=13)
    assert seccomp.evaluate(prog, 83) == seccomp.SECCOMP_RET_ERRNO | 13
    assert seccomp.evaluate(prog, seccomp.DENIED["mount"]) == ALLOW
