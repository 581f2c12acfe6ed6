import io
import re

from process import log


def test_lines_are_klog_shaped_with_key_values():
    out = io.StringIO()
    log.configure("store", verbosity=0, stream=out)
    log.get_logger("raft").info("became leader", term=3, id="n1", note="two words")
    line = out.getvalue().strip()
    assert re.fullmatch(r'I\d{4} \d\d:\d\d:\d\d\.\d{6} store raft\] became leader term=3 id=n1 note="two words"',
                        line), line


def test_verbosity_gates_v_messages():
    out = io.StringIO()
    log.configure("kubelet", verbosity=2, stream=out)
    logger = log.get_logger("pods")
    logger.v(2, "shown")
    logger.v(3, "hidden")
    assert "shown" in out.getvalue()
    assert "hidden" not in out.getvalue()
    assert logger.enabled(2) and not logger.enabled(3)


def test_errors_and_warnings_carry_their_letters():
    out = io.StringIO()
    log.configure("proxy", stream=out)
    logger = log.get_logger("sync")
    logger.warning("slow")
    logger.error("failed", rule="x")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("W") and lines[1].startswith("E")
    assert lines[1].endswith("failed rule=x")
