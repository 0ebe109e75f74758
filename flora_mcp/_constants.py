"""Facts more than one part of the package needs, each written once."""

from typing import Final

DEFAULT_BASE_URL: Final = "https://app.flora.ai/api/v1"
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PROJECT_NAME: Final = "Quick generations"
# FLORA's own batch size: the most runs its hosted server starts in one call, so ours too.
BATCH_LIMIT: Final = 20
