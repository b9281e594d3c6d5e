"""Prompts as versioned resources: templates with numbered versions and labels, per tenant and global.

- `model`: what a prompt, a version and a head (latest version and labels) are.
- `template`: rendering in Jinja2's sandbox, strict variables, bounded size and work.
- `files`: the YAML prompt files users keep in their repository, validated.
- `diff`: what changed between two versions.
- `store`, `sqlite`, `redis`, `postgres`: where versions and labels live (one protocol).
- `resolver`: a request's `prompt` field to the messages and defaults it is served with.
- `api`: the `/v1/gateway/prompts` API as plain functions.
- `cli` and `client`: `llm-gateway prompts`, a client of that API.

See docs/prompts-and-evals.md and docs/adr/0009-where-prompts-are-stored.md.
"""
