"""The web playground: static files the gateway serves to try it from a browser.

- `files`: the static folder read once at start-up, and answers to GET requests for it,
  with a strict Content-Security-Policy and every path-traversal form refused.
- `static/`: index.html, playground.css and playground.js (no build step, no CDN).
"""
