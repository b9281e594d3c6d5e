"""What the tests share: real servers on free ports (Redis, PostgreSQL, an OTLP collector, a Docker
engine), SDK clients closed after each test, the fail-open lane and Anthropic's error types."""
