"""`python -m extproc` is the `llm-gateway` command."""

from .cli import main

raise SystemExit(main())
