"""Control groups, v1 and v2.

This machine's hierarchy is cgroup v1, so v2 is tested against a prepared
directory tree in tmp_path standing in for the cgroup2 file system: the
files the kernel would offer, which the code writes (limits, delegation)
and reads (events, peak). What a real v2 kernel does with those values
(enforce them) is not tested here. v1 is tested on the machine's own
hierarchy where it is writable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.launch.linux import cgroups
from grader.launch.linux.cgroups import Cgroup, Hierarchy, find_hierarchy

MIB = 2**20

V1_MOUNTS = """\
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
"""
V1_OWN = "8:pids:/\n4:memory:/grader\n0::/\n"
V2_MOUNTS = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
V2_OWN = "0::/user.slice/grader.scope\n"


def fake_v2(tmp_path: Path, *, enabled: str = "", controllers: str = "cpu io memory pids") -> Path:
    """The grader's own group in a cgroup2 tree: what the kernel shows before anything is made."""
    own = tmp_path / "user.slice" / "grader.scope"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text(controllers + "\n")
    (own / "cgroup.subtree_control").write_text(enabled + "\n")
    return own


def kernel_files(group: Path, *, peak: bool = True) -> None:
    """What the kernel puts in a new v2 group (mkdir on a real cgroup2 file system makes these)."""
    (group / "cgroup.controllers").write_text("memory pids\n")
    (group / "cgroup.subtree_control").write_text("\n")
    (group / "memory.swap.max").write_text("max\n")
    if peak:
        (group / "memory.peak").write_text("0\n")


def forget(group: Path) -> None:
    """Delete the files a real cgroupfs would drop by itself at rmdir."""
    for path in group.iterdir():
        if path.is_file():
            path.unlink()


def test_v1_is_found_where_its_memory_and_pids_controllers_are_mounted():
    found = find_hierarchy(V1_MOUNTS, V1_OWN)
    assert found.version == 1
    assert found.dirs == {"memory": Path("/sys/fs/cgroup/memory/grader"), "pids": Path("/sys/fs/cgroup/pids")}


def test_v2_is_found_on_a_unified_only_machine():
    found = find_hierarchy(V2_MOUNTS, V2_OWN)
    assert found == Hierarchy(2, {"unified": Path("/sys/fs/cgroup/user.slice/grader.scope")})


def test_v1_is_preferred_on_a_hybrid_machine_where_it_has_both_controllers():
    assert find_hierarchy(V1_MOUNTS + V2_MOUNTS, V1_OWN + V2_OWN).version == 1


def test_neither_says_why():
    found = find_hierarchy("proc /proc proc rw 0 0\n", "0::/\n")
    assert found.version == 0
    assert "no cgroup v1 memory or pids controller and no cgroup v2" in found.problem


def test_a_v2_group_gets_its_limits_and_the_controllers_delegated(tmp_path):
    own = fake_v2(tmp_path)
    group, problem = Cgroup.create("streamgrade-1", 512 * MIB, 64, parent=Hierarchy(2, {"unified": own}))
    assert problem == ""
    assert group is not None and group.version == 2
    folder = own / "streamgrade-1"
    assert (own / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (folder / "memory.max").read_text() == str(512 * MIB)
    assert (folder / "pids.max").read_text() == "64"
    assert group.join_command_value() == [str(folder / "cgroup.procs")]


def test_a_v2_submission_group_holds_a_group_per_server_with_swap_off(tmp_path):
    own = fake_v2(tmp_path, enabled="memory pids")
    submission, _ = Cgroup.create("streamgrade-7", 256 * MIB, 32, parent=Hierarchy(2, {"unified": own}))
    assert submission is not None
    kernel_files(own / "streamgrade-7")
    server, problem = Cgroup.create("app-8000", 256 * MIB, 32, parent=submission)
    assert problem == "" and server is not None
    assert (own / "cgroup.subtree_control").read_text() == "memory pids\n"  # already enabled: left alone
    assert (own / "streamgrade-7" / "cgroup.subtree_control").read_text() == "+memory +pids"
    submission.set_limits()  # again, now that the group has the kernel's memory.swap.max
    assert (own / "streamgrade-7" / "memory.swap.max").read_text() == "0"
    assert (own / "streamgrade-7" / "app-8000" / "memory.max").read_text() == str(256 * MIB)


def test_v2_events_and_peak_are_read_from_their_own_files(tmp_path):
    own = fake_v2(tmp_path)
    group, _ = Cgroup.create("streamgrade-2", 256 * MIB, 32, parent=Hierarchy(2, {"unified": own}))
    folder = own / "streamgrade-2"
    assert group.oom_kills() == 0 and group.process_limit_hits() == 0 and group.peak_memory() == 0
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n")
    (folder / "pids.events").write_text("max 5\n")
    (folder / "memory.peak").write_text(f"{300 * MIB}\n")
    (folder / "cgroup.procs").write_text("101\n102\n")
    assert group.oom_kills() == 1
    assert group.process_limit_hits() == 5
    assert group.peak_memory() == 300 * MIB
    assert group.pids() == {101, 102}


def test_v2_without_memory_peak_reports_no_peak(tmp_path):
    own = fake_v2(tmp_path)
    group, _ = Cgroup.create("streamgrade-3", 256 * MIB, 32, parent=Hierarchy(2, {"unified": own}))
    assert group.peak_memory() == 0  # kernels before 5.19 have no memory.peak


def test_v2_kills_the_whole_group_through_cgroup_kill_where_the_kernel_has_it(tmp_path):
    own = fake_v2(tmp_path)
    group, _ = Cgroup.create("streamgrade-4", 256 * MIB, 32, parent=Hierarchy(2, {"unified": own}))
    assert not group.kill_all()  # no cgroup.kill file: kernels before 5.14
    (own / "streamgrade-4" / "cgroup.kill").write_text("")
    assert group.kill_all()
    assert (own / "streamgrade-4" / "cgroup.kill").read_text() == "1"


def test_v2_without_the_controllers_says_which_are_missing(tmp_path):
    own = fake_v2(tmp_path, controllers="cpu io")
    group, problem = Cgroup.create("streamgrade-5", 256 * MIB, 32, parent=Hierarchy(2, {"unified": own}))
    assert group is None
    assert "memory and pids controller is not available" in problem
    assert not (own / "streamgrade-5").exists()


def test_v2_where_the_graders_own_group_refuses_delegation_says_so(tmp_path):
    own = fake_v2(tmp_path)
    (own / "cgroup.subtree_control").unlink()
    (own / "cgroup.subtree_control").mkdir()  # writing it fails, as EBUSY does on a group holding processes
    group, problem = Cgroup.create("streamgrade-6", 256 * MIB, 32, parent=Hierarchy(2, {"unified": own}))
    assert group is None
    assert "can't enable memory and pids for groups below" in problem


def test_an_ordinary_user_refused_a_group_is_told_what_would_give_one(tmp_path, monkeypatch):
    memory, pids = tmp_path / "memory", tmp_path / "pids"
    memory.mkdir()
    pids.mkdir()

    def refused(self, *_, **__):  # what the kernel says to an ordinary user in a hierarchy of root's
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refused)
    monkeypatch.setattr(cgroups.os, "geteuid", lambda: 1000)
    group, problem = Cgroup.create(
        "streamgrade-7", 256 * MIB, 32, parent=Hierarchy(1, {"memory": memory, "pids": pids})
    )
    assert group is None
    assert problem == (
        "cgroups can't be made here (Permission denied; the grader runs as an ordinary user, "
        "and no cgroup v2 group is delegated to it)"
    )


def test_a_stale_submission_group_and_its_server_groups_are_removed(tmp_path):
    gone = 2**22 + 1  # above pid_max's default: no such process
    while Path(f"/proc/{gone}").exists():
        gone += 1
    stale = tmp_path / f"streamgrade-{gone}"
    (stale / "app-8000").mkdir(parents=True)
    alive = tmp_path / f"streamgrade-{os.getpid()}"
    alive.mkdir()
    cgroups.remove_stale(tmp_path)
    assert not stale.exists()
    assert alive.exists()


# -- the machine's own hierarchy ----------------------------------------------------------------

machine = find_hierarchy()
v1_writable = pytest.mark.skipif(
    machine.version != 1 or not all(os.access(folder, os.W_OK) for folder in machine.dirs.values()),
    reason="needs a writable cgroup v1 memory and pids hierarchy",
)


@v1_writable
def test_on_v1_a_submission_group_holds_its_servers_groups_with_the_limits():
    name = f"streamgrade-{os.getpid()}-test"
    submission, problem = Cgroup.create(name, 300 * MIB, 40)
    assert submission is not None, problem
    try:
        server, problem = Cgroup.create("app-1", 300 * MIB, 40, parent=submission)
        assert server is not None, problem
        assert (machine.dirs["memory"] / name / "app-1" / "memory.limit_in_bytes").read_text() == f"{300 * MIB}\n"
        assert (machine.dirs["pids"] / name / "app-1" / "pids.max").read_text() == "40\n"
        assert (machine.dirs["pids"] / name / "pids.max").read_text() == "40\n"
        assert server.oom_kills() == 0 and server.process_limit_hits() == 0
        server.remove()
    finally:
        submission.remove()
    assert not (machine.dirs["memory"] / name).exists()
