import os
import signal
import subprocess
import sys
import textwrap


def test_sigterm_sets_stop_and_main_returns_its_code(tmp_path):
    script = tmp_path / "srv.py"
    script.write_text(textwrap.dedent("""
        import asyncio, sys
        from process.shutdown import serve

        async def main(stop):
            print("ready", flush=True)
            await stop.wait()
            print("graceful", flush=True)
            return 3

        sys.exit(serve(main))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert "graceful" in out
    assert proc.returncode == 3
