"""Container lifecycle hooks (postStart, preStop): exec through CRI, httpGet, or sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from kubelet.probes import ExecSync, Result, http_get


class HookError(Exception):
    """The hook failed; the message is what the FailedPostStartHook/FailedPreStopHook event says."""


async def run_hook(handler: Mapping[str, Any], container: Mapping[str, Any], *, container_id: str, pod_ip: str,
                   exec_sync: ExecSync, budget: float) -> float:
    """Run ``handler`` within ``budget`` seconds; return how long it took (preStop's time comes off the grace)."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(budget):
            if "exec" in handler:
                command = [str(a) for a in handler["exec"].get("command") or []]
                code, output = await exec_sync(container_id, command, max(1, int(budget)))
                if code != 0:
                    raise HookError(f"Exec lifecycle hook ({command}) for Container \"{container.get('name')}\" "
                                    f"failed - error: command '{' '.join(command)}' exited with {code}: "
                                    f"{output.decode('utf-8', 'replace')}")
            elif "httpGet" in handler:
                outcome = await http_get({"httpGet": handler["httpGet"]}, container, pod_ip, budget)
                if outcome.result is not Result.SUCCESS:
                    raise HookError(f"HTTP lifecycle hook ({handler['httpGet'].get('path', '/')}) for Container "
                                    f"\"{container.get('name')}\" failed - error: {outcome.output}")
            elif "sleep" in handler:
                await asyncio.sleep(float(handler["sleep"].get("seconds", 0)))
    except TimeoutError as err:
        raise HookError(f"lifecycle hook for Container \"{container.get('name')}\" did not finish within "
                        f"{budget:.0f}s") from err
    return time.monotonic() - started
