"""``python -m silicio.cli``, same as the ``silicio`` command."""

from . import main

main()
