"""`python -m extproc` is the `llm-gateway` command."""

from extproc.ops.cli import main

raise SystemExit(main())
