"""``tinykube store`` refuses flag values it cannot run with: one usage line, no traceback."""

from __future__ import annotations

import pytest

from store.main import main


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_snapshot_count_below_one_is_a_usage_error(value, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main([f"--snapshot-count={value}", f"--data-dir={tmp_path / 'm'}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"--snapshot-count must be positive, got {value}" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()  # refused before anything was created
