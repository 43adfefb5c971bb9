"""How many cores the service counts as its own, and the worker count it chooses from them."""

import pytest

from qa_service import config
from qa_service.config import Settings, _cgroup_cpu_quota


@pytest.mark.parametrize(("files", "quota"), [
    ({"cpu.max": "150000 100000\n"}, 1.5),  # cgroup v2, docker --cpus 1.5
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),  # cgroup v1
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_the_cgroup_cpu_quota_is_read_from_v2_or_v1(tmp_path, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert _cgroup_cpu_quota(tmp_path, tmp_path / "no-membership-file") == quota


def test_a_quota_on_the_process_own_cgroup_or_above_it_counts(tmp_path):
    """systemd's CPUQuota= or a container sharing the host's cgroup namespace: the limit is on
    the process's own cgroup, not at the top; the smallest on the way up wins."""
    membership = tmp_path / "cgroup"
    membership.write_text("0::/system.slice/qa.service\n")
    root = tmp_path / "fs"
    for folder, limit in (("", "max 100000"), ("system.slice", "300000 100000"), ("system.slice/qa.service", "150000 100000")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(limit + "\n")
    assert _cgroup_cpu_quota(root, membership) == 1.5
    (root / "system.slice" / "cpu.max").write_text("100000 100000\n")
    assert _cgroup_cpu_quota(root, membership) == 1.0
    membership.write_text("12:cpu,cpuacct:/docker/abc\n")  # cgroup v1
    (root / "cpu" / "docker" / "abc").mkdir(parents=True)
    (root / "cpu" / "docker" / "abc" / "cpu.cfs_quota_us").write_text("250000\n")
    (root / "cpu" / "docker" / "abc" / "cpu.cfs_period_us").write_text("100000\n")
    assert _cgroup_cpu_quota(root, membership) == 2.5


def test_workers_follow_the_usable_cores_up_to_eight(monkeypatch):
    monkeypatch.setattr(config.os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(config, "_cgroup_cpu_quota", lambda: 1.5)  # a container limited to 1.5 CPUs
    assert config.usable_cores() == 2 and Settings().workers == 3
    monkeypatch.setattr(config, "_cgroup_cpu_quota", lambda: None)
    assert config.usable_cores() == 16 and Settings().workers == 8
    assert Settings.from_env({"QA_WORKERS": "5"}).workers == 5


@pytest.mark.parametrize(("variables", "message"), [
    ({"QA_LANGUAGE": "klingon"}, "QA_LANGUAGE='klingon' is not supported; choose one of nl, en"),
    ({"QA_WORKERS": "0"}, "QA_WORKERS=0 must be at least 1"),
    ({"QA_THREADS": "-2"}, "QA_THREADS=-2 must be at least 1"),
    ({"QA_MAX_UPLOAD_MB": "0"}, "QA_MAX_UPLOAD_MB=0 must be at least 1"),
])
def test_settings_that_cannot_work_are_refused_before_anything_runs(variables, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env(variables)
