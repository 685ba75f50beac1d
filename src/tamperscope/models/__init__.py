"""Model families, one folder each; importing this package registers the built-in models
and their shipped weights."""

from tamperscope.models import dmac as dmac  # noqa: F401
from tamperscope.models import doagan as doagan  # noqa: F401
from tamperscope.models import hybrids as hybrids  # noqa: F401
from tamperscope.models import keypoint as keypoint  # noqa: F401
from tamperscope.models import mvss as mvss  # noqa: F401
from tamperscope.models import noise as noise  # noqa: F401
