"""Model architectures; importing this package registers the built-in models."""

from tamperscope.models import dmac as dmac  # noqa: F401
from tamperscope.models import doagan as doagan  # noqa: F401
from tamperscope.models import keypoint as keypoint  # noqa: F401
from tamperscope.models import keypoint_doagan as keypoint_doagan  # noqa: F401
