"""`python -m extproc` is the `llm-gateway` command."""

from extproc.cli import main

raise SystemExit(main())
