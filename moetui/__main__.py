"""`python -m moetui` is the `moetui` command."""

from moetui.cli import main

raise SystemExit(main())
