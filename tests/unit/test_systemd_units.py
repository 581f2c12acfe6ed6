import stat
import sys
from pathlib import Path

from tinykube.supervisor import Component
from tinykube.systemd_units import SystemdSupervisor, quote, render_unit, unit_name


def test_words_with_spaces_percent_and_dollar_survive_systemd_parsing():
    assert quote("--flag=a/b:c") == "--flag=a/b:c"
    assert quote("50%") == "50%%"
    assert quote("sh -c 'echo $HOME'") == "\"sh -c 'echo $$HOME'\""
    assert quote('say "hi"') == '"say \\"hi\\""'


def test_unit_runs_the_component_command_line_restarts_and_logs_to_its_file():
    spec = Component("node1", "kubelet", ("/opt/tinykube/bin/tinykube", "kubelet", "--node-ip=192.168.56.11"),
                     env=(("A", "b c"),))
    text = render_unit(spec, Path("/var/lib/tinykube/tk/logs/node1/kubelet.log"), "tk")
    assert "ExecStart=/opt/tinykube/bin/tinykube kubelet --node-ip=192.168.56.11\n" in text
    assert 'Environment="A=b c"' in text
    assert "Environment=MALLOC_ARENA_MAX=2" in text
    assert "Restart=always" in text
    assert "StandardOutput=append:/var/lib/tinykube/tk/logs/node1/kubelet.log" in text
    assert "KillMode" not in text
    assert "WantedBy=multi-user.target" in text


def test_runtime_unit_leaves_containers_running_when_it_stops():
    text = render_unit(Component("node1", "runtime", ("tinykube", "runtime")), Path("/l"), "tk")
    assert "KillMode=process" in text


def _fake_systemctl(tmp_path: Path) -> tuple[str, Path]:
    calls = tmp_path / "calls"
    script = tmp_path / "systemctl"
    record = f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')"
    script.write_text(f"#!{sys.executable}\nimport sys\n{record}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), calls


def test_supervisor_starts_only_this_machines_units_and_is_idempotent(tmp_path):
    systemctl, calls = _fake_systemctl(tmp_path)
    sup = SystemdSupervisor("node2", "tk", tmp_path / "logs", tmp_path / "state.json", unit_dir=tmp_path / "units",
                            systemctl=systemctl)
    mine = Component("node2", "store", ("tinykube", "store", "--name=node2"))
    sup.start(Component("node1", "store", ("tinykube", "store", "--name=node1")))
    sup.start(Component("infra", "haproxy", ("haproxy", "-db")))
    sup.start(mine)
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == [unit_name(Component("x", "haproxy", ())),
                                                                      unit_name(mine)]
    assert "--name=node2" in (tmp_path / "units" / unit_name(mine)).read_text()
    assert (tmp_path / "logs" / "node2").is_dir()
    first = calls.read_text().splitlines()
    assert first[-3:] == ["daemon-reload", "enable tinykube-store.service", "restart tinykube-store.service"]

    sup.start(mine)  # the same command line again: only made sure it runs
    assert calls.read_text().splitlines()[len(first):] == ["enable tinykube-store.service",
                                                           "start tinykube-store.service"]
    sup.start(Component("node2", "store", ("tinykube", "store", "--name=node2", "--initial-cluster-state=existing")))
    assert calls.read_text().splitlines()[-1] == "restart tinykube-store.service"
