"""Where the project's shared material lives: ``../shared`` beside the checkout (as in CI's clone)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
K8S_EXAMPLES = SHARED / "k8s-examples"
